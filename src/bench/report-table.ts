// Renders bench results as coloured terminal tables: each policy against paged, and step time by batch size.
import chalk from 'chalk'
import type {RunResult, SuiteResults} from './bench-suite.js'

const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '')

/** Aligns cells (right-aligned, first column left) by their visible width, ignoring colour codes. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((cell, column) => Math.max(stripAnsi(cell).length, ...rows.map((row) => stripAnsi(row[column]).length)))
  const pad = (cell: string, column: number) => {
    const fill = ' '.repeat(widths[column] - stripAnsi(cell).length)
    return column === 0 ? cell + fill : fill + cell
  }
  const line = (cells: string[]) => cells.map(pad).join('  ')
  return [chalk.bold(line(header)), chalk.dim(widths.map((w) => '-'.repeat(w)).join('  ')), ...rows.map(line)].join('\n')
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-')
const percent = (share: number) => (Number.isFinite(share) ? `${(share * 100).toFixed(1)}%` : '-')
const ms = (seconds: number) => fixed(seconds * 1000, 1)

export function rateLabel(rate: number): string {
  return rate === Infinity ? 'offline (all at t=0)' : `${rate} req/s (Poisson)`
}

/** One table per request rate: every run beside the paged run of that rate. */
export function renderHeadline(results: SuiteResults): string {
  const sections: string[] = []
  for (const rate of [...new Set(results.runs.map((run) => run.requestRate))]) {
    const runs = results.runs.filter((run) => run.requestRate === rate)
    const paged = runs.find((run) => run.policy === 'paged')
    const header = ['run', 'req/s', 'out tok/s', 'paged/this', 'CPU s', 'paged/this CPU', 'load', 'steps', 'tok/step', 'paged/this steps', 'KV holds tokens', 'KV used', 'mean batch', 'max batch', 'norm. lat. ms/tok', 'preempt', 'peak blocks']
    const rows = runs.map((run) => headlineRow(run, paged))
    sections.push(`${chalk.bold.underline(rateLabel(rate))}\n${renderTable(header, rows)}`)
  }
  return sections.join('\n\n')
}

function headlineRow(run: RunResult, paged: RunResult | undefined): string[] {
  const m = run.metrics
  const engine = run.policy !== null
  const ratio = (value: number) => {
    const text = fixed(value, 2) + 'x'
    return value >= 2 ? chalk.green(text) : value >= 1 ? text : chalk.red(text)
  }
  const throughputRatio = paged && run !== paged ? ratio(paged.metrics.requestsPerSecond / m.requestsPerSecond) : '-'
  const stepRatio = paged && run !== paged && engine ? ratio(m.steps / paged.metrics.steps) : '-'
  const cpuRatio = paged?.cpuSeconds && run !== paged && run.cpuSeconds ? ratio(run.cpuSeconds / paged.cpuSeconds) : '-'
  // Endpoints: batch, KV and preemption figures come from the server's /metrics, when it has them.
  const server = run.server
  const scraped = server != null && server.samples > 0 // a run shorter than the scrape interval saw no work
  const share = engine || (scraped && server.kvTokenShare !== null) ? percent(m.kvTokenShare) : '-'
  const kvUsed = engine ? percent(meanPoolUse(run)) : scraped && server.meanKvUsage !== null ? percent(server.meanKvUsage) : '-'
  return [
    run.policy === 'paged' ? chalk.cyan(run.label) : run.label,
    fixed(m.requestsPerSecond, 3),
    fixed(m.outputTokensPerSecond, 1),
    throughputRatio,
    run.cpuSeconds === null ? '-' : fixed(run.cpuSeconds, 1),
    cpuRatio,
    run.loadAverage === null ? '-' : fixed(run.loadAverage, 1),
    engine ? String(m.steps) : '-',
    engine ? fixed(m.outputTokensPerStep, 2) : '-',
    stepRatio,
    m.kvTokenShare >= 0.96 ? chalk.green(share) : share,
    kvUsed,
    engine || scraped ? fixed(m.meanBatch, 2) : '-',
    engine || scraped ? String(m.maxBatch) : '-',
    ms(m.normalizedLatencyS),
    engine || server?.preemptions != null ? String(m.preemptions) : '-',
    engine || (scraped && server.peakUsedBlocks !== null) ? String(m.peakUsedBlocks) : '-',
  ]
}

/** Mean share of the KV pool in used blocks over an engine run's steps. */
function meanPoolUse(run: RunResult): number {
  const steps = run.steps.filter((s) => s.totalBlocks > 0)
  return steps.reduce((sum, s) => sum + s.usedBlocks / s.totalBlocks, 0) / steps.length
}

/** TTFT, TPOT and end-to-end latency distributions, per run. */
export function renderLatencies(results: SuiteResults): string {
  const triple = (d: {mean: number; median: number; p99: number}) => `${ms(d.mean)} / ${ms(d.median)} / ${ms(d.p99)}`
  const rows = results.runs.map((run) => [
    `${run.label} @ ${run.requestRate === Infinity ? 'offline' : `${run.requestRate} req/s`}`,
    triple(run.metrics.ttftS),
    triple(run.metrics.tpotS),
    triple(run.metrics.e2eLatencyS),
  ])
  return `${chalk.bold('Latency')}, ms mean / median / p99:\n${renderTable(['run', 'TTFT', 'TPOT', 'end-to-end'], rows)}`
}

/** Modelled throughput of a memory-bound device (steps x a constant step cost), offline engine runs only; labelled as a model. */
export function renderProjection(results: SuiteResults): string {
  const runs = results.runs.filter((run) => run.projected)
  if (runs.length === 0 || results.stepCostMs === null) return ''
  const paged = runs.find((run) => run.policy === 'paged')
  const rows = runs.map((run) => [
    run.label,
    fixed(run.projected!.requestsPerSecond, 2),
    fixed(run.projected!.outputTokensPerSecond, 0),
    paged && run !== paged ? `${fixed(paged.projected!.requestsPerSecond / run.projected!.requestsPerSecond, 2)}x` : '-',
  ])
  return `${chalk.bold(`Modelled, not measured: steps x ${results.stepCostMs.toFixed(2)} ms`)} (${results.stepCostSource}). ` +
    'Assumes every step costs the same whatever its batch, as on a memory-bound GPU that reads the weights once per step; ' +
    'ignores prefill compute, attention over long contexts and scheduling overhead:\n' +
    renderTable(['run', 'model req/s', 'model out tok/s', 'paged/this'], rows)
}

/** Where batching stops paying on this machine: median decode step time per batch bucket, per run. */
export function renderStepTimes(results: SuiteResults): string {
  const runs = results.runs.filter((run) => run.stepTimeByBatch.length > 0 && run.requestRate === results.runs[0].requestRate)
  if (runs.length === 0) return ''
  const buckets = [...new Set(runs.flatMap((run) => run.stepTimeByBatch.map((b) => b.batch)))]
  buckets.sort((a, b) => Number(a.split('-').pop()) - Number(b.split('-').pop()))
  const rows = buckets.map((bucket) => [
    bucket,
    ...runs.map((run) => {
      const found = run.stepTimeByBatch.find((b) => b.batch === bucket)
      return found ? `${found.medianMs.toFixed(1)} (${found.steps})` : '-'
    }),
  ])
  return `${chalk.bold('Decode step time by batch size')}, median ms (steps):\n${renderTable(['batch', ...runs.map((run) => run.label)], rows)}`
}

export function renderOutputAgreement(results: SuiteResults): string {
  const parts: string[] = []
  const describe = (what: string, agreement: SuiteResults['engineOutputs']) => {
    if (!agreement) return
    parts.push(agreement.identical
      ? chalk.green(`${what}: identical output tokens for every request`)
      : chalk.red(`${what}: outputs differ for ${agreement.mismatched.length} requests (${agreement.mismatched.slice(0, 5).join(', ')}${agreement.mismatched.length > 5 ? ', ...' : ''})`))
  }
  describe('Policies', results.engineOutputs)
  describe('Endpoints', results.endpointOutputs)
  return parts.join('\n')
}
