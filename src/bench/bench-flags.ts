// The flags `pagedllm bench` and `pagedllm compare` share, and how they become a bench suite's options.
import {Flags} from '@oclif/core'
import {KV_POLICIES, type KvPolicy} from '../engine/config.js'
import {InvalidRequestError} from '../engine/errors.js'
import {ensureTestModel, testModelParameterCount} from '../engine/model/test-model.js'
import {engineConfigFromFlags, engineFlags, resolveModelFlag} from '../cli/engine-flags.js'
import {numberFlag} from '../cli/number-flag.js'
import {parseRequestRate, parseRequestRates} from './arrivals.js'
import {needsLocalModel, type SuiteOptions} from './bench-suite.js'
import type {PromptFormat} from './endpoint-prompts.js'
import {LENGTH_SPREADS, type LengthSpread} from './synthetic-trace.js'
import {loadTrace, TRACE_NAMES, type TraceName} from './workload.js'

/**
 * 256 blocks x 16 tokens = 4096 KV tokens: orca-max reserves the bench model's whole 2048-token context per
 * request, so it fits 2 requests, while paged fits a dozen ShareGPT requests (~340 live tokens on average).
 */
export const DEFAULT_BENCH_NUM_BLOCKS = 256

/** The one default workload of `bench` and `compare`: ShareGPT, the vLLM paper's main trace, 30 requests. */
export const DEFAULT_TRACE: TraceName = 'sharegpt'
export const DEFAULT_NUM_PROMPTS = 30

/** Printed after the default run: why its model, pool and prompt count were chosen. */
export function whyDefaults(): string {
  const parameters = testModelParameterCount('bench')
  return (
    `Why these defaults: the 'bench' model (${(parameters / 1e6).toFixed(0)}M parameters, ${((parameters * 4) / 1e6).toFixed(0)} MB of f32 weights) ` +
    'is far beyond a 32 MB L3 cache, so a batch-1 decode step reads its weights from memory as on a GPU; 30 prompts ' +
    `keep the run (mostly orca-max's thousands of batch-2 steps) to minutes on 2 cores. The KV pool (${DEFAULT_BENCH_NUM_BLOCKS} blocks x 16 = ${DEFAULT_BENCH_NUM_BLOCKS * 16} tokens) ` +
    'is small enough that memory binds: orca-max reserves the 2048-token context per request and fits 2 requests; ' +
    'paged fits as many as their actual tokens allow. Batch sizes, KV shares, preemptions and steps do not depend ' +
    'on the machine; requests/s does (on a small CPU a step turns compute-bound at small batches), hence the ' +
    'constant-step-cost model (steps x the batch-1 step time) beside it.'
  )
}

const {policy: _policy, 'kv-memory': _kvMemory, ...sharedEngineFlags} = engineFlags

export const benchFlags = {
  ...sharedEngineFlags,
  model: Flags.string({char: 'm', description: "Model directory, GGUF file or hub id (default: the built-in seeded-random 'bench' model, generated once under .cache/)"}),
  'kv-memory': Flags.string({description: `KV cache size (e.g. 64MiB); default ${DEFAULT_BENCH_NUM_BLOCKS} blocks (--num-blocks)`}),
  trace: Flags.string({
    description: `Workload: ${TRACE_NAMES.join(', ')} (the built-in ShareGPT or Alpaca length traces in datasets/, or synthetic lengths), or your own length trace file: one {"prompt_len": N, "output_len": N} per line`,
    default: DEFAULT_TRACE,
  }),
  dataset: Flags.string({description: "Your own ShareGPT or Alpaca JSON file (format auto-detected, tokenized with the model's tokenizer); overrides --trace"}),
  // Each request is held in memory from the start: a typo of 1e8 would exhaust it before the first step.
  'num-prompts': Flags.integer({description: 'Requests sampled from the trace (at most 100000)', default: DEFAULT_NUM_PROMPTS, min: 1, max: 100_000}),
  'input-len': Flags.integer({description: 'Synthetic trace: mean prompt length', default: 256, min: 1}),
  'output-len': Flags.integer({description: 'Synthetic trace: mean output length', default: 256, min: 1}),
  spread: Flags.string({description: 'Synthetic trace: length distribution around the means', options: [...LENGTH_SPREADS], default: 'uniform'}),
  'range-ratio': numberFlag({description: 'Synthetic uniform spread: lengths within mean*(1 +- ratio)', default: 0.5}),
  'request-rate': Flags.string({description: 'Requests per second (Poisson arrivals), or inf to send all at t=0', default: 'inf'}),
  'request-rates': Flags.string({description: 'A sweep of rates, e.g. 1,2,4,inf (overrides --request-rate)'}),
  policies: Flags.string({description: `KV policies to compare, each on a fresh engine: ${KV_POLICIES.join(', ')}`, default: 'paged,orca-max,orca-oracle'}),
  temperature: numberFlag({description: 'Sampling temperature; 0 = greedy, above 0 each request is seeded (seed + index)', default: 0}),
  'step-cost-ms': numberFlag({description: 'Step cost for the memory-bound projection model (default: measured median batch-1 decode step)'}),
  json: Flags.string({description: 'Write all results (per run, per step summary, output hashes) to this JSON file'}),
}

export function parsePolicies(text: string): KvPolicy[] {
  const policies = text.split(',').map((p) => p.trim()).filter(Boolean)
  const unknown = policies.filter((p) => !(KV_POLICIES as readonly string[]).includes(p))
  if (unknown.length > 0 || policies.length === 0)
    throw new InvalidRequestError(`--policies: unknown ${unknown.join(', ') || '(none given)'}; choose from ${KV_POLICIES.join(', ')}`, {param: 'policies'})
  // The same policy twice is the same run twice: a typo, and a table with two rows of one label.
  const repeated = policies.find((policy, index) => policies.indexOf(policy) !== index)
  if (repeated !== undefined) throw new InvalidRequestError(`--policies: ${repeated} is given twice`, {param: 'policies'})
  return policies as KvPolicy[]
}

/** The synthetic trace's flags given for another workload would do nothing: refused, naming the flag. */
export function refuseIdleTraceFlags(flags: Record<string, any>, given: ReadonlySet<string>): void {
  const synthetic = flags.trace === 'synthetic' && !flags.dataset
  const idle = ['input-len', 'output-len', 'spread', 'range-ratio'].find((name) => given.has(name))
  if (idle !== undefined && !synthetic)
    throw new InvalidRequestError(`--${idle} shapes the synthetic trace: it needs --trace synthetic${flags.dataset ? ' and no --dataset' : ''}`, {param: idle})
  if (given.has('range-ratio') && flags.spread !== 'uniform')
    throw new InvalidRequestError(`--range-ratio sets the width of --spread uniform, not ${flags.spread}`, {param: 'range-ratio'})
}

const nonNegative = (value: number, flag: string) => {
  if (!(value >= 0)) throw new InvalidRequestError(`--${flag} must be >= 0, got ${value}`, {param: flag})
  return value
}

/** Flags -> suite options; the model is resolved (or the bench model generated) here. */
export async function suiteOptionsFromFlags(
  flags: Record<string, any>,
  extra: {policies: KvPolicy[]; endpoints: string[]; endpointLabels?: string[]; endpointModel?: string; endpointTimeoutS?: number; promptFormat?: PromptFormat; log: (line: string) => void},
): Promise<SuiteOptions> {
  const promptFormat = extra.promptFormat ?? 'text'
  // No local model (modelPath '') when the run needs none: endpoints only, sent text from a built-in trace.
  // A trace file is read and checked now: a typo or a bad line is refused before any model loads.
  if (!flags.dataset && flags.trace !== 'synthetic') loadTrace(flags.trace)
  const modelNeeded = needsLocalModel({policies: extra.policies, promptFormat, dataset: flags.dataset})
  const modelPath = !modelNeeded ? '' : ((await resolveModelFlag(flags)) ?? (await ensureTestModel('bench')))
  const numBlocks = flags['num-blocks'] ?? (flags['kv-memory'] ? undefined : DEFAULT_BENCH_NUM_BLOCKS)
  const engineConfig = engineConfigFromFlags({...flags, policy: 'paged', 'num-blocks': numBlocks}, modelPath)
  return {
    workload: {
      trace: flags.trace,
      dataset: flags.dataset,
      numPrompts: flags['num-prompts'],
      seed: flags.seed,
      synthetic: {inputLen: flags['input-len'], outputLen: flags['output-len'], spread: flags.spread as LengthSpread, rangeRatio: nonNegative(flags['range-ratio'], 'range-ratio')},
    },
    requestRates: flags['request-rates'] ? parseRequestRates(flags['request-rates']) : [parseRequestRate(flags['request-rate'])],
    policies: extra.policies,
    endpoints: extra.endpoints,
    endpointLabels: extra.endpointLabels,
    endpointModel: extra.endpointModel,
    endpointTimeoutS: extra.endpointTimeoutS,
    promptFormat,
    engineConfig,
    generation: {temperature: nonNegative(flags.temperature, 'temperature'), seed: flags.seed},
    stepCostMs: flags['step-cost-ms'] === undefined ? undefined : nonNegative(flags['step-cost-ms'], 'step-cost-ms'),
    log: extra.log,
  }
}

/** JSON with Infinity rates written as "inf". */
export function resultsJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (v === Infinity ? 'inf' : v), 2) + '\n'
}
