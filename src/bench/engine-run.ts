// Runs one bench workload on one engine instance (one KV policy) and records per-request and per-step numbers.
import {loadavg} from 'node:os'
import {setImmediate as nextTurn, setTimeout as sleep} from 'node:timers/promises'
import {type LLMEngine, nowSeconds, type StepStats} from '../engine/llm-engine.js'
import {makeSamplingParams} from '../engine/sampling-params.js'
import {computeRunMetrics, type RequestRecord, type RunMetrics, type StepRecord} from './metrics.js'
import {hashTokenIds} from './output-hash.js'
import type {BenchRequest} from './prompts.js'

export interface GenerationSettings {
  /** 0 = greedy. Above 0 each request gets seed + its index, so outputs do not depend on batching. */
  temperature: number
  seed: number
}

export interface EngineRunResult {
  metrics: RunMetrics
  /** CPU time this process spent (all threads): less sensitive than wall time to other work on the machine. */
  cpuSeconds: number
  /** 1-minute load average at the end of the run, to tell a contended measurement. */
  loadAverage: number
  steps: StepRecord[]
  /** requestId -> hash of its output token ids. */
  outputHashes: Record<string, string>
}

/** The most prompt + output tokens one request may have (the context, and the whole KV pool), and the pool size. */
export function engineLimits(engine: LLMEngine): {maxTotalTokens: number; poolTokens: number} {
  const kv = engine.stats().kv
  const poolTokens = kv.totalBlocks * kv.blockSize
  return {maxTotalTokens: Math.min(engine.maxModelLen, poolTokens), poolTokens}
}

/**
 * Sends the requests at their arrival offsets, waits for all, and measures. The engine is created by the
 * caller (so it can read the limits first) and shut down here, so runs share nothing.
 */
export async function runOnEngine(
  engine: LLMEngine,
  requests: readonly BenchRequest[],
  settings: GenerationSettings,
  onRequestDone: () => void = () => {},
): Promise<EngineRunResult> {
  const steps: StepRecord[] = []
  const generated = new Map<string, number>()
  const outputLenById = new Map(requests.map((r) => [r.requestId, r.outputLen]))
  const pendingTokens = () => {
    let pending = 0
    for (const [id, count] of generated) pending += outputLenById.get(id)! - count
    return pending
  }
  engine.onStep((stats: StepStats) => {
    // The step's outputs reach the request streams through promise callbacks that run after this
    // listener; reading the pending tokens one macrotask later sees them, before the next step starts.
    const record = {...stepRecordOf(stats), waitingRequests: engine.stats().numWaiting}
    setImmediate(() => steps.push({...record, pendingTokens: pendingTokens()}))
  })

  try {
    const outputHashes: Record<string, string> = {}
    const cpuAtStart = process.cpuUsage()
    const start = nowSeconds()
    const records = await Promise.all(
      requests.map(async (request, index): Promise<RequestRecord> => {
        const arrivalTime = start + request.arrivalOffset
        const wait = arrivalTime - nowSeconds()
        if (wait > 0) await sleep(wait * 1000)
        const handle = engine.addRequest({
          requestId: request.requestId,
          prompt: request.promptTokenIds,
          arrivalTime,
          params: makeSamplingParams({
            maxTokens: request.outputLen,
            ignoreEos: true,
            temperature: settings.temperature,
            seed: settings.temperature > 0 ? settings.seed + index : null,
          }),
        })
        let firstTokenTime = Number.NaN
        let tokenIds: number[] = []
        for await (const output of handle) {
          tokenIds = output.outputs[0]?.tokenIds ?? []
          if (tokenIds.length > 0 && Number.isNaN(firstTokenTime)) firstTokenTime = nowSeconds()
          if (output.finished) generated.delete(request.requestId)
          else generated.set(request.requestId, tokenIds.length)
        }
        const final = await handle.result()
        onRequestDone()
        outputHashes[request.requestId] = hashTokenIds(tokenIds)
        return {
          promptLen: request.promptTokenIds.length,
          outputLen: tokenIds.length,
          arrivalTime,
          firstTokenTime: final.metrics.firstTokenTime ?? firstTokenTime,
          finishTime: final.metrics.finishedTime ?? nowSeconds(),
        }
      }),
    )
    const durationS = Math.max(...records.map((r) => r.finishTime)) - start
    await nextTurn() // the last step's record lands one macrotask after it
    const preemptions = engine.stats().numPreemptions
    const cpu = process.cpuUsage(cpuAtStart)
    return {
      metrics: computeRunMetrics(records, steps, {durationS, preemptions}),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      loadAverage: loadavg()[0],
      steps,
      outputHashes,
    }
  } finally {
    await engine.shutdown()
  }
}

function stepRecordOf(stats: StepStats): Omit<StepRecord, 'pendingTokens' | 'waitingRequests'> {
  return {
    numSeqs: stats.numSeqs,
    decodeTokens: stats.numDecodeTokens,
    durationMs: stats.durationMs,
    blockSize: stats.kv.blockSize,
    totalBlocks: stats.kv.totalBlocks,
    usedBlocks: stats.kv.usedBlocks,
    tokensStored: stats.kv.tokensStored,
    reservedSlots: stats.kv.reservedSlots,
  }
}
