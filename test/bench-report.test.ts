// Terminal tables of bench results: alignment, each policy against paged, and the output-agreement line.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {RunResult, SuiteResults} from '../src/bench/bench-suite.js'
import type {RunMetrics} from '../src/bench/metrics.js'
import {renderHeadline, renderOutputAgreement, renderProjection, renderTable} from '../src/bench/report-table.js'

const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '')

function run(label: string, requestsPerSecond: number, steps: number, kvTokenShare: number, meanBatch: number): RunResult {
  const d = {mean: 0.01, median: 0.01, p99: 0.02}
  const metrics: RunMetrics = {
    numRequests: 10, durationS: 10 / requestsPerSecond, requestsPerSecond, inputTokensPerSecond: 1, outputTokensPerSecond: requestsPerSecond * 100,
    normalizedLatencyS: 0.05, e2eLatencyS: d, ttftS: d, tpotS: d, steps, meanBatch, maxBatch: Math.ceil(meanBatch),
    kvTokenShare, kvTokenShareTimeWeighted: kvTokenShare, kvBreakdown: {tokenStates: 0.5, reserved: 0, internalFragmentation: 0, free: 0.5},
    kvBreakdownScope: 'queued', peakUsedBlocks: 100, preemptions: 0, outputTokensPerStep: 1000 / steps,
  }
  return {label, policy: label as RunResult['policy'], endpoint: null, requestRate: Infinity, metrics, projected: {requestsPerSecond: 1000 / steps, outputTokensPerSecond: 1}, stepTimeByBatch: [], outputHashes: {}, cpuSeconds: steps / 10 + 10, loadAverage: 1, steps: [], server: null}
}

const results: SuiteResults = {
  workload: {source: 'test', droppedTooLong: 0, stats: {count: 10, prompt: {mean: 1, median: 1, p90: 1, max: 1}, output: {mean: 1, median: 1, p90: 1, max: 1}}, numPrompts: 10, seed: 0, requests: []},
  engine: null,
  stepCostMs: 10,
  stepCostSource: 'test',
  runs: [run('paged', 2, 100, 0.97, 12.5), run('orca-max', 0.5, 500, 0.2, 2)],
  engineOutputs: {identical: true, mismatched: []},
  endpointOutputs: {identical: false, mismatched: ['r3']},
  endpoints: [],
}

describe('report tables', () => {
  it('aligns columns by visible width', () => {
    const lines = stripAnsi(renderTable(['a', 'bb'], [['xyz', '1'], ['q', '12345']])).split('\n')
    assert.deepEqual(lines, ['a       bb', '---  -----', 'xyz      1', 'q    12345'])
  })

  it('compares each policy to paged: throughput, CPU-time and step ratios, KV share and batch', () => {
    const text = stripAnsi(renderHeadline(results))
    assert.match(text, /offline/)
    const orca = text.split('\n').find((line) => line.startsWith('orca-max'))!
    assert.match(orca, /4\.00x/) // paged 2 req/s over orca-max 0.5 req/s
    assert.match(orca, /5\.00x/) // orca-max takes 500 steps, paged 100
    assert.match(orca, /3\.00x/) // orca-max 60 CPU seconds, paged 20
    assert.match(orca, /20\.0%/)
    const paged = text.split('\n').find((line) => line.startsWith('paged'))!
    assert.match(paged, /97\.0%/)
    assert.match(paged, /12\.50/)
  })

  it("fills an endpoint's batch, KV and preemption columns from its scraped /metrics, and leaves them empty without", () => {
    const scraped = {...run('10.0.0.1:8000', 1, 1, 0.9, 7.25), policy: null, endpoint: 'http://10.0.0.1:8000', projected: null, cpuSeconds: null, loadAverage: null}
    scraped.metrics = {...scraped.metrics, maxBatch: 9, preemptions: 3, peakUsedBlocks: 0}
    const server = {source: 'vllm' as const, samples: 4, meanRunning: 7.25, maxRunning: 9, meanWaiting: 0, meanKvUsage: 0.625, peakKvUsage: 0.9, peakUsedBlocks: null, kvTokenShare: null, preemptions: 3}
    const bare = {...scraped, label: 'stub:1', server: null}
    const text = stripAnsi(renderHeadline({...results, runs: [{...scraped, server}, bare]}))
    const row = text.split('\n').find((line) => line.startsWith('10.0.0.1:8000'))!.split(/\s+/)
    // KV holds tokens (pagedllm servers only), KV used, mean batch, max batch, norm. latency, preempt, peak blocks
    assert.deepEqual(row.slice(-7), ['-', '62.5%', '7.25', '9', '50.0', '3', '-'])
    const bareRow = text.split('\n').find((line) => line.startsWith('stub:1'))!.split(/\s+/)
    assert.deepEqual(bareRow.slice(-7), ['-', '-', '-', '-', '50.0', '-', '-'])
  })

  it('shows the constant-step-cost projection and whether outputs agree', () => {
    assert.match(stripAnsi(renderProjection(results)), /orca-max\s+2\.00\s+1\s+5\.00x/)
    const agreement = stripAnsi(renderOutputAgreement(results))
    assert.match(agreement, /Policies: identical/)
    assert.match(agreement, /Endpoints: outputs differ for 1 requests \(r3\)/)
  })
})
