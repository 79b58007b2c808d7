// Request traces (prompt/output token lengths): vLLM's filter rules, summary statistics, seeded sampling.
import {readFileSync} from 'node:fs'
import {readRegularFile} from '../engine/model/regular-file.js'
import {InvalidRequestError} from '../engine/errors.js'
import type {PromptCompletionPair} from './datasets.js'
import {BenchRandom} from './random.js'
import {mean, median, percentile} from './statistics.js'

export interface TraceRequest {
  promptLen: number
  outputLen: number
  /** The prompt itself, when the trace came from dataset text tokenized with the model's tokenizer. */
  promptTokenIds?: number[]
  /** The dataset's prompt text (with promptTokenIds): what a text-prompt endpoint run sends. */
  promptText?: string
}

/** vLLM benchmark filter: drop too-short pairs (TGI errors on them) and anything beyond OPT's 2048 context. */
export interface TraceFilter {
  minLen: number
  maxPromptLen: number
  maxTotalLen: number
}

export const VLLM_TRACE_FILTER: Readonly<TraceFilter> = Object.freeze({minLen: 4, maxPromptLen: 1024, maxTotalLen: 2048})

export function passesFilter(promptLen: number, outputLen: number, filter: TraceFilter = VLLM_TRACE_FILTER): boolean {
  if (promptLen < filter.minLen || outputLen < filter.minLen) return false
  return promptLen <= filter.maxPromptLen && promptLen + outputLen <= filter.maxTotalLen
}

/** Tokenizes each pair and keeps those that pass the filter, in input order. */
export function traceFromPairs(
  pairs: readonly PromptCompletionPair[],
  encode: (text: string) => number[],
  options: {filter?: TraceFilter; keepPromptTokens?: boolean} = {},
): TraceRequest[] {
  const trace: TraceRequest[] = []
  for (const pair of pairs) {
    const promptTokenIds = encode(pair.prompt)
    const outputLen = encode(pair.completion).length
    if (!passesFilter(promptTokenIds.length, outputLen, options.filter)) continue
    trace.push(options.keepPromptTokens ? {promptLen: promptTokenIds.length, outputLen, promptTokenIds, promptText: pair.prompt} : {promptLen: promptTokenIds.length, outputLen})
  }
  return trace
}

export interface LengthSummary {
  mean: number
  median: number
  p90: number
  max: number
}

export interface TraceStats {
  count: number
  prompt: LengthSummary
  output: LengthSummary
}

function summarize(values: number[]): LengthSummary {
  return {mean: mean(values), median: median(values), p90: percentile(values, 90), max: Math.max(...values)}
}

export function traceStats(trace: readonly TraceRequest[]): TraceStats {
  return {
    count: trace.length,
    prompt: summarize(trace.map((r) => r.promptLen)),
    output: summarize(trace.map((r) => r.outputLen)),
  }
}

/** Seeded sample of n requests without replacement (vLLM shuffles, then takes the first n). */
export function sampleTrace(trace: readonly TraceRequest[], n: number, seed: number): TraceRequest[] {
  if (n > trace.length)
    throw new InvalidRequestError(`--num-prompts ${n} exceeds the ${trace.length} usable requests in the trace`, {param: 'num-prompts'})
  return new BenchRandom(seed).shuffled(trace).slice(0, n)
}

/** Drops requests the bench model or KV pool can never hold, and says how many went. */
export function fitTrace(trace: readonly TraceRequest[], maxTotalTokens: number): {kept: TraceRequest[]; dropped: number} {
  const kept = trace.filter((r) => r.promptLen + r.outputLen <= maxTotalTokens)
  return {kept, dropped: trace.length - kept.length}
}

/** Built-in traces: datasets/<name>.jsonl, one {"prompt_len", "output_len"} object per line. */
export const BUILTIN_TRACES = ['sharegpt', 'alpaca'] as const
export type BuiltinTrace = (typeof BUILTIN_TRACES)[number]

export function builtinTracePath(name: BuiltinTrace): URL {
  return new URL(`../../datasets/${name}.jsonl`, import.meta.url)
}

/** One {"prompt_len", "output_len"} object per line (blank lines skipped); a bad line is refused by its number. */
export function parseTraceJsonl(text: string, source = 'trace'): TraceRequest[] {
  const trace: TraceRequest[] = []
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return
    let record: unknown
    try {
      record = JSON.parse(line)
    } catch {
      record = undefined
    }
    const {prompt_len: promptLen, output_len: outputLen} = (typeof record === 'object' && record !== null ? record : {}) as Record<string, unknown>
    const isLength = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 1
    if (!isLength(promptLen) || !isLength(outputLen)) {
      const shown = line.length > 80 ? `${line.slice(0, 80)}...` : line
      throw new InvalidRequestError(`${source} line ${index + 1}: expected {"prompt_len": N, "output_len": N} with whole numbers N >= 1, got ${shown}`, {param: 'trace'})
    }
    trace.push({promptLen, outputLen})
  })
  return trace
}

/** A user's own length trace (--trace FILE), in the built-in traces' JSONL; refused by name when unreadable or empty. */
export function readTraceFile(path: string): TraceRequest[] {
  let text: string
  try {
    text = readRegularFile(path).toString('utf8')
  } catch (error) {
    throw new InvalidRequestError(`--trace ${path}: cannot read it (${(error as Error).message})`, {param: 'trace'})
  }
  const trace = parseTraceJsonl(text, `--trace ${path}`)
  if (trace.length === 0) throw new InvalidRequestError(`--trace ${path}: no requests; expected one {"prompt_len": N, "output_len": N} object per line`, {param: 'trace'})
  return trace
}

export function formatTraceJsonl(trace: readonly TraceRequest[]): string {
  return trace.map((r) => JSON.stringify({prompt_len: r.promptLen, output_len: r.outputLen})).join('\n') + '\n'
}

export function loadBuiltinTrace(name: BuiltinTrace): TraceRequest[] {
  return parseTraceJsonl(readFileSync(builtinTracePath(name), 'utf8'), `datasets/${name}.jsonl`)
}

/**
 * vLLM's sampling from a full dataset: shuffle with the seed, then tokenize pairs in that order until n
 * pass the filter and fit maxTotalTokens (tokenizing all of ShareGPT's 90k conversations would take minutes).
 */
export function sampleTraceFromPairs(
  pairs: readonly PromptCompletionPair[],
  encode: (text: string) => number[],
  options: {numPrompts: number; seed: number; maxTotalTokens: number; filter?: TraceFilter},
): TraceRequest[] {
  const trace: TraceRequest[] = []
  for (const pair of new BenchRandom(options.seed).shuffled(pairs)) {
    if (trace.length === options.numPrompts) break
    const [request] = traceFromPairs([pair], encode, {filter: options.filter, keepPromptTokens: true})
    if (request && request.promptLen + request.outputLen <= options.maxTotalTokens) trace.push(request)
  }
  if (trace.length < options.numPrompts) {
    const {minLen, maxPromptLen, maxTotalLen} = options.filter ?? VLLM_TRACE_FILTER
    throw new InvalidRequestError(
      `the dataset has only ${trace.length} usable pairs of its ${pairs.length} for --num-prompts ${options.numPrompts} (vLLM's filter: prompt and output of ` +
        `${minLen}+ tokens each, prompt at most ${maxPromptLen}, together at most ${Math.min(maxTotalLen, options.maxTotalTokens)})`,
      {param: 'num-prompts'},
    )
  }
  return trace
}
