// Benchmark metrics as pure functions of per-request timings and per-step engine stats.
import {distribution, median, type Distribution} from './statistics.js'

/** One finished request. Times in seconds on one clock. */
export interface RequestRecord {
  promptLen: number
  /** Tokens generated. */
  outputLen: number
  /** When the request was sent (its scheduled arrival). */
  arrivalTime: number
  firstTokenTime: number
  finishTime: number
}

/** One engine step, as the bench saw it through engine.onStep. */
export interface StepRecord {
  numSeqs: number
  decodeTokens: number
  durationMs: number
  blockSize: number
  totalBlocks: number
  usedBlocks: number
  tokensStored: number
  reservedSlots: number
  /** Tokens the running requests have still to generate (known to the bench from the trace). */
  pendingTokens: number
  /** Requests in the scheduler's waiting queue after the step: admission held back (by memory, mostly). */
  waitingRequests: number
}

/** Shares of the whole KV pool, averaged over steps (the paper's Figure 2 categories). */
export interface KvBreakdown {
  /** Slots holding token states. */
  tokenStates: number
  /** Reserved, empty, and a running request will still fill them. */
  reserved: number
  /** Reserved, empty, and never filled: the reservation outruns the request. */
  internalFragmentation: number
  /** Not reserved by anyone. */
  free: number
}

export interface RunMetrics {
  numRequests: number
  durationS: number
  requestsPerSecond: number
  inputTokensPerSecond: number
  outputTokensPerSecond: number
  /** Mean over requests of end-to-end latency / output tokens, seconds per token (the paper's metric). */
  normalizedLatencyS: number
  e2eLatencyS: Distribution
  ttftS: Distribution
  /** (e2e - ttft) / (output tokens - 1), over requests with more than one output token. */
  tpotS: Distribution
  steps: number
  /** numSeqs per step, averaged over steps (device-independent: no time weighting). */
  meanBatch: number
  maxBatch: number
  /** tokensStored / reservedSlots per step, averaged over steps that reserve anything. */
  kvTokenShare: number
  /** The same share weighted by step duration (what a memory snapshot at a random time would show). */
  kvTokenShareTimeWeighted: number
  kvBreakdown: KvBreakdown
  /** 'queued': averaged over steps with requests waiting (memory is the limit, as in the paper's Figure 2); 'all': (almost) no step had a queue. */
  kvBreakdownScope: 'queued' | 'all'
  peakUsedBlocks: number
  preemptions: number
  /** Output tokens per engine step: throughput in units of steps, independent of the machine. */
  outputTokensPerStep: number
}

export function computeRunMetrics(
  requests: readonly RequestRecord[],
  steps: readonly StepRecord[],
  run: {durationS: number; preemptions: number},
): RunMetrics {
  const inputTokens = requests.reduce((sum, r) => sum + r.promptLen, 0)
  const outputTokens = requests.reduce((sum, r) => sum + r.outputLen, 0)
  const e2e = requests.map((r) => r.finishTime - r.arrivalTime)
  const normalized = requests.filter((r) => r.outputLen > 0).map((r) => (r.finishTime - r.arrivalTime) / r.outputLen)
  const tpot = requests.filter((r) => r.outputLen > 1).map((r) => (r.finishTime - r.firstTokenTime) / (r.outputLen - 1))

  const reserving = steps.filter((s) => s.reservedSlots > 0)
  const shares = reserving.map((s) => s.tokensStored / s.reservedSlots)
  const reservingTime = reserving.reduce((sum, s) => sum + s.durationMs, 0)
  const kv = averageKvBreakdown(steps)

  return {
    numRequests: requests.length,
    durationS: run.durationS,
    requestsPerSecond: requests.length / run.durationS,
    inputTokensPerSecond: inputTokens / run.durationS,
    outputTokensPerSecond: outputTokens / run.durationS,
    normalizedLatencyS: normalized.reduce((sum, v) => sum + v, 0) / Math.max(1, normalized.length),
    e2eLatencyS: distribution(e2e),
    ttftS: distribution(requests.map((r) => r.firstTokenTime - r.arrivalTime)),
    tpotS: distribution(tpot),
    steps: steps.length,
    meanBatch: steps.reduce((sum, s) => sum + s.numSeqs, 0) / Math.max(1, steps.length),
    maxBatch: steps.reduce((max, s) => Math.max(max, s.numSeqs), 0),
    kvTokenShare: shares.reduce((sum, v) => sum + v, 0) / Math.max(1, shares.length),
    kvTokenShareTimeWeighted:
      reservingTime > 0 ? reserving.reduce((sum, s, i) => sum + shares[i] * s.durationMs, 0) / reservingTime : Number.NaN,
    kvBreakdown: kv.breakdown,
    kvBreakdownScope: kv.scope,
    peakUsedBlocks: steps.reduce((max, s) => Math.max(max, s.usedBlocks), 0),
    preemptions: run.preemptions,
    outputTokensPerStep: outputTokens / Math.max(1, steps.length),
  }
}

/**
 * The Figure 2 breakdown averaged over the steps that had requests queued: the drain at the end of a run (a few
 * long requests alone in an emptying pool) says nothing about how a policy uses memory under load. A queue that
 * lasted under a tenth of the steps (e.g. only while the first prompts were prefilled) does not make the run
 * memory-bound, so then every step counts.
 */
export function averageKvBreakdown(steps: readonly StepRecord[]): {breakdown: KvBreakdown; scope: 'queued' | 'all'} {
  const queued = steps.filter((s) => s.waitingRequests > 0)
  const scope = queued.length > 0 && queued.length >= steps.length / 10 ? 'queued' : 'all'
  const breakdowns = (scope === 'queued' ? queued : steps).map(kvBreakdownOfStep)
  const averageOf = (pick: (b: KvBreakdown) => number) => breakdowns.reduce((sum, b) => sum + pick(b), 0) / Math.max(1, breakdowns.length)
  return {
    breakdown: {
      tokenStates: averageOf((b) => b.tokenStates),
      reserved: averageOf((b) => b.reserved),
      internalFragmentation: averageOf((b) => b.internalFragmentation),
      free: averageOf((b) => b.free),
    },
    scope,
  }
}

/**
 * Splits one step's pool into the Figure 2 categories. Empty reserved slots count as "reserved" up to the
 * tokens the running requests still have to generate, the rest as internal fragmentation. (Aggregated over
 * requests, so a paged request's partial last block near its end may count as reserved: an upper bound.)
 */
export function kvBreakdownOfStep(step: StepRecord): KvBreakdown {
  const poolSlots = step.totalBlocks * step.blockSize
  const empty = Math.max(0, step.reservedSlots - step.tokensStored)
  const reserved = Math.min(empty, step.pendingTokens)
  return {
    tokenStates: step.tokensStored / poolSlots,
    reserved: reserved / poolSlots,
    internalFragmentation: (empty - reserved) / poolSlots,
    free: ((step.totalBlocks - step.usedBlocks) * step.blockSize) / poolSlots,
  }
}

/**
 * Throughput a memory-bound device would get, where every step costs the same whatever the batch
 * (the GPU regime of the paper): it follows from the step count alone. Meaningful for offline runs.
 */
export function projectedThroughput(metrics: RunMetrics, stepCostMs: number): {requestsPerSecond: number; outputTokensPerSecond: number} {
  const seconds = (metrics.steps * stepCostMs) / 1000
  return {
    requestsPerSecond: metrics.numRequests / seconds,
    outputTokensPerSecond: (metrics.outputTokensPerStep * metrics.steps) / seconds,
  }
}

/** Median duration of decode-only steps per batch-size bucket (1, 2, 3-4, 5-8, ...): where batching stops paying. */
export function stepTimeByBatch(steps: readonly StepRecord[]): {batch: string; steps: number; medianMs: number}[] {
  const buckets = new Map<number, number[]>()
  for (const step of steps) {
    if (step.numSeqs === 0 || step.decodeTokens !== step.numSeqs) continue // prefill work would blur the cost
    const bucket = 2 ** Math.ceil(Math.log2(step.numSeqs))
    const durations = buckets.get(bucket) ?? []
    durations.push(step.durationMs)
    buckets.set(bucket, durations)
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([bucket, durations]) => ({
      batch: bucket <= 2 ? String(bucket) : `${bucket / 2 + 1}-${bucket}`,
      steps: durations.length,
      medianMs: median(durations),
    }))
}
