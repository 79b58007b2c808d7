// Plots from synthetic bench results: each figure renders to SVG and PNG and shows the runs it was given.
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, rmSync} from 'node:fs'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import type {RunResult} from '../src/bench/bench-suite.js'
import {batchSizeSpec, kvBreakdownSpec, latencyVsRateSpec, writePlots} from '../src/bench/plots.js'
import type {RunMetrics} from '../src/bench/metrics.js'

function fakeRun(label: string, rate: number, latency: number, batch: number, tokens: number): RunResult {
  const flat = {mean: latency, median: latency, p99: latency}
  const metrics: RunMetrics = {
    numRequests: 10, durationS: 10, requestsPerSecond: 1, inputTokensPerSecond: 100, outputTokensPerSecond: 100,
    normalizedLatencyS: latency, e2eLatencyS: flat, ttftS: flat, tpotS: flat, steps: 100, meanBatch: batch, maxBatch: batch * 2,
    kvTokenShare: tokens, kvTokenShareTimeWeighted: tokens,
    kvBreakdown: {tokenStates: tokens * 0.7, reserved: 0.05, internalFragmentation: 0.7 - tokens * 0.7, free: 0.25},
    kvBreakdownScope: 'queued', peakUsedBlocks: 10, preemptions: 0, outputTokensPerStep: 1,
  }
  return {label, policy: label === 'http://x' ? null : (label as RunResult['policy']), endpoint: label === 'http://x' ? label : null, requestRate: rate, metrics, projected: null, stepTimeByBatch: [], outputHashes: {}, cpuSeconds: null, loadAverage: null, steps: [], server: null}
}

const runs = [1, 2, 4].flatMap((rate) => [
  fakeRun('paged', rate, 0.05 * rate, 10 * rate, 0.96),
  fakeRun('orca-max', rate, 0.2 * rate * rate, 2, 0.2),
  fakeRun('http://x', rate, 0.1 * rate, 0, 0),
])

describe('plots', () => {
  it('latency plot has one point per run at a finite rate, and is skipped without a sweep', () => {
    const spec = latencyVsRateSpec(runs, 'test') as {data: {values: {run: string; rate: number}[]}}
    assert.equal(spec.data.values.length, 9)
    assert.equal(latencyVsRateSpec(runs.filter((run) => run.requestRate === 1), 'test'), null)
  })

  it('batch and KV plots show engine runs only, KV at the busiest rate, and the categories add up', () => {
    const batch = batchSizeSpec(runs, 'test') as {data: {values: {run: string}[]}}
    assert.equal(batch.data.values.length, 6)
    const kv = kvBreakdownSpec(runs, 'test') as {data: {values: {run: string; share: number}[]}}
    assert.equal(kv.data.values.length, 8)
    const paged = kv.data.values.filter((v) => v.run === 'paged').reduce((sum, v) => sum + v.share, 0)
    assert.ok(Math.abs(paged - 1) < 1e-9)
  })

  it('writes SVG and PNG files', async () => {
    const dir = fileURLToPath(new URL('../.cache/bench-plots-test/', import.meta.url))
    rmSync(dir, {recursive: true, force: true})
    mkdirSync(dir, {recursive: true})
    const written = await writePlots(runs, 'synthetic test data', dir)
    assert.equal(written.length, 6)
    for (const path of written) {
      const data = readFileSync(path)
      if (path.endsWith('.png')) assert.deepEqual([...data.subarray(1, 4)], [0x50, 0x4e, 0x47]) // "PNG"
      else assert.match(data.toString(), /<svg[\s\S]*orca-max[\s\S]*<\/svg>/)
    }
  })
})
