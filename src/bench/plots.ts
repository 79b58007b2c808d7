// Plots of bench results (the paper's Figures 12, 13 and 2) as vega-lite specs, rendered headless to SVG and PNG.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {TopLevelSpec} from 'vega-lite'
import type {RunResult, SuiteResults} from './bench-suite.js'

/** Short plot subtitle for a workload: its source's name and the request count. */
export function workloadTitle(workload: SuiteResults['workload']): string {
  return `${workload.source.split(' (')[0]}, ${workload.numPrompts} requests`
}

const rateText = (rate: number) => (rate === Infinity ? 'offline' : `${rate} req/s`)
const CONFIG = {background: 'white', font: 'DejaVu Sans', axis: {labelFontSize: 12, titleFontSize: 13}, legend: {labelFontSize: 12, titleFontSize: 12, labelLimit: 480}, title: {fontSize: 15}}

/** Figure 12: normalized latency against request rate, one line per policy or endpoint (finite rates only). */
export function latencyVsRateSpec(runs: readonly RunResult[], workload: string): TopLevelSpec | null {
  const values = runs.filter((run) => Number.isFinite(run.requestRate)).map((run) => ({
    run: run.label,
    rate: run.requestRate,
    latency: run.metrics.normalizedLatencyS,
  }))
  if (new Set(values.map((v) => v.rate)).size < 2) return null
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {text: 'Normalized latency vs request rate', subtitle: `${workload}; lower and further right is better`},
    width: 520,
    height: 320,
    config: CONFIG,
    data: {values},
    mark: {type: 'line', point: {size: 70}, strokeWidth: 2.5},
    encoding: {
      x: {field: 'rate', type: 'quantitative', title: 'Request rate (req/s)'},
      y: {field: 'latency', type: 'quantitative', title: 'Normalized latency (s/token)'},
      color: {field: 'run', type: 'nominal', title: 'Policy / endpoint', sort: runs.map((run) => run.label)},
    },
  }
}

/** Figure 13: mean number of batched requests per policy (and per endpoint that exports it), grouped by request rate. */
export function batchSizeSpec(runs: readonly RunResult[], workload: string): TopLevelSpec | null {
  // Endpoints: the mean of the server's running-requests gauge over the scrapes that saw work.
  const batchRuns = runs.filter((run) => run.policy !== null || (run.server && Number.isFinite(run.server.meanRunning)))
  if (batchRuns.length === 0) return null
  const values = batchRuns.map((run) => ({run: run.label, rate: rateText(run.requestRate), batch: run.metrics.meanBatch}))
  const order = [...new Set(batchRuns.map((run) => run.label))]
  const endpoints = batchRuns.some((run) => run.endpoint !== null)
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Average batched requests per step',
      subtitle: `${workload}; ${endpoints ? "policies: same KV memory; endpoints: their /metrics' running requests" : 'same KV memory for every policy'}`,
    },
    width: 520,
    height: 300,
    config: CONFIG,
    data: {values},
    layer: [
      {mark: {type: 'bar'}},
      {mark: {type: 'text', dy: -8, fontSize: 11}, encoding: {text: {field: 'batch', type: 'quantitative', format: '.1f'}}},
    ],
    encoding: {
      x: {field: 'rate', type: 'nominal', title: 'Request rate', sort: [...new Set(values.map((v) => v.rate))], axis: {labelAngle: 0}, scale: {paddingInner: 0.25}},
      xOffset: {field: 'run', sort: order},
      y: {field: 'batch', type: 'quantitative', title: 'Mean batch size (requests)'},
      color: {field: 'run', type: 'nominal', title: endpoints ? 'Policy / endpoint' : 'Policy', sort: order},
    },
  }
}

const KV_CATEGORIES = [
  {key: 'tokenStates', name: 'Token states', color: '#2e7d32'},
  {key: 'reserved', name: 'Reserved (filled later)', color: '#f9a825'},
  {key: 'internalFragmentation', name: 'Internal fragmentation', color: '#c62828'},
  {key: 'free', name: 'Free', color: '#cfd8dc'},
] as const

/** Figure 2: what the KV pool holds on average, per policy, at the busiest rate run. */
export function kvBreakdownSpec(runs: readonly RunResult[], workload: string): TopLevelSpec | null {
  const engineRuns = runs.filter((run) => run.policy !== null)
  if (engineRuns.length === 0) return null
  const busiest = Math.max(...engineRuns.map((run) => run.requestRate))
  const chosen = engineRuns.filter((run) => run.requestRate === busiest)
  // Segment ends computed here (not by vega-lite's stack) so the labels sit in the middle of their segment.
  const values = chosen.flatMap((run) => {
    let start = 0
    return KV_CATEGORIES.map((category) => {
      const share = run.metrics.kvBreakdown[category.key]
      const segment = {run: run.label, category: category.name, share, start, end: start + share, middle: start + share / 2}
      start += share
      return segment
    })
  })
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'KV cache memory: what it holds',
      // A run whose queue never filled (everything admitted at once) is averaged over all its steps.
      subtitle: `${workload}; ${rateText(busiest)}; mean over steps with requests queued${chosen.some((run) => run.metrics.kvBreakdownScope === 'all') ? ' (all steps if none)' : ''}`,
    },
    width: 560,
    height: {step: 36},
    config: CONFIG,
    data: {values},
    encoding: {y: {field: 'run', type: 'nominal', title: null, sort: chosen.map((run) => run.label)}},
    layer: [
      {
        mark: {type: 'bar'},
        encoding: {
          x: {field: 'start', type: 'quantitative', title: 'Share of the KV pool', axis: {format: '%'}, scale: {domain: [0, 1]}},
          x2: {field: 'end'},
          color: {
            field: 'category', type: 'nominal', title: null, sort: KV_CATEGORIES.map((c) => c.name),
            scale: {domain: KV_CATEGORIES.map((c) => c.name), range: KV_CATEGORIES.map((c) => c.color)},
            legend: {orient: 'bottom', direction: 'horizontal', columns: 4, labelLimit: 400},
          },
        },
      },
      {
        mark: {type: 'text', fontSize: 11, align: 'center'},
        transform: [{filter: 'datum.share >= 0.05'}],
        encoding: {
          x: {field: 'middle', type: 'quantitative'},
          text: {field: 'share', type: 'quantitative', format: '.0%'},
          color: {condition: {test: 'datum.category == "Free"', value: 'black'}, value: 'white'},
        },
      },
    ],
  }
}

/** vega-lite -> vega -> SVG (no canvas needed) -> PNG at twice the size for sharp text. */
export async function renderSpec(spec: TopLevelSpec): Promise<{svg: string; png: Buffer}> {
  // Loaded here, not at the top: vega and vega-lite take ~0.3 s to import, which every bench/compare start would pay.
  const [vega, {compile}, {Resvg}] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')])
  const view = new vega.View(vega.parse(compile(spec).spec), {renderer: 'none'})
  const svg = await view.toSVG()
  view.finalize()
  const png = new Resvg(svg, {fitTo: {mode: 'zoom', value: 2}, font: {loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans'}}).render().asPng()
  return {svg, png}
}

/** Writes every plot the runs allow into dir as NAME.svg and NAME.png; returns the paths written. */
export async function writePlots(runs: readonly RunResult[], workload: string, dir: string): Promise<string[]> {
  const plots = {
    'latency-vs-rate': latencyVsRateSpec(runs, workload),
    'batch-size': batchSizeSpec(runs, workload),
    'kv-memory': kvBreakdownSpec(runs, workload),
  }
  const written: string[] = []
  for (const [name, spec] of Object.entries(plots)) {
    if (!spec) continue
    const {svg, png} = await renderSpec(spec)
    for (const [extension, data] of [['svg', svg], ['png', png]] as const) {
      const path = join(dir, `${name}.${extension}`)
      writeFileSync(path, data)
      written.push(path)
    }
  }
  return written
}
