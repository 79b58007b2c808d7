// Bench metric formulas checked on a hand-computed two-request, three-step example.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {averageKvBreakdown, computeRunMetrics, kvBreakdownOfStep, projectedThroughput, stepTimeByBatch, type StepRecord} from '../src/bench/metrics.js'
import {compareOutputHashes, hashTokenIds} from '../src/bench/output-hash.js'
import {percentile} from '../src/bench/statistics.js'

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} != ${expected}`)

// Pool: 10 blocks of 4 slots = 40 slots.
const step = (numSeqs: number, decodeTokens: number, durationMs: number, usedBlocks: number, tokensStored: number, pendingTokens: number, waitingRequests = 0): StepRecord => ({
  numSeqs, decodeTokens, durationMs, blockSize: 4, totalBlocks: 10, usedBlocks, tokensStored, reservedSlots: usedBlocks * 4, pendingTokens, waitingRequests,
})

describe('run metrics', () => {
  // A: prompt 10, 4 tokens, arrives 0, first token 1, done 4 -> e2e 4, normalized 1, ttft 1, tpot 3/3 = 1.
  // B: prompt 20, 2 tokens, arrives 1, first token 2, done 6 -> e2e 5, normalized 2.5, ttft 1, tpot 4/1 = 4.
  const requests = [
    {promptLen: 10, outputLen: 4, arrivalTime: 0, firstTokenTime: 1, finishTime: 4},
    {promptLen: 20, outputLen: 2, arrivalTime: 1, firstTokenTime: 2, finishTime: 6},
  ]
  // Requests wait during the first two steps; the third is the empty drain.
  const steps = [step(1, 0, 100, 3, 10, 4, 1), step(2, 1, 300, 8, 28, 3, 1), step(0, 0, 100, 0, 0, 0)]
  const metrics = computeRunMetrics(requests, steps, {durationS: 6, preemptions: 2})

  it('computes throughput and latency', () => {
    close(metrics.requestsPerSecond, 2 / 6, 'req/s')
    close(metrics.inputTokensPerSecond, 30 / 6, 'input tok/s')
    close(metrics.outputTokensPerSecond, 6 / 6, 'output tok/s')
    close(metrics.normalizedLatencyS, (1 + 2.5) / 2, 'normalized latency')
    close(metrics.e2eLatencyS.mean, 4.5, 'e2e mean')
    close(metrics.ttftS.mean, 1, 'ttft mean')
    close(metrics.tpotS.mean, 2.5, 'tpot mean')
    close(metrics.tpotS.median, 2.5, 'tpot median')
    close(metrics.tpotS.p99, 1 + 3 * 0.99, 'tpot p99 (linear interpolation)')
  })

  it('computes batch, KV share and step counts', () => {
    close(metrics.meanBatch, 1, 'mean batch (3 seqs over 3 steps)')
    assert.equal(metrics.maxBatch, 2)
    close(metrics.kvTokenShare, (10 / 12 + 28 / 32) / 2, 'per-step KV share over reserving steps')
    close(metrics.kvTokenShareTimeWeighted, ((10 / 12) * 100 + (28 / 32) * 300) / 400, 'time-weighted KV share')
    assert.equal(metrics.peakUsedBlocks, 8)
    assert.equal(metrics.preemptions, 2)
    assert.equal(metrics.steps, 3)
    close(metrics.outputTokensPerStep, 2, 'tokens per step')
  })

  it('splits the pool into token states, reserved, internal fragmentation and free', () => {
    // Step 2: 28 tokens, 4 empty reserved slots of which 3 will still be filled, 2 free blocks.
    const second = kvBreakdownOfStep(steps[1])
    close(second.tokenStates, 28 / 40, 'tokens')
    close(second.reserved, 3 / 40, 'reserved')
    close(second.internalFragmentation, 1 / 40, 'fragmentation')
    close(second.free, 8 / 40, 'free')
    // Averaged over the two steps with requests waiting, not the drain.
    const b = metrics.kvBreakdown
    assert.equal(metrics.kvBreakdownScope, 'queued')
    close(b.tokenStates, (10 / 40 + 28 / 40) / 2, 'mean tokens')
    close(b.reserved, (2 / 40 + 3 / 40) / 2, 'mean reserved')
    close(b.internalFragmentation, 1 / 40 / 2, 'mean fragmentation')
    close(b.free, (28 / 40 + 8 / 40) / 2, 'mean free')
    close(b.tokenStates + b.reserved + b.internalFragmentation + b.free, 1, 'shares add up')
  })

  it('averages the breakdown over all steps when (almost) no request ever waited', () => {
    const idle = computeRunMetrics(requests, [step(1, 1, 10, 3, 10, 4), step(0, 0, 10, 0, 0, 0)], {durationS: 6, preemptions: 0})
    assert.equal(idle.kvBreakdownScope, 'all')
    close(idle.kvBreakdown.free, (28 / 40 + 1) / 2, 'mean free')
    // A queue during 1 step of 11 (the first prefill) is not memory binding the run.
    const brief = [step(1, 0, 10, 1, 4, 4, 5), ...Array.from({length: 10}, () => step(1, 1, 10, 5, 20, 4))]
    assert.equal(averageKvBreakdown(brief).scope, 'all')
    assert.equal(averageKvBreakdown(brief.slice(0, 5)).scope, 'queued')
  })

  it('projects a constant-step-cost throughput from the step count', () => {
    const projected = projectedThroughput(metrics, 10)
    close(projected.requestsPerSecond, 2 / 0.03, 'projected req/s')
    close(projected.outputTokensPerSecond, 6 / 0.03, 'projected tok/s')
  })

  it('groups decode-only step times by batch bucket', () => {
    const decodes = [step(1, 1, 10, 1, 1, 0), step(1, 1, 12, 1, 1, 0), step(3, 3, 20, 1, 1, 0), step(4, 4, 22, 1, 1, 0), step(4, 2, 99, 1, 1, 0)]
    assert.deepEqual(stepTimeByBatch(decodes), [
      {batch: '1', steps: 2, medianMs: 11},
      {batch: '3-4', steps: 2, medianMs: 21},
    ])
  })

  it('computes percentiles as numpy does', () => {
    assert.equal(percentile([1, 2, 3, 4], 50), 2.5)
    close(percentile([0, 10], 90), 9, 'p90 of two')
  })
})

describe('output agreement', () => {
  it('hashes token ids and finds requests whose outputs differ', () => {
    assert.equal(hashTokenIds([1, 2, 3]), hashTokenIds([1, 2, 3]))
    assert.notEqual(hashTokenIds([1, 2, 3]), hashTokenIds([1, 2, 4]))
    const a = {r0: 'x', r1: 'y'}
    assert.deepEqual(compareOutputHashes([a, {...a}]), {identical: true, mismatched: []})
    assert.deepEqual(compareOutputHashes([a, {r0: 'x', r1: 'z'}]), {identical: false, mismatched: ['r1']})
    assert.deepEqual(compareOutputHashes([a, {r0: 'x'}]), {identical: false, mismatched: ['r1']})
  })
})
