// Scheduler decisions without a model: token budget, chunking, FCFS, preemption, static batches.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {BlockManager} from '../src/engine/block-manager.js'
import {makeEngineConfig, type EngineConfig} from '../src/engine/config.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {Scheduler, type SchedulerOutput} from '../src/engine/scheduler.js'
import {SequenceGroup, SequenceStatus} from '../src/engine/sequence.js'

function setup(overrides: Partial<EngineConfig> & {numBlocks: number}, swapIsCheap = false) {
  const config = makeEngineConfig({modelPath: 'unused', blockSize: 4, watermark: 0, maxNumBatchedTokens: 64, ...overrides})
  const blockManager = new BlockManager({
    numBlocks: overrides.numBlocks,
    blockSize: config.blockSize,
    numSwapBlocks: 64,
    policy: config.policy,
    enablePrefixCaching: overrides.enablePrefixCaching ?? false,
    watermark: config.watermark,
    maxModelLen: 256,
  })
  return {config, blockManager, scheduler: new Scheduler(config, blockManager, swapIsCheap)}
}

let nextId = 0
function group(promptLength: number, maxTokens = 8): SequenceGroup {
  const prompt = Array.from({length: promptLength}, (_, i) => (i % 50) + 1)
  return new SequenceGroup(`g${nextId++}`, null, prompt, makeSamplingParams({maxTokens, ignoreEos: true}), 0)
}

/** What the model and output processor would do: mark tokens computed, append a token where one is sampled. */
function finishStep(out: SchedulerOutput, blockManager: BlockManager, scheduler: Scheduler): void {
  for (const entry of out.scheduled) {
    entry.seq.numComputedTokens += entry.numNewTokens
    if (!entry.samples) continue
    entry.seq.appendToken(7, -1)
    if (entry.seq.outputLength >= entry.group.params.maxTokens) {
      entry.seq.status = SequenceStatus.FinishedLength
      blockManager.free(entry.seq)
      scheduler.remove(entry.group)
    }
  }
}

/** Runs steps until the scheduler is idle; counts what it did. */
function drain(scheduler: Scheduler, blockManager: BlockManager): {preempted: number; swappedOut: number; swappedIn: number} {
  const totals = {preempted: 0, swappedOut: 0, swappedIn: 0}
  for (let step = 0; step < 200 && scheduler.hasWork; step++) {
    const out = scheduler.schedule(step)
    totals.preempted += out.numPreempted
    totals.swappedOut += out.swapOut.length
    totals.swappedIn += out.swapIn.length
    finishStep(out, blockManager, scheduler)
  }
  return totals
}

describe('Scheduler', () => {
  it('fills the token budget with whole prompts, then a chunk of the next', () => {
    const {scheduler} = setup({numBlocks: 100, maxNumBatchedTokens: 32})
    const groups = [group(20), group(20), group(20)]
    groups.forEach((g) => scheduler.add(g))
    const out = scheduler.schedule(0)
    assert.deepEqual(out.scheduled.map((e) => [e.group.requestId, e.numNewTokens, e.samples]), [
      [groups[0]!.requestId, 20, true],
      [groups[1]!.requestId, 12, false],
    ])
    assert.equal(scheduler.waiting.length, 1)
  })

  it('without chunked prefill a prompt waits for a step whose budget holds it whole', () => {
    const {scheduler} = setup({numBlocks: 100, maxNumBatchedTokens: 32, enableChunkedPrefill: false})
    const groups = [group(20), group(20)]
    groups.forEach((g) => scheduler.add(g))
    const out = scheduler.schedule(0)
    assert.deepEqual(out.scheduled.map((e) => e.numNewTokens), [20])
  })

  it('respects max_num_seqs', () => {
    const {scheduler} = setup({numBlocks: 100, maxNumSeqs: 2})
    for (let i = 0; i < 5; i++) scheduler.add(group(3))
    assert.equal(scheduler.schedule(0).scheduled.length, 2)
  })

  it('is first come first served: a head that does not fit blocks smaller requests behind it', () => {
    const {scheduler} = setup({numBlocks: 6})
    const big = group(20, 4)
    const small = group(2)
    scheduler.add(group(8))
    scheduler.schedule(0)
    scheduler.add(big)
    scheduler.add(small)
    const out = scheduler.schedule(0)
    assert.ok(!out.scheduled.some((e) => e.group === small))
    assert.deepEqual(scheduler.waiting, [big, small])
  })

  it('preempts from the back when blocks run out, and the victim resumes from scratch (recompute)', () => {
    const {scheduler, blockManager} = setup({numBlocks: 8, preemptionMode: 'recompute'})
    const first = group(4, 20)
    const second = group(4, 20)
    scheduler.add(first)
    scheduler.add(second)
    let preempted = 0
    for (let step = 0; step < 200 && scheduler.hasWork; step++) {
      const out = scheduler.schedule(step)
      preempted += out.numPreempted
      if (out.numPreempted > 0) {
        assert.equal(scheduler.waiting[0], second, 'the later request is the victim')
        assert.equal(second.sequences[0]!.numComputedTokens, 0)
      }
      finishStep(out, blockManager, scheduler)
      blockManager.checkInvariants()
    }
    assert.ok(preempted > 0)
    assert.equal(scheduler.hasWork, false)
    assert.equal(blockManager.memoryStats().usedBlocks, 0)
  })

  it('swap preemption moves blocks to host memory and brings them back', () => {
    const {scheduler, blockManager} = setup({numBlocks: 8, preemptionMode: 'swap'})
    scheduler.add(group(4, 20))
    scheduler.add(group(4, 20))
    const {swappedOut, swappedIn} = drain(scheduler, blockManager)
    assert.ok(swappedOut > 0 && swappedIn === swappedOut, `out ${swappedOut}, in ${swappedIn}`)
    assert.equal(blockManager.memoryStats().usedBlocks, 0)
  })

  for (const swapIsCheap of [false, true]) {
    it(`auto preemption ${swapIsCheap ? 'swaps single sequences where swapping is a memory copy' : 'recomputes single sequences on a GPU'}`, () => {
      const {scheduler, blockManager} = setup({numBlocks: 8, preemptionMode: 'auto'}, swapIsCheap)
      scheduler.add(group(4, 20))
      scheduler.add(group(4, 20))
      const {preempted, swappedOut} = drain(scheduler, blockManager)
      assert.ok(preempted > 0)
      assert.equal(swappedOut > 0, swapIsCheap)
    })
  }

  it('contiguous (static batching) admits no request while a batch runs', () => {
    const {scheduler, blockManager} = setup({numBlocks: 100, policy: 'contiguous'})
    scheduler.add(group(4, 3))
    finishStep(scheduler.schedule(0), blockManager, scheduler)
    scheduler.add(group(4, 3))
    const out = scheduler.schedule(1)
    assert.equal(out.scheduled.length, 1, 'only the running batch')
    assert.equal(scheduler.waiting.length, 1)
  })

  it('chunks the recompute of a preempted group that outgrew --max-num-batched-tokens without chunking, instead of failing it', () => {
    const {scheduler, blockManager} = setup({numBlocks: 100, maxNumBatchedTokens: 16, enableChunkedPrefill: false})
    const g = group(10, 20)
    scheduler.add(g)
    const seq = g.sequences[0]!
    while (seq.length <= 16) finishStep(scheduler.schedule(0), blockManager, scheduler)
    // Recompute preemption, as the scheduler does it: blocks freed, the whole sequence to prefill again.
    scheduler.remove(g)
    blockManager.free(seq)
    seq.resetForRecompute()
    scheduler.waiting.unshift(g)
    const first = scheduler.schedule(1)
    assert.deepEqual(first.rejected, [])
    assert.deepEqual(first.scheduled.map((entry) => [entry.numNewTokens, entry.samples]), [[16, false]])
    seq.numComputedTokens += 16
    const second = scheduler.schedule(2)
    assert.deepEqual(second.scheduled.map((entry) => [entry.numNewTokens, entry.samples]), [[1, true]])
  })

  it("counts a request's prefix-cache hits at its first scheduling only, not its own blocks found again after a recompute", () => {
    const {scheduler, blockManager} = setup({numBlocks: 100, enablePrefixCaching: true})
    const step = (at: number) => {
      const out = scheduler.schedule(at)
      finishStep(out, blockManager, scheduler)
      for (const entry of out.scheduled) blockManager.markComputed(entry.seq)
    }
    const first = group(10, 20)
    scheduler.add(first)
    step(0)
    assert.equal(first.numCachedTokens, 0)
    // The same 10-token prompt: its two whole blocks before the last token come from the cache.
    const second = group(10, 20)
    scheduler.add(second)
    step(1)
    assert.equal(second.numCachedTokens, 8)
    const seq = first.sequences[0]!
    scheduler.remove(first)
    blockManager.free(seq)
    seq.resetForRecompute()
    scheduler.waiting.unshift(first)
    scheduler.schedule(2)
    assert.equal(seq.numComputedTokens, 8, 'the re-admission takes its prompt blocks from the cache')
    assert.equal(first.numCachedTokens, 0)
  })

  it('rejects a request whose reservation can never fit the pool', () => {
    const {scheduler} = setup({numBlocks: 8, policy: 'orca-max'})
    const g = group(4)
    scheduler.add(g)
    const out = scheduler.schedule(0)
    assert.deepEqual(out.rejected.map((entry) => entry.group), [g])
    assert.match(out.rejected[0]!.error.message, /orca-max policy reserves/)
  })
})
