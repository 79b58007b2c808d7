// Builds a bench workload: a sampled trace (built-in, synthetic or a user's dataset) and its requests per rate.
import {InvalidRequestError} from '../engine/errors.js'
import type {Tokenizer} from '../engine/model/tokenizer.js'
import {readDatasetPairs} from './datasets.js'
import {syntheticTrace, type LengthSpread} from './synthetic-trace.js'
import {fitTrace, loadBuiltinTrace, sampleTrace, sampleTraceFromPairs, traceStats, type BuiltinTrace, type TraceRequest, type TraceStats} from './trace.js'

export type TraceName = BuiltinTrace | 'synthetic'
export const TRACE_NAMES: readonly TraceName[] = ['sharegpt', 'alpaca', 'synthetic']

export interface WorkloadOptions {
  trace: TraceName
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
  const full = loadBuiltinTrace(options.trace)
  const {kept, dropped} = fitTrace(full, maxTotalTokens)
  const trace = sampleTrace(kept, options.numPrompts, options.seed)
  return {source: `${options.trace} (datasets/${options.trace}.jsonl, ${full.length} usable, OPT tokens)`, trace, droppedTooLong: dropped, stats: traceStats(trace)}
}
