// Sliding windows free the KV blocks behind them (window-blocks.ts): the arithmetic, the block manager's tables and
// accounting (forks, swaps, prefix cache), and whole engines on the tiny Mistral (a window of 8 on every layer, blocks
// of 4) whose tokens and logprobs must equal those of an engine that keeps every block, in far less memory.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import {makeEngineConfig, type EngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {loadNativeModel} from '../src/engine/native.js'
import type {RequestOutput} from '../src/engine/request-output.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {SequenceStatus} from '../src/engine/sequence.js'
import {makeSpeculativeConfig} from '../src/engine/spec-decode/spec-config.js'
import {blocksBehindWindow, liveBlockBound, releasingWindow, RELEASED_BLOCK, windowReleaseFor, type WindowRelease} from '../src/engine/window-blocks.js'
import {makeGroup, makeManager, tokenRange} from './support/kv-groups.js'
import {ReferenceModel} from './support/reference-model.js'

describe('which blocks fall behind a window', () => {
  it('only models whose every layer slides release, behind the widest window; a query at p sees (p - W, p]', () => {
    assert.equal(releasingWindow(undefined), 0)
    assert.equal(releasingWindow([8, 0, 8]), 0, 'a full-attention layer reads every block')
    assert.equal(releasingWindow([8, 16, 8]), 16)
    // Window 8, blocks of 4: the query at 11 sees 4..11, so block 0 (0..3) is behind it; at 10 it still sees 3.
    assert.deepEqual([10, 11, 12, 15, 16].map((q) => blocksBehindWindow(q, 8, 4)), [0, 1, 1, 2, 2])
    assert.equal(blocksBehindWindow(100, 0, 4), 0)
  })

  it('only the paged policy releases, unless turned off', () => {
    const windows = parseModelConfig(testModelConfigJson('tiny', {variant: 'mistral'})).layerWindows
    const paged = {policy: 'paged' as const, maxNumBatchedTokens: 64}
    assert.deepEqual(windowReleaseFor(paged, windows), {window: 8, chunkTokens: 64})
    assert.equal(windowReleaseFor({...paged, releaseWindowBlocks: false}, windows).window, 0)
    assert.equal(windowReleaseFor({...paged, policy: 'orca-max'}, windows).window, 0)
  })

  it('a sequence holds at most its window plus one chunk, at most its whole length', () => {
    const release: WindowRelease = {window: 8, chunkTokens: 12}
    assert.equal(liveBlockBound(1000, release, 4), Math.ceil((7 + 12) / 4) + 1)
    assert.equal(liveBlockBound(10, release, 4), 3)
    assert.equal(liveBlockBound(1000, {...release, window: 0}, 4), 250)
  })
})

describe('the block manager with a window of 8 over blocks of 4', () => {
  const windowRelease: WindowRelease = {window: 8, chunkTokens: 4}

  /** One scheduler step for every running sequence: release, grow by up to a chunk, compute it, sample a token when done. */
  function step(manager: ReturnType<typeof makeManager>, groups: ReturnType<typeof makeGroup>[]): void {
    manager.releaseBehindWindows(groups)
    for (const group of groups) {
      assert.ok(manager.canAppendSlots(group))
      for (const seq of group.unfinished) {
        manager.appendSlots(seq)
        seq.numComputedTokens = Math.min(seq.length, seq.numComputedTokens + windowRelease.chunkTokens)
        if (seq.numComputedTokens === seq.length) seq.appendToken(7, 0)
      }
    }
    manager.checkInvariants()
  }

  it('a sequence ten times the pool runs in it; forks share released tables; swap keeps the live blocks only; all come back', () => {
    const manager = makeManager({numBlocks: 12, windowRelease, maxModelLen: 1000})
    const group = makeGroup(tokenRange(30), {maxTokens: 100, bestOf: 2})
    assert.equal(makeManager({numBlocks: 12}).neverFits(group)?.includes('KV blocks'), true, 'kept whole it could never fit')
    assert.equal(manager.neverFits(group), null)
    assert.equal(manager.canAllocate(group), 'ok')
    manager.allocate(group)
    const [parent] = group.sequences
    for (const seq of group.sequences) seq.status = SequenceStatus.Running
    assert.equal(manager.getBlockTable(parent!).length, 1, 'admission covers one chunk, not the prompt')
    for (let i = 0; i < 10; i++) step(manager, [group])
    const child = parent!.fork()
    group.sequences.push(child)
    manager.fork(parent!, child)
    for (let i = 0; i < 20; i++) step(manager, [group])
    const table = manager.getBlockTable(child)
    assert.ok(table.length > 12 && table.slice(0, 8).every((blockId) => blockId === RELEASED_BLOCK), `released head: ${table}`)
    for (const seq of group.unfinished) seq.status = SequenceStatus.Swapped
    const moved = manager.swapOut(group)
    assert.ok(moved.length <= 2 * liveBlockBound(1000, windowRelease, 4), `${moved.length} live blocks moved`)
    assert.equal(manager.numFreeBlocks, 12)
    assert.ok(manager.canSwapIn(group, true))
    manager.swapIn(group)
    for (const seq of group.unfinished) seq.status = SequenceStatus.Running
    for (let i = 0; i < 60; i++) step(manager, [group])
    for (const seq of group.sequences) manager.free(seq)
    manager.checkInvariants()
    assert.deepEqual([manager.numFreeBlocks, manager.numFreeSwapBlocks], [12, 32])
  })

  it('with a prefix cache a released block stays cached until evicted, and a later prompt gets valid hits only', () => {
    const manager = makeManager({numBlocks: 16, windowRelease, enablePrefixCaching: true})
    const first = makeGroup(tokenRange(24))
    manager.allocate(first)
    first.sequences[0]!.status = SequenceStatus.Running
    for (let i = 0; i < 6; i++) {
      step(manager, [first])
      manager.markComputed(first.sequences[0]!)
    }
    assert.ok(manager.memoryStats().cachedBlocks > 0, 'released blocks are parked in the prefix cache')
    // The same prompt again: its hits behind the window of its first query are not taken, the rest are shared.
    const second = makeGroup(tokenRange(24))
    manager.allocate(second)
    const table = manager.getBlockTable(second.sequences[0]!)
    assert.equal(second.sequences[0]!.numComputedTokens, 20)
    assert.deepEqual(table.slice(0, 3), [RELEASED_BLOCK, RELEASED_BLOCK, RELEASED_BLOCK])
    manager.checkInvariants()
    for (const group of [first, second]) manager.free(group.sequences[0]!)
    manager.checkInvariants()
    assert.equal(manager.numFreeBlocks, 16)
  })
})

describe('engines on the tiny Mistral (window 8 on every layer, blocks of 4)', () => {
  let modelPath: string
  before(async () => {
    modelPath = await ensureTestModel('tiny', {variant: 'mistral'})
  })

  type Request = {prompt: number[]; params: SamplingParams}
  const prompt = (length: number, salt: number) => Array.from({length}, (_, i) => 1 + ((i * 53 + salt * 97) % 400))
  const greedy = (maxTokens: number, logprobs: number | null = 2) => makeSamplingParams({temperature: 0, maxTokens, ignoreEos: true, logprobs})

  /** Runs the requests; checks the pool's bookkeeping and that every block is back; reports the most blocks in use. */
  async function run(overrides: Partial<EngineConfig>, requests: Request[]) {
    const engine = await LLMEngine.create(makeEngineConfig({
      modelPath, device: 'cpu', threads: 2, weightDtype: 'f32', batchInvariant: true, blockSize: 4, numBlocks: 400, maxModelLen: 512,
      maxNumBatchedTokens: 12, enableChunkedPrefill: true, ...overrides,
    }))
    try {
      let peakUsed = 0
      engine.onStep((stats) => (peakUsed = Math.max(peakUsed, stats.kv.usedBlocks)))
      const outputs = await engine.generate(requests)
      engine.checkKvInvariants()
      const stats = engine.stats()
      assert.equal(stats.kv.usedBlocks, 0, 'every block is back')
      return {outputs, stats, peakUsed}
    } finally {
      await engine.shutdown()
    }
  }

  it('the backend never reads a released entry: -1 behind the chunk\'s first window gives the same logits, -1 inside it is refused', async () => {
    const model = await loadModel(modelPath)
    const native = await loadNativeModel({config: model.config, tensors: model.tensors, numBlocks: 8, blockSize: 4, numSwapBlocks: 0, weightFormat: 'f32', threads: 2, device: 'cpu'})
    try {
      const tokens = prompt(20, 3)
      const table = [5, 2, 7, 0, 3]
      const chunk = (first: number, count: number, blockTable: number[]) => {
        const positions = Int32Array.from({length: count}, (_, i) => first + i)
        return {
          tokenIds: Int32Array.from(positions, (p) => tokens[p]!), positions, slotMapping: Int32Array.from(positions, (p) => table[Math.floor(p / 4)]! * 4 + (p % 4)),
          queryStartLoc: Int32Array.from([0, count]), contextLens: Int32Array.from([first + count]), blockTables: Int32Array.from(blockTable),
          maxBlocksPerSeq: blockTable.length, logitsIndices: Int32Array.from({length: count}, (_, i) => i),
        }
      }
      await native.step({}, chunk(0, 16, table))
      // Rows at 16..19 with a window of 8 see 9..19: blocks 0 and 1 (tokens 0..7) are never read, block 2 (8..11) is.
      const kept = await native.step({}, chunk(16, 4, table))
      const released = await native.step({}, chunk(16, 4, [-1, -1, 7, 0, 3]))
      assert.deepEqual(released, kept)
      await assert.rejects(() => native.step({}, chunk(16, 4, [-1, -1, -1, 0, 3])), /block table of sequence 0 points outside the pool/)
    } finally {
      native.close()
    }
  })

  const results = (outputs: RequestOutput[]) =>
    outputs.map((output) => output.outputs.map(({tokenIds, logprobs, cumulativeLogprob}) => ({tokenIds, logprobs, cumulativeLogprob})))

  it('long prompts and outputs, chunked prefill, n = 2, beam search and shared prefixes: the same tokens and logprobs, fewer blocks', async () => {
    const shared = prompt(30, 1)
    const requests: Request[] = [
      {prompt: prompt(45, 2), params: greedy(40)},
      {prompt: prompt(30, 3), params: makeSamplingParams({temperature: 0.8, n: 2, seed: 5, maxTokens: 30, ignoreEos: true, logprobs: 1})},
      {prompt: prompt(20, 4), params: makeSamplingParams({useBeamSearch: true, n: 2, bestOf: 2, temperature: 0, maxTokens: 12, ignoreEos: true})},
      {prompt: [...shared, 5, 6], params: greedy(20)},
      {prompt: [...shared, 7], params: greedy(20)},
    ]
    const kept = await run({releaseWindowBlocks: false}, requests)
    const released = await run({}, requests)
    assert.deepEqual(results(released.outputs), results(kept.outputs))
    assert.ok(released.peakUsed < kept.peakUsed / 2, `peak blocks ${released.peakUsed} released vs ${kept.peakUsed} kept`)
    assert.ok(released.stats.prefixCacheHits > 0, 'the shared prefix was hit')
    const reference = await ReferenceModel.load(modelPath)
    assert.deepEqual(released.outputs[0]!.outputs[0]!.tokenIds, reference.greedy(requests[0]!.prompt, 40))
  })

  for (const preemptionMode of ['recompute', 'swap'] as const) {
    it(`a pool too small for the batch preempts by ${preemptionMode}; tokens and logprobs are unchanged`, async () => {
      const requests = [0, 1, 2, 3, 4, 5].map((salt) => ({prompt: prompt(25 + 6 * salt, salt), params: greedy(40)}))
      const kept = await run({releaseWindowBlocks: false}, requests)
      const released = await run({numBlocks: 10, maxModelLen: 128, preemptionMode}, requests)
      assert.ok(released.stats.numPreemptions > 0, 'preemption happened')
      assert.deepEqual(results(released.outputs), results(kept.outputs))
    })
  }

  it('a sequence over four times the pool completes (kept whole it could not start), also under speculative decoding', async () => {
    const requests = [{prompt: prompt(80, 9), params: greedy(120)}]
    await assert.rejects(run({releaseWindowBlocks: false, numBlocks: 12, maxModelLen: 200}, requests), /does not fit the KV cache/)
    const kept = await run({releaseWindowBlocks: false}, requests)
    const released = await run({numBlocks: 12, maxModelLen: 200}, requests)
    assert.ok(200 > 4 * 12 * 4, 'the sequence is over four times the pool')
    const bound = liveBlockBound(200, {window: 8, chunkTokens: 12}, 4)
    assert.ok(released.peakUsed <= bound, `at most ${bound} blocks held at once, ${released.peakUsed} seen`)
    assert.deepEqual(results(released.outputs), results(kept.outputs))
    const speculative = await run({numBlocks: 12, maxModelLen: 200, speculative: makeSpeculativeConfig({method: 'ngram', numSpeculativeTokens: 3, ngramMin: 1})}, requests)
    assert.deepEqual(results(speculative.outputs), results(kept.outputs))
    assert.ok(speculative.stats.specDecode.numDraftTokens > 0, 'drafts were verified')
  })
})
