// Async scheduling (hostOverlap 'async': the next step is queued before this one's result is back) returns exactly
// what the engine returns with all host work between the steps, for a mixed workload under preemption, chunked
// prefill and prefix caching; the forward pass is batch invariant here, so any difference is the scheduling's.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import {makeEngineConfig, type EngineConfig, type HostOverlap} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams, type SamplingParams, type SamplingParamsInput} from '../src/engine/sampling-params.js'

const SHARED_PREFIX = Array.from({length: 40}, (_, t) => 3 + ((t * 53) % 240))

/** 36 requests, each kind of stop and sampling option several times; every third one shares a 40-token prefix. */
function workload(): {prompt: number[]; params: SamplingParams}[] {
  const kinds: Array<(i: number) => SamplingParamsInput> = [
    () => ({temperature: 0, maxTokens: 30, ignoreEos: true}),
    (i) => ({temperature: 0.9, topP: 0.9, topK: 40, seed: i, maxTokens: 1 + (i % 4), logprobs: 3}),
    (i) => ({temperature: 1, seed: i, maxTokens: 40, stopTokenIds: Array.from({length: 12}, (_, k) => 10 + 7 * k), minTokens: i % 5}),
    (i) => ({temperature: 0.8, seed: i, maxTokens: 36, repetitionPenalty: 1.3, frequencyPenalty: 0.4, presencePenalty: 0.3}),
    (i) => ({temperature: 1, seed: i, maxTokens: 32, stop: ['e', 'q'], includeStopStrInOutput: i % 2 === 0}),
    (i) => ({temperature: 0.7, seed: i, maxTokens: 20, n: 2, bestOf: 3, logitBias: {5: 3, 9: -100}}),
    (i) => ({temperature: 0, maxTokens: 12, promptLogprobs: 2, ignoreEos: true, seed: i}),
    () => ({temperature: 0, maxTokens: 10, useBeamSearch: true, n: 2, bestOf: 2, ignoreEos: true}),
    (i) => ({temperature: 1.2, minP: 0.05, seed: i, maxTokens: 28}),
  ]
  return Array.from({length: 36}, (_, i) => {
    const own = Array.from({length: 5 + ((i * 13) % 50)}, (_, t) => 1 + ((t * 37 + i * 101) % 250))
    return {prompt: i % 3 === 0 ? [...SHARED_PREFIX, ...own] : own, params: makeSamplingParams(kinds[i % kinds.length]!(i))}
  })
}

describe('async scheduling', () => {
  let modelDir: string
  before(async () => {
    modelDir = await ensureTestModel('tiny')
  })

  async function run(hostOverlap: HostOverlap, overrides: Partial<EngineConfig>) {
    const engine = await LLMEngine.create(
      makeEngineConfig({modelPath: modelDir, device: 'cpu', threads: 1, weightDtype: 'f32', batchInvariant: true, hostOverlap, ...overrides}),
    )
    try {
      const results = await engine.generate(workload())
      const outputs = results.map((result) => ({
        prompt: result.promptLogprobs,
        outputs: result.outputs.map((o) => ({tokens: o.tokenIds, text: o.text, logprobs: o.logprobs, cumulative: o.cumulativeLogprob, finish: o.finishReason, stop: o.stopReason})),
      }))
      const stats = engine.stats()
      engine.checkKvInvariants()
      assert.equal(stats.kv.usedBlocks, 0, 'every block is free at the end')
      return {outputs, stats}
    } finally {
      await engine.shutdown()
    }
  }

  const setups: Array<{name: string; config: Partial<EngineConfig>}> = [
    {name: 'recompute preemption, chunked prefill, prefix caching', config: {numBlocks: 40, preemptionMode: 'recompute', maxNumBatchedTokens: 48, enablePrefixCaching: true}},
    {name: 'swap preemption', config: {numBlocks: 40, preemptionMode: 'swap', maxNumBatchedTokens: 256}},
    {name: 'orca-max reservations', config: {policy: 'orca-max', maxModelLen: 160, numBlocks: 60}},
  ]
  for (const {name, config} of setups) {
    it(`returns what the synchronous loop returns (${name})`, async () => {
      const sync = await run('none', config)
      const ahead = await run('async', config)
      assert.equal(sync.stats.numStepsQueuedAhead, 0)
      assert.ok(ahead.stats.numStepsQueuedAhead > 0, 'async scheduling queued steps ahead')
      if (config.numBlocks === 40) assert.ok(ahead.stats.numPreemptions > 0 && sync.stats.numPreemptions > 0, 'the pool is small enough to preempt')
      assert.deepEqual(ahead.outputs, sync.outputs)
    })
  }

  it('requests ending by max_tokens hand their blocks back before the next step is scheduled: the same batches as without it', async () => {
    // With lengths known in advance (ignore_eos, as in bench traces) every schedule sees what the synchronous loop sees.
    const counts = async (hostOverlap: HostOverlap) => {
      const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, device: 'cpu', threads: 1, hostOverlap, numBlocks: 24}))
      try {
        await engine.generate(
          Array.from({length: 16}, (_, i) => ({
            prompt: Array.from({length: 10 + 3 * i}, (_, t) => 1 + ((t * 41 + i) % 250)),
            params: makeSamplingParams({temperature: 1, seed: i, maxTokens: 5 + ((i * 7) % 23), ignoreEos: true}),
          })),
        )
        const {numSteps, numPreemptions, numStepsQueuedAhead} = engine.stats()
        return {numSteps, numPreemptions, numStepsQueuedAhead}
      } finally {
        await engine.shutdown()
      }
    }
    const sync = await counts('none')
    const ahead = await counts('async')
    assert.ok(sync.numPreemptions > 0, 'the pool is small enough to preempt')
    assert.ok(ahead.numStepsQueuedAhead > 0)
    assert.equal(ahead.numPreemptions, sync.numPreemptions)
    // At most the void step queued behind the last one.
    assert.ok(ahead.numSteps - sync.numSteps <= 1, `${ahead.numSteps} steps against ${sync.numSteps}`)
  })

  it('generated blocks enter the prefix cache with their real tokens, as without async scheduling', async () => {
    // A follow-up whose prompt is a finished request's prompt + output finds those blocks; a block hashed while a
    // token in it was still pending would not match.
    const hits = async (hostOverlap: HostOverlap) => {
      const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, device: 'cpu', threads: 1, hostOverlap, enablePrefixCaching: true}))
      try {
        const prompt = Array.from({length: 21}, (_, t) => 1 + ((t * 29) % 250))
        const params = makeSamplingParams({temperature: 1, seed: 3, maxTokens: 70, ignoreEos: true})
        const [first] = await engine.generate([{prompt, params}, {prompt: prompt.slice(0, 9), params}])
        const before = engine.stats().prefixCacheHits
        await engine.generate([{prompt: [...prompt, ...first!.outputs[0]!.tokenIds, 7], params: makeSamplingParams({maxTokens: 1})}])
        return engine.stats().prefixCacheHits - before
      } finally {
        await engine.shutdown()
      }
    }
    const sync = await hits('none')
    assert.equal(sync, 5 * 16, 'the 90 computed tokens fill 5 blocks of 16')
    assert.equal(await hits('async'), sync)
  })

  it('the backend refuses a token that names a sample the previous step did not make', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, device: 'cpu', threads: 1}))
    try {
      const moves = {copies: new Int32Array(), swapOut: new Int32Array(), swapIn: new Int32Array()}
      const batch = (tokenId: number) => ({
        tokenIds: Int32Array.of(tokenId),
        positions: Int32Array.of(0),
        slotMapping: Int32Array.of(0),
        queryStartLoc: Int32Array.of(0, 1),
        contextLens: Int32Array.of(1),
        blockTables: Int32Array.of(0),
        maxBlocksPerSeq: 1,
        logitsIndices: Int32Array.of(0),
      })
      await engine.native.step(moves, batch(5))
      await assert.rejects(engine.native.step(moves, batch(-1)), /names sample 0 of the previous step, which made 0/)
    } finally {
      await engine.shutdown()
    }
  })

  it('an abort while steps are queued ahead frees everything, and the others finish as without it', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, device: 'cpu', threads: 1, hostOverlap: 'async', numBlocks: 64}))
    try {
      const params = makeSamplingParams({temperature: 1, seed: 7, maxTokens: 60, ignoreEos: true})
      const handles = Array.from({length: 6}, (_, i) => engine.addRequest({prompt: Array.from({length: 9 + i}, (_, t) => 1 + ((t * 31 + i) % 200)), params}))
      let seen = 0
      for await (const output of handles[2]!) if (++seen === 5) handles[2]!.abort()
      const results = await Promise.all(handles.map((handle) => handle.result()))
      assert.equal(results[2]!.outputs[0]!.finishReason, 'abort')
      for (const [i, result] of results.entries()) if (i !== 2) assert.equal(result.outputs[0]!.tokenIds.length, 60)
      assert.ok(engine.stats().numStepsQueuedAhead > 0)
      engine.checkKvInvariants()
      assert.equal(engine.stats().kv.usedBlocks, 0)
    } finally {
      await engine.shutdown()
    }
  })
})
