// Edge cases of the engine core found by (or written next to) the engine fuzz test: each runs a stressed engine
// against a roomy synchronous one and checks that nothing leaks, hangs or differs.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import type {EngineConfig} from '../src/engine/config.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {compareRuns, failNativeStepWhen, fuzzEngineConfig, runWorkload} from './support/engine-fuzz-run.js'
import type {FuzzRequest} from './support/engine-fuzz-workload.js'

const ROOMY: Partial<EngineConfig> = {hostOverlap: 'none', numBlocks: 4096, maxNumBatchedTokens: 8192, enablePrefixCaching: false}

const prompt = (length: number, salt = 0) => Array.from({length}, (_, t) => 3 + ((t * 37 + salt * 101) % 500))
const request = (promptIds: number[], params: Partial<SamplingParams>, extra: Partial<FuzzRequest> = {}): FuzzRequest => ({
  prompt: promptIds,
  params: makeSamplingParams(params),
  arriveAfterStep: 0,
  abort: {kind: 'none'},
  ...extra,
})

describe('engine stress edge cases', () => {
  let modelDir: string
  before(async () => {
    modelDir = await ensureTestModel('tiny')
  })

  /** Runs the requests stressed and roomy; outputs must match and the stressed engine must end clean. */
  async function differential(requests: FuzzRequest[], stressed: Partial<EngineConfig>) {
    const blockSize = stressed.blockSize ?? 16
    const plain = requests.map((r) => ({...r, arriveAfterStep: 0, abort: {kind: 'none'} as const}))
    const reference = await runWorkload(fuzzEngineConfig(modelDir, {...ROOMY, blockSize}), plain)
    const run = await runWorkload(fuzzEngineConfig(modelDir, stressed), requests)
    return {run, ...compareRuns(requests, reference, run)}
  }

  it('beams step together when the step budget cannot hold every beam of every request', async () => {
    // Two requests of 3 beams share steps of 5 tokens: the second's beams were scheduled 2 of 3, and the beam search
    // got candidates for 2 of its 3 live beams ("3 live beams but candidates for 2").
    const beams = {temperature: 0, useBeamSearch: true, n: 2, bestOf: 3, maxTokens: 8, ignoreEos: true}
    const {rejected} = await differential([request(prompt(10), beams), request(prompt(12, 1), beams)], {maxNumBatchedTokens: 5, enableChunkedPrefill: true})
    assert.equal(rejected, 0)
  })

  it('a beam width over the step budget is refused at admission', async () => {
    const engine = await LLMEngine.create(fuzzEngineConfig(modelDir, {maxNumBatchedTokens: 2}))
    try {
      const params = makeSamplingParams({temperature: 0, useBeamSearch: true, n: 2, bestOf: 3, maxTokens: 8})
      assert.throws(() => engine.addRequest({prompt: prompt(10), params}), (error: unknown) => error instanceof InvalidRequestError && /beam width 3 exceeds --max-num-batched-tokens 2/.test(error.message))
      engine.checkKvInvariants()
    } finally {
      await engine.shutdown()
    }
  })

  it('beams re-admitted after recompute preemption finish their recompute in the same step', async () => {
    // The beam group, last in, is preempted by recompute; each beam recomputes prompt + output, and chunked by a
    // 7-token budget they reached their ends in different steps ("3 live beams but candidates for 1").
    const greedy = {temperature: 0, maxTokens: 40, ignoreEos: true}
    const beams = {temperature: 0, useBeamSearch: true, n: 2, bestOf: 3, maxTokens: 40, ignoreEos: true}
    const {run, rejected} = await differential(
      [request(prompt(30, 2), greedy), request(prompt(25, 4), greedy), request(prompt(22, 5), greedy), request(prompt(20, 1), beams)],
      {maxNumBatchedTokens: 7, enableChunkedPrefill: true, numBlocks: 38, blockSize: 4, preemptionMode: 'recompute', enablePrefixCaching: false},
    )
    assert.equal(rejected, 0)
    assert.ok(run.numPreemptions > 0, 'the pool is small enough to preempt')
  })

  it('without chunked prefill, a sequence recomputed after preemption may outgrow the step budget: it is chunked, not failed', async () => {
    // 50-token prompts fit a 64-token step; preempted after 15 tokens, a sequence must recompute 65 (it failed with a
    // 400, "the prompt needs 65 tokens in one step", after it had been accepted and had streamed tokens).
    const requests = [0, 1, 2, 3].map((i) => request(prompt(50, i), {temperature: 1, seed: 1, maxTokens: 40, ignoreEos: true}))
    const {run, rejected} = await differential(requests, {numBlocks: 14, enableChunkedPrefill: false, maxNumBatchedTokens: 64, preemptionMode: 'recompute'})
    assert.equal(rejected, 0)
    assert.ok(run.numPreemptions > 0, 'the pool is small enough to preempt')
  })

  for (const preemptionMode of ['swap', 'recompute'] as const) {
    it(`a request preempted (${preemptionMode}) that needs more than the pool less its watermark comes back once alone`, async () => {
      // 20 blocks, 2 kept free at admission. The 270-token prompt is admitted (17 + 2 <= 20) and grows to 18 blocks while
      // a small request holds 2; it is preempted. Coming back needed its blocks + the watermark (+ a block per sequence
      // to swap in): more than the pool. Swapped, it waited until the watchdog failed it; recomputed, it was refused
      // with a 400 ("the prompt needs 19 KV blocks at admission").
      const requests = [request(prompt(10, 1), {temperature: 0, maxTokens: 30, ignoreEos: true}), request(prompt(270, 2), {temperature: 0, maxTokens: 50, ignoreEos: true})]
      const {run, rejected} = await differential(requests, {numBlocks: 20, watermark: 0.1, preemptionMode, swapSpaceBytes: 1 << 20})
      assert.equal(rejected, 0)
      assert.equal(run.numPreemptions, 1)
    })
  }

  it('a step that fails while it swaps a request out fails that request too: its swapped K/V were never written', async () => {
    // The step's block moves and forward pass fail together; the group it swapped out came back later with host
    // blocks that never held its K/V, and went on to wrong tokens.
    const requests = [0, 1, 2, 3].map((i) => request(prompt(40, i), {temperature: 0, maxTokens: 60, ignoreEos: true}))
    const reference = await runWorkload(fuzzEngineConfig(modelDir, ROOMY), requests)
    const failsOnSwapOut = {when: (_batch: unknown, moves: {swapOut?: Int32Array}) => (moves.swapOut?.length ?? 0) > 0, beforeMoves: true}
    const run = await runWorkload(fuzzEngineConfig(modelDir, {numBlocks: 12, preemptionMode: 'swap', swapSpaceBytes: 1 << 20}), requests, failsOnSwapOut)
    assert.ok(run.numPreemptions > 0, 'the pool is small enough to preempt')
    const {failed} = compareRuns(requests, reference, run, true)
    assert.ok(failed > 0, 'the failed step failed its requests')
  })

  it('a request whose prompt and max_tokens fill the pool exactly runs, one at a time; one token more is refused', async () => {
    // 4 blocks of 16 tokens: each request takes all 64 slots at its longest.
    const full = {temperature: 1, seed: 5, maxTokens: 4, ignoreEos: true, logprobs: 1}
    const {run, rejected} = await differential(
      [request(prompt(60), full), request(prompt(60, 1), full), request(prompt(48, 2), {...full, maxTokens: 16})],
      {numBlocks: 4, watermark: 0, preemptionMode: 'recompute'},
    )
    assert.equal(rejected, 0)
    assert.ok(run.numSteps > 0)
    const over = await differential([request(prompt(61), full)], {numBlocks: 4, watermark: 0})
    assert.equal(over.rejected, 1)
  })

  for (const blockSize of [1, 128]) {
    it(`block size ${blockSize} under a tight pool, async scheduling, prefix caching and aborts`, async () => {
      const shared = prompt(70, 9)
      const requests = Array.from({length: 8}, (_, i) =>
        request(i % 2 === 0 ? [...shared, ...prompt(5 + i, i)] : prompt(20 + 9 * i, i), {temperature: 0.8, seed: i, maxTokens: 30, ignoreEos: true, n: i % 3 === 0 ? 2 : 1}, {
          arriveAfterStep: i % 4 === 3 ? 3 : 0,
          abort: i === 5 ? {kind: 'atStep', step: 4} : {kind: 'none'},
        }),
      )
      const numBlocks = blockSize === 1 ? 260 : 3
      const {rejected} = await differential(requests, {blockSize, numBlocks, maxModelLen: 256, maxNumBatchedTokens: 64, enablePrefixCaching: true})
      assert.equal(rejected, 0)
    })
  }

  it('max_num_seqs 1: requests run one by one, aborted ones in the middle included', async () => {
    const requests = Array.from({length: 5}, (_, i) =>
      request(prompt(10 + 7 * i, i), {temperature: 0.9, seed: 40 + i, maxTokens: 12, ignoreEos: true}, {abort: i === 2 ? {kind: 'afterOutputs', outputs: 3} : i === 3 ? {kind: 'before'} : {kind: 'none'}}),
    )
    const {aborted, rejected} = await differential(requests, {maxNumSeqs: 1})
    assert.equal(rejected, 0)
    assert.equal(aborted, 2)
  })

  it('n = 8 in a pool that holds two whole sequences: runs when its shared prompt makes it fit, refused when it cannot', async () => {
    // 40 prompt tokens + 8 new ones: 3 blocks alone; 8 samples share the prompt blocks, each with its own tail.
    const eight = {temperature: 1, seed: 11, n: 8, maxTokens: 8, ignoreEos: true}
    for (const preemptionMode of ['recompute', 'swap'] as const) {
      const {run, rejected} = await differential([request(prompt(40), eight), request(prompt(30, 1), {...eight, n: 1, maxTokens: 20})], {numBlocks: 18, preemptionMode})
      assert.equal(rejected, 0, preemptionMode)
      assert.ok(run.numSteps > 0)
    }
    const refused = await differential([request(prompt(40), eight)], {numBlocks: 6})
    assert.equal(refused.rejected, 1)
  })

  it('swap preemption without swap space falls back to recompute', async () => {
    const requests = Array.from({length: 6}, (_, i) => request(prompt(12 + 5 * i, i), {temperature: 0.7, seed: i, maxTokens: 40, ignoreEos: true, n: i === 4 ? 3 : 1}))
    const {run, rejected} = await differential(requests, {numBlocks: 20, preemptionMode: 'swap', swapSpaceBytes: 0})
    assert.equal(rejected, 0)
    assert.ok(run.numPreemptions > 0, 'the pool is small enough to preempt')
  })

  it('a step that fails in the backend while the next is queued ahead fails its requests, and the engine goes on', async () => {
    const engine = await LLMEngine.create(fuzzEngineConfig(modelDir, {hostOverlap: 'async', numBlocks: 64}))
    try {
      // The 6th native call fails on the backend's worker, after the 7th (queued ahead, naming its samples) is waiting behind it.
      let calls = 0
      failNativeStepWhen(engine, () => ++calls === 6)

      const params = makeSamplingParams({temperature: 0.9, seed: 3, maxTokens: 20, ignoreEos: true})
      const handles = Array.from({length: 4}, (_, i) => engine.addRequest({prompt: prompt(8 + i, i), params}))
      const settled = await Promise.allSettled(handles.map((handle) => handle.result()))
      const failures = settled.filter((outcome) => outcome.status === 'rejected')
      assert.equal(failures.length, 4, 'every request in the failed step fails')
      for (const failure of failures) assert.match(String((failure as PromiseRejectedResult).reason), /outside the KV pool|previous step/)
      assert.ok(engine.stats().numStepsQueuedAhead > 0)
      engine.checkKvInvariants()
      assert.equal(engine.stats().kv.usedBlocks, 0)

      // The next request runs as on a fresh engine.
      const [after] = await engine.generate([{prompt: prompt(8), params}])
      const fresh = await LLMEngine.create(fuzzEngineConfig(modelDir, {hostOverlap: 'none'}))
      try {
        const [expected] = await fresh.generate([{prompt: prompt(8), params}])
        assert.deepEqual(after!.outputs[0]!.tokenIds, expected!.outputs[0]!.tokenIds)
      } finally {
        await fresh.shutdown()
      }
      engine.checkKvInvariants()
      assert.equal(engine.stats().kv.usedBlocks, 0)
    } finally {
      await engine.shutdown()
    }
  })

  it('blocks a failed step was to write never enter the prefix cache', async () => {
    // Async scheduling counts a queued step's tokens as computed; blocks they completed were offered to the prefix
    // cache before the step ran, so when it failed, the same prompt later reused K/V that was never written.
    const params = makeSamplingParams({temperature: 0, maxTokens: 10, ignoreEos: true})
    const expected = await runWorkload(fuzzEngineConfig(modelDir, ROOMY), [request(prompt(48), {temperature: 0, maxTokens: 10, ignoreEos: true})])
    for (const hostOverlap of ['none', 'async'] as const) {
      const engine = await LLMEngine.create(fuzzEngineConfig(modelDir, {hostOverlap, maxNumBatchedTokens: 16, enablePrefixCaching: true}))
      try {
        // The prompt is prefilled in chunks of the 16-token budget; the chunk holding position 20 fails.
        failNativeStepWhen(engine, (batch) => batch.positions.includes(20))
        const running = engine.addRequest({prompt: prompt(5, 1), params: makeSamplingParams({temperature: 0, maxTokens: 30, ignoreEos: true})})
        const chunked = engine.addRequest({prompt: prompt(48), params})
        const settled = await Promise.allSettled([running.result(), chunked.result()])
        assert.ok(settled.every((outcome) => outcome.status === 'rejected'), hostOverlap)
        const [again] = await engine.generate([{prompt: prompt(48), params}])
        const want = expected.outcomes[0]!
        assert.ok(want.kind === 'done')
        assert.deepEqual(again!.outputs[0]!.tokenIds, want.output.outputs[0]!.tokens, hostOverlap)
        engine.checkKvInvariants()
      } finally {
        await engine.shutdown()
      }
    }
  })
})
