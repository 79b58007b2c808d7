// Every KV policy, each on its own engine, generates the same tokens for a tiny trace; paging batches more.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {runBenchSuite} from '../src/bench/bench-suite.js'
import type {RunMetrics} from '../src/bench/metrics.js'
import {KV_POLICIES, makeEngineConfig} from '../src/engine/config.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'

describe('bench across policies', () => {
  it('gives identical outputs under every policy, and paged holds more requests in the same pool', async () => {
    const modelPath = await ensureTestModel('tiny')
    // 32 blocks x 16 = 512 tokens; a 128-token context makes orca-max reserve 8 blocks, so it fits 4 requests.
    const engineConfig = makeEngineConfig({modelPath, numBlocks: 32, blockSize: 16, maxModelLen: 128, threads: 1, device: 'cpu'})
    const results = await runBenchSuite({
      workload: {trace: 'synthetic', numPrompts: 12, seed: 3, synthetic: {inputLen: 24, outputLen: 16, spread: 'uniform', rangeRatio: 0.5}},
      // Offline, and Poisson arrivals fast enough to keep the test short.
      requestRates: [Infinity, 40],
      policies: [...KV_POLICIES],
      endpoints: [],
      promptFormat: 'ids',
      engineConfig,
      generation: {temperature: 0, seed: 0},
      log: () => {},
    })
    assert.equal(results.runs.length, 2 * KV_POLICIES.length)
    // Same tokens under every policy and at every rate: batching never changes what a request generates.
    assert.deepEqual(results.engineOutputs, {identical: true, mismatched: []})
    const byPolicy: Record<string, RunMetrics> = Object.fromEntries(results.runs.filter((run) => run.requestRate === Infinity).map((run) => [run.policy!, run.metrics]))
    const expectedOutputTokens = results.workload.stats.output.mean * results.workload.numPrompts
    for (const {metrics} of results.runs) {
      assert.equal(metrics.numRequests, 12)
      assert.ok(Math.abs(metrics.outputTokensPerSecond * metrics.durationS - expectedOutputTokens) < 1e-6, 'ignore_eos: every request runs to its output length')
    }
    assert.ok(byPolicy.paged.maxBatch > byPolicy['orca-max'].maxBatch, `paged max batch ${byPolicy.paged.maxBatch} vs orca-max ${byPolicy['orca-max'].maxBatch}`)
    assert.ok(byPolicy['orca-max'].maxBatch <= 4)
    assert.ok(byPolicy.paged.steps < byPolicy['orca-max'].steps)
    assert.ok(byPolicy.paged.kvTokenShare > byPolicy['orca-max'].kvTokenShare)
    assert.ok(byPolicy['orca-oracle'].kvTokenShare > byPolicy['orca-max'].kvTokenShare)
    // orca-max queues requests behind its reservations, and most of what it reserves is never filled.
    assert.equal(byPolicy['orca-max'].kvBreakdownScope, 'queued')
    assert.ok(byPolicy['orca-max'].kvBreakdown.internalFragmentation > byPolicy.paged.kvBreakdown.internalFragmentation + 0.3)
  })
})
