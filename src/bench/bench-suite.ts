// Runs a workload on each KV policy (one fresh engine each) and each HTTP endpoint, at each request rate.
import type {EngineConfig, KvPolicy} from '../engine/config.js'
import {InvalidRequestError} from '../engine/errors.js'
import {LLMEngine} from '../engine/llm-engine.js'
import {loadModel} from '../engine/model/load-model.js'
import {arrivalTimes} from './arrivals.js'
import {engineLimits, runOnEngine, type GenerationSettings} from './engine-run.js'
import type {ServerSideStats} from './endpoint-metrics.js'
import {endpointTextPrompts, type PromptFormat} from './endpoint-prompts.js'
import {describeEndpoint, endpointLabels, makeEndpointAgent, runOnEndpoint} from './endpoint-run.js'
import {projectedThroughput, stepTimeByBatch, type RunMetrics, type StepRecord} from './metrics.js'
import {compareOutputHashes, type OutputAgreement} from './output-hash.js'
import {startProgress} from './progress.js'
import {buildBenchRequests} from './prompts.js'
import {median} from './statistics.js'
import {buildWorkload, type Workload, type WorkloadOptions} from './workload.js'

export interface SuiteOptions {
  workload: WorkloadOptions
  requestRates: number[]
  policies: KvPolicy[]
  endpoints: string[]
  /** Names for the endpoints in tables and plots, by position (default host:port). */
  endpointLabels?: string[]
  endpointModel?: string
  /** Seconds an endpoint may send nothing before its request fails (default DEFAULT_ENDPOINT_TIMEOUT_S). */
  endpointTimeoutS?: number
  /** What endpoints are sent: text (default; any server) or token ids of the local model's vocabulary. */
  promptFormat: PromptFormat
  /** Base engine config; each policy run copies it with its own policy. */
  engineConfig: EngineConfig
  generation: GenerationSettings
  /** Constant step cost for the memory-bound projection; default: measured median batch-1 decode step. */
  stepCostMs?: number
  log: (line: string) => void
}

export interface RunResult {
  /** 'paged', 'orca-max', ..., or an endpoint's label (--endpoint-label, else host:port). */
  label: string
  policy: KvPolicy | null
  endpoint: string | null
  requestRate: number
  metrics: RunMetrics
  /** Throughput if every step cost stepCostMs (offline engine runs only). */
  projected: {requestsPerSecond: number; outputTokensPerSecond: number} | null
  stepTimeByBatch: {batch: string; steps: number; medianMs: number}[]
  outputHashes: Record<string, string>
  /** Engine runs: CPU seconds of this process and the 1-minute load average at the end (null for endpoints). */
  cpuSeconds: number | null
  loadAverage: number | null
  /** Every engine step of the run (empty for endpoints), for re-plotting from the JSON. */
  steps: StepRecord[]
  /** Endpoints: what the server's /metrics said during the run (null for engine runs, or a server without them). */
  server: ServerSideStats | null
}

export interface EndpointInfo {
  url: string
  label: string
  model: string
  maxModelLen: number | null
  /** How its prompts were made (text format), or 'token ids'. */
  prompts: string
}

export interface SuiteResults {
  /** requests: the lengths run, in datasets/*.jsonl's names, so other tools (scripts/gpu/hf-generate.py) run the same. */
  workload: Omit<Workload, 'trace'> & {numPrompts: number; seed: number; requests: {prompt_len: number; output_len: number}[]}
  engine: {model: string; blockSize: number; totalBlocks: number; poolTokens: number; maxModelLen: number; prefixCaching: boolean; backend: string; threads: number} | null
  stepCostMs: number | null
  stepCostSource: string
  runs: RunResult[]
  endpoints: EndpointInfo[]
  /** Whether every engine run generated the same tokens for every request. */
  engineOutputs: OutputAgreement | null
  /** Whether the endpoints streamed the same text (for the same rate). */
  endpointOutputs: OutputAgreement | null
}

export function policyLabel(policy: KvPolicy, prefixCaching: boolean): string {
  return policy === 'paged' && !prefixCaching ? 'paged (no prefix cache)' : policy
}

/** Endpoint-only runs that send text from a built-in or synthetic trace need no local model at all. */
export function needsLocalModel(options: {policies: readonly KvPolicy[]; promptFormat: PromptFormat; dataset?: string}): boolean {
  return options.policies.length > 0 || options.promptFormat === 'ids' || options.dataset !== undefined
}

export async function runBenchSuite(options: SuiteOptions): Promise<SuiteResults> {
  const {engineConfig, log} = options
  const createEngine = (policy: KvPolicy) => LLMEngine.create({...engineConfig, policy})
  // The first engine tells the limits (context, pool) the workload must fit; it then serves the first run.
  let firstEngine: LLMEngine | null = options.policies.length > 0 ? await createEngine(options.policies[0]) : null
  try {
    const localModel = needsLocalModel({...options, dataset: options.workload.dataset})
    const model = firstEngine?.model ?? (localModel ? await loadModel(engineConfig.modelPath) : null)
    // Prompt ids must be valid for the weights as well as the tokenizer. Without a local model only text is
    // sent, and the placeholder ids carry nothing but each prompt's traced length.
    const vocab = model
      ? {vocabSize: Math.min(model.tokenizer.vocabSize, model.config.vocabSize), specialTokenIds: model.tokenizer.specialTokenIds}
      : {vocabSize: 1, specialTokenIds: new Set<number>()}
    const limits = firstEngine ? engineLimits(firstEngine) : null
    if (firstEngine && limits && limits.poolTokens < firstEngine.maxModelLen && options.policies.some((p) => p === 'orca-max' || p === 'contiguous')) {
      throw new InvalidRequestError(
        `orca-max and contiguous reserve the whole context (${firstEngine.maxModelLen} tokens) per request, but the KV pool holds ` +
          `${limits.poolTokens}: raise --num-blocks / --kv-memory or lower --max-model-len`,
        {param: 'policies'},
      )
    }
    const labels = endpointLabels(options.endpoints, options.endpointLabels)
    const clash = labels.find((label) => options.policies.some((policy) => policyLabel(policy, engineConfig.enablePrefixCaching) === label))
    if (clash) throw new InvalidRequestError(`endpoint label '${clash}' is also a policy run's label; pick another with --endpoint-label`, {param: 'endpoint-label'})
    const agent = makeEndpointAgent(options.endpointTimeoutS)
    const served = await Promise.all(options.endpoints.map((url) => describeEndpoint(url, options.endpointModel, agent, options.endpointTimeoutS)))
    const endpointLimit = Math.min(Infinity, ...served.map((s) => s.maxModelLen ?? Infinity))
    // Engine runs and id prompts are bound by the local model too; text sized for the servers only by the
    // servers' context, when they say it (else the local model's, if one is loaded).
    const serversBind = options.policies.length === 0 && options.promptFormat === 'text' && Number.isFinite(endpointLimit)
    const localContext = model && !serversBind ? model.config.maxPositionEmbeddings : Infinity
    const maxTotalTokens = Math.min(limits?.maxTotalTokens ?? Math.min(engineConfig.maxModelLen ?? Infinity, localContext), endpointLimit)
    const workload = buildWorkload(options.workload, model?.tokenizer ?? null, maxTotalTokens)
    const engineInfo = firstEngine && limits && {
      model: firstEngine.modelName,
      blockSize: engineConfig.blockSize,
      totalBlocks: limits.poolTokens / engineConfig.blockSize,
      poolTokens: limits.poolTokens,
      maxModelLen: firstEngine.maxModelLen,
      prefixCaching: engineConfig.enablePrefixCaching,
      backend: `${firstEngine.nativeInfo.backend} (${firstEngine.nativeInfo.deviceName})`,
      threads: firstEngine.nativeInfo.threads,
    }
    log(`workload: ${workload.source}; ${workload.trace.length} requests, seed ${options.workload.seed}` +
      (workload.droppedTooLong > 0 ? `; ${workload.droppedTooLong} requests of the source exceed the ${maxTotalTokens} tokens the engine or servers hold and were left out` : ''))
    const endpoints: EndpointInfo[] = []
    const promptTexts: (string[] | undefined)[] = []
    for (const [index, url] of options.endpoints.entries()) {
      const prompts = options.promptFormat === 'text' ? await endpointTextPrompts(url, served[index].model, workload.trace, options.workload.seed, agent) : null
      promptTexts.push(prompts?.texts)
      endpoints.push({url, label: labels[index], model: served[index].model, maxModelLen: served[index].maxModelLen, prompts: prompts?.source ?? 'token ids'})
      log(`endpoint ${labels[index]} (${url}): model ${served[index].model}; prompts: ${prompts?.source ?? "token ids of the local model's vocabulary"}`)
    }

    const runs: RunResult[] = []
    for (const rate of options.requestRates) {
      const requests = buildBenchRequests(workload.trace, arrivalTimes(workload.trace.length, rate, options.workload.seed), vocab, options.workload.seed)
      const rateText = rate === Infinity ? 'offline' : `${rate} req/s`
      for (const policy of options.policies) {
        const engine = firstEngine ?? (await createEngine(policy))
        firstEngine = null
        const label = policyLabel(policy, engineConfig.enablePrefixCaching)
        const progress = startProgress(`${label} @ ${rateText}`, requests.length)
        const started = performance.now()
        const result = await runOnEngine(engine, requests, options.generation, progress.tick).finally(progress.stop)
        log(`${label} @ ${rateText}: ${result.metrics.steps} steps in ${((performance.now() - started) / 1000).toFixed(1)} s`)
        runs.push({label, policy, endpoint: null, requestRate: rate, metrics: result.metrics, projected: null, stepTimeByBatch: stepTimeByBatch(result.steps), outputHashes: result.outputHashes, cpuSeconds: result.cpuSeconds, loadAverage: result.loadAverage, steps: result.steps, server: null})
      }
      for (const [index, endpoint] of endpoints.entries()) {
        const progress = startProgress(`${endpoint.label} @ ${rateText}`, requests.length)
        const result = await runOnEndpoint(endpoint.url, requests, options.generation, {model: endpoint.model, promptTexts: promptTexts[index], onRequestDone: progress.tick, agent}).finally(progress.stop)
        runs.push({label: endpoint.label, policy: null, endpoint: endpoint.url, requestRate: rate, metrics: result.metrics, projected: null, stepTimeByBatch: [], outputHashes: result.outputHashes, cpuSeconds: null, loadAverage: null, steps: [], server: result.server})
      }
    }

    const stepCost = options.stepCostMs !== undefined ? {ms: options.stepCostMs, source: '--step-cost-ms'} : measuredStepCost(runs.flatMap((run) => run.steps))
    for (const run of runs) if (run.policy && run.requestRate === Infinity && stepCost) run.projected = projectedThroughput(run.metrics, stepCost.ms)
    const engineRuns = runs.filter((run) => run.policy !== null)
    const endpointRuns = runs.filter((run) => run.endpoint !== null)
    return {
      workload: {
        source: workload.source, droppedTooLong: workload.droppedTooLong, stats: workload.stats, numPrompts: workload.trace.length, seed: options.workload.seed,
        requests: workload.trace.map((r) => ({prompt_len: r.promptLen, output_len: r.outputLen})),
      },
      engine: engineInfo,
      stepCostMs: stepCost?.ms ?? null,
      stepCostSource: stepCost?.source ?? 'no engine steps',
      runs,
      endpoints,
      engineOutputs: engineRuns.length > 1 ? compareOutputHashes(engineRuns.map((run) => run.outputHashes)) : null,
      endpointOutputs: endpointRuns.length > 1 ? compareOutputHashes(endpointRuns.map((run) => run.outputHashes)) : null,
    }
  } finally {
    await firstEngine?.shutdown() // an engine no run took (error, or no policies ran)
  }
}

/**
 * The cost of one step on a memory-bound device, taken as this machine's median batch-1 decode step (the
 * regime where reading the weights dominates), pooled over all runs; the smallest batch seen if none ran at 1.
 */
function measuredStepCost(steps: StepRecord[]): {ms: number; source: string} | null {
  const buckets = stepTimeByBatch(steps)
  if (buckets.length === 0) return null
  const smallest = buckets[0]
  const batchOne = steps.filter((s) => s.numSeqs === 1 && s.decodeTokens === 1)
  return batchOne.length > 0
    ? {ms: median(batchOne.map((s) => s.durationMs)), source: `median batch-1 decode step of this machine (${batchOne.length} steps)`}
    : {ms: smallest.medianMs, source: `median decode step at batch ${smallest.batch} of this machine`}
}
