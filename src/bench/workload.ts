// Builds a bench workload: a sampled trace (built-in, synthetic or a user's dataset) and its requests per rate.
import {existsSync} from 'node:fs'
import {InvalidRequestError} from '../engine/errors.js'
import type {Tokenizer} from '../engine/model/tokenizer.js'
import {readDatasetPairs} from './datasets.js'
import {syntheticTrace, type LengthSpread} from './synthetic-trace.js'
import {BUILTIN_TRACES, fitTrace, loadBuiltinTrace, readTraceFile, sampleTrace, sampleTraceFromPairs, traceStats, type BuiltinTrace, type TraceRequest, type TraceStats} from './trace.js'

export type TraceName = BuiltinTrace | 'synthetic'
export const TRACE_NAMES: readonly TraceName[] = ['sharegpt', 'alpaca', 'synthetic']

export interface WorkloadOptions {
  /** A TraceName, or the path of the user's own length trace (JSONL). */
  trace: string
  /** A ShareGPT or Alpaca JSON file; overrides trace. */
  dataset?: string
  numPrompts: number
  seed: number
  synthetic: {inputLen: number; outputLen: number; spread: LengthSpread; rangeRatio: number}
}

export interface Workload {
  /** Where the requests came from, in words. */
  source: string
  trace: TraceRequest[]
  /** Requests of the source left out because they exceed the model's context or the KV pool. */
  droppedTooLong: number
  stats: TraceStats
}

/** maxTotalTokens: the most prompt + output tokens the engine can hold (context and pool); tokenizer: for --dataset. */
export function buildWorkload(options: WorkloadOptions, tokenizer: Tokenizer | null, maxTotalTokens: number): Workload {
  if (options.dataset) {
    if (!tokenizer) throw new InvalidRequestError('--dataset needs a model tokenizer to measure its text', {param: 'dataset'})
    const dataset = readDatasetPairs(options.dataset)
    // The dataset's own text, tokenized as the model sees it (vLLM's tokenizer(prompt) adds the BOS too).
    const encode = (text: string) => tokenizer.encode(text, {addSpecialTokens: true})
    const trace = sampleTraceFromPairs(dataset.pairs, encode, {numPrompts: options.numPrompts, seed: options.seed, maxTotalTokens})
    return {source: `${options.dataset} (${dataset.format}, ${dataset.records} records, model tokenizer)`, trace, droppedTooLong: 0, stats: traceStats(trace)}
  }
  if (options.trace === 'synthetic') {
    const {inputLen, outputLen, spread, rangeRatio} = options.synthetic
    const {kept, dropped} = fitTrace(syntheticTrace({...options.synthetic, numPrompts: options.numPrompts, seed: options.seed}), maxTotalTokens)
    // A run of no requests has no figures: its table would be NaN from end to end.
    if (kept.length === 0)
      throw new InvalidRequestError(`no synthetic request fits the ${maxTotalTokens} tokens the engine or servers hold: lower --input-len / --output-len`, {param: 'input-len'})
    return {source: `synthetic (input ${inputLen}, output ${outputLen}, ${spread}${spread === 'uniform' ? ` +-${rangeRatio * 100}%` : ''})`, trace: kept, droppedTooLong: dropped, stats: traceStats(kept)}
  }
  const {requests: full, source} = loadTrace(options.trace)
  const {kept, dropped} = fitTrace(full, maxTotalTokens)
  if (kept.length < options.numPrompts) {
    // A short file of the user's own is the usual case: say that, not that its requests do not fit.
    const fit = (verb: string) => `${verb} the ${maxTotalTokens} tokens (prompt + output) the engine or servers hold`
    const why = full.length < options.numPrompts
      ? `--trace ${options.trace} holds only ${full.length} requests${dropped > 0 ? `, ${kept.length} of which ${fit(kept.length === 1 ? 'fits' : 'fit')}` : ''}`
      : `only ${kept.length} of the ${full.length} requests of --trace ${options.trace} ${fit('fit')}`
    throw new InvalidRequestError(`--num-prompts ${options.numPrompts}: ${why}${kept.length > 0 ? `; give --num-prompts ${kept.length} or fewer` : ''}`, {param: 'num-prompts'})
  }
  const trace = sampleTrace(kept, options.numPrompts, options.seed)
  return {source, trace, droppedTooLong: dropped, stats: traceStats(trace)}
}

/** --trace as requests: a built-in length trace, or the user's own file in its JSONL (checked before any model loads). */
export function loadTrace(trace: string): {requests: TraceRequest[]; source: string} {
  if ((BUILTIN_TRACES as readonly string[]).includes(trace)) {
    const requests = loadBuiltinTrace(trace as BuiltinTrace)
    return {requests, source: `${trace} (datasets/${trace}.jsonl, ${requests.length} usable, OPT tokens)`}
  }
  if (!existsSync(trace))
    throw new InvalidRequestError(`--trace ${trace}: not a built-in trace (${TRACE_NAMES.join(', ')}) nor a trace file (JSONL of {"prompt_len", "output_len"})`, {param: 'trace'})
  const requests = readTraceFile(trace)
  return {requests, source: `${trace} (${requests.length} requests)`}
}
