// Scrapes an endpoint's Prometheus /metrics during a run (pagedllm's or vLLM's names): running batch, KV use, preemptions.
import {setTimeout as sleep} from 'node:timers/promises'
import {request, type Dispatcher} from 'undici'
import {endpointUrl} from './endpoint-url.js'
import {mean} from './statistics.js'

/** What the server said about itself over one run; null fields: the server does not export that figure. */
export interface ServerSideStats {
  /** Whose metric names answered. */
  source: 'pagedllm' | 'vllm'
  /** Scrapes that saw work (requests running or waiting); the means below are over these. */
  samples: number
  meanRunning: number
  maxRunning: number
  meanWaiting: number
  /** Share of the KV pool in use (pagedllm: used blocks / total; vLLM: kv_cache_usage_perc, a 0-1 fraction). */
  meanKvUsage: number | null
  peakKvUsage: number | null
  /** pagedllm only: peak used blocks, and the share of reserved KV slots that hold a token. */
  peakUsedBlocks: number | null
  kvTokenShare: number | null
  /** Growth of the preemption counter over the run. */
  preemptions: number | null
}

interface Sample {
  running: number
  waiting: number
  kvUsage: number | null
  usedBlocks: number | null
  tokenShare: number | null
  preemptionsTotal: number | null
}

type Series = {name: string; labels: string; value: number}[]

/** Prometheus text exposition -> one entry per sample line (histogram buckets included; comments skipped). */
export function parsePrometheusText(text: string): Series {
  const series: Series = []
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line.trim())
    if (!match) continue
    const value = Number(match[3])
    if (!Number.isNaN(value)) series.push({name: match[1], labels: match[2] ?? '', value})
  }
  return series
}

/** Sum over label sets (several engines behind one server add up); null when the name is absent. */
function total(series: Series, name: string, labelPart = ''): number | null {
  const found = series.filter((s) => s.name === name && s.labels.includes(labelPart))
  return found.length === 0 ? null : found.reduce((sum, s) => sum + s.value, 0)
}

function average(series: Series, name: string): number | null {
  const found = series.filter((s) => s.name === name)
  return found.length === 0 ? null : mean(found.map((s) => s.value))
}

/** One scrape in either vocabulary; null when the text has neither server's running-requests gauge. */
export function readSample(series: Series): {source: ServerSideStats['source']; sample: Sample} | null {
  const pagedRunning = total(series, 'pagedllm_num_requests_running')
  if (pagedRunning !== null) {
    const used = total(series, 'pagedllm_kv_blocks', 'state="used"')
    const all = total(series, 'pagedllm_kv_blocks', 'state="total"')
    const waste = total(series, 'pagedllm_kv_waste_ratio')
    return {
      source: 'pagedllm',
      sample: {
        running: pagedRunning,
        waiting: total(series, 'pagedllm_num_requests_waiting') ?? 0,
        kvUsage: used !== null && all ? used / all : null,
        usedBlocks: used,
        tokenShare: waste !== null && used ? 1 - waste : null, // the waste ratio is 0 when nothing is reserved
        preemptionsTotal: total(series, 'pagedllm_num_preemptions_total'),
      },
    }
  }
  const vllmRunning = total(series, 'vllm:num_requests_running')
  if (vllmRunning === null) return null
  return {
    source: 'vllm',
    sample: {
      running: vllmRunning,
      waiting: total(series, 'vllm:num_requests_waiting') ?? 0,
      // vLLM 0.10 renamed gpu_cache_usage_perc to kv_cache_usage_perc; both are fractions in [0, 1].
      kvUsage: average(series, 'vllm:kv_cache_usage_perc') ?? average(series, 'vllm:gpu_cache_usage_perc'),
      usedBlocks: null,
      tokenShare: null,
      preemptionsTotal: total(series, 'vllm:num_preemptions_total') ?? total(series, 'vllm:num_preemptions'),
    },
  }
}

/** Folds the scrapes of one run: means over the scrapes that saw work, the counter's growth from first to last. */
export function summarizeSamples(source: ServerSideStats['source'], samples: readonly Sample[]): ServerSideStats {
  const busy = samples.filter((s) => s.running + s.waiting > 0)
  const known = (values: (number | null)[]) => values.filter((v): v is number => v !== null)
  const kv = known(busy.map((s) => s.kvUsage))
  const blocks = known(busy.map((s) => s.usedBlocks))
  const shares = known(busy.map((s) => s.tokenShare))
  const counters = known(samples.map((s) => s.preemptionsTotal))
  return {
    source,
    samples: busy.length,
    meanRunning: mean(busy.map((s) => s.running)),
    maxRunning: Math.max(0, ...busy.map((s) => s.running)),
    meanWaiting: mean(busy.map((s) => s.waiting)),
    meanKvUsage: kv.length > 0 ? mean(kv) : null,
    peakKvUsage: kv.length > 0 ? Math.max(...kv) : null,
    peakUsedBlocks: blocks.length > 0 ? Math.max(...blocks) : null,
    kvTokenShare: shares.length > 0 ? mean(shares) : null,
    preemptions: counters.length > 0 ? counters[counters.length - 1] - counters[0] : null,
  }
}

/**
 * Polls GET /metrics every intervalMs until stopped (one scrape before the first request, one after the last);
 * stop() may be called more than once.
 * A server without /metrics, or with names we do not know, gives null: its columns stay empty.
 */
export function startMetricsScraper(baseUrl: string, dispatcher: Dispatcher, intervalMs = 100): {stop(): Promise<ServerSideStats | null>} {
  const samples: Sample[] = []
  let source: ServerSideStats['source'] | null = null
  let unavailable = false
  let stopped = false
  const scrape = async () => {
    try {
      const response = await request(endpointUrl(baseUrl, '/metrics'), {dispatcher})
      const text = await response.body.text()
      const read = response.statusCode === 200 ? readSample(parsePrometheusText(text)) : null
      if (!read) return void (unavailable = true)
      source = read.source
      samples.push(read.sample)
    } catch {
      unavailable = true // the run itself reports a dead server; the scraper only goes quiet
    }
  }
  const loop = (async () => {
    await scrape()
    while (!stopped && !unavailable) {
      await sleep(intervalMs)
      if (!stopped) await scrape()
    }
  })()
  let summary: Promise<ServerSideStats | null> | null = null
  const finish = async () => {
    stopped = true
    await loop
    if (!unavailable) await scrape()
    return source && !unavailable ? summarizeSamples(source, samples) : null
  }
  return {stop: () => (summary ??= finish())}
}
