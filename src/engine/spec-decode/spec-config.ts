// Speculative decoding settings: the method, how many tokens to propose, and when to back off.
import {QUANTIZATIONS, type Quantization} from '../config.js'
import {InvalidRequestError} from '../errors.js'

export type SpeculativeMethod = 'ngram' | 'draft'
export const SPECULATIVE_METHODS: readonly SpeculativeMethod[] = ['ngram', 'draft']

export interface SpeculativeConfig {
  method: SpeculativeMethod
  /** Most tokens proposed per sequence per step (K). */
  numSpeculativeTokens: number
  /** Suffix lengths tried for a prompt-lookup match, longest first. */
  ngramMin: number
  ngramMax: number
  /** Skip speculation in a step with more running decode sequences than this (verification stops paying). */
  maxBatchSize: number
  /**
   * Back-off: per sequence (fewer tokens after a poor proposal, pauses after misses in a row, none while its recent
   * acceptance is below the batch size's break-even, back-off.ts), and globally past maxBatchSize.
   */
  adaptive: boolean
  /** Draft method: the draft checkpoint (HF directory or GGUF file); absent = the target's own weights (with draftQuantization). */
  draftModel?: string
  /** Draft method: quantize the draft's weights at load (self-speculation: the target's weights in 4 or 8 bits). */
  draftQuantization?: Quantization
  /** Draft method: blocks in the draft's own KV pool (default: enough for maxBatchSize sequences at full context). */
  draftNumBlocks?: number
}

/**
 * Measured on a 2-core CPU with tinychat (docs/PERFORMANCE.md): at 4 decoding sequences lookup still paid on both
 * workloads (1.16-1.20x), at 8 it cost 3-5% on a quiet machine, so steps with more than 4 propose nothing.
 */
export const DEFAULT_SPEC_MAX_BATCH = 4
/** The same for a draft model, whose own K steps per proposal cost more than a lookup (docs/PERFORMANCE.md). */
export const DEFAULT_DRAFT_SPEC_MAX_BATCH = 2

/**
 * K = 8 and n-grams of 2-4 tokens: on tinychat's greedy continuations and on "repeat this passage" prompts these gave the
 * most tokens per unit of step cost (docs/PERFORMANCE.md); 1-token matches were mostly rejected, and with the per-sequence
 * back-off a large K costs rows only where proposals keep being accepted.
 */
export const DEFAULT_SPECULATIVE_CONFIG: Omit<SpeculativeConfig, 'method'> = {
  numSpeculativeTokens: 8,
  ngramMin: 2,
  ngramMax: 4,
  maxBatchSize: DEFAULT_SPEC_MAX_BATCH,
  adaptive: true,
}

/** A draft model pays for each proposed token with a draft step, so it proposes fewer (K = 4, as measured) and only at small batches. */
const DEFAULT_DRAFT_CONFIG: Omit<SpeculativeConfig, 'method'> = {...DEFAULT_SPECULATIVE_CONFIG, numSpeculativeTokens: 4, maxBatchSize: DEFAULT_DRAFT_SPEC_MAX_BATCH}

/** Checks ranges and fills defaults; a bad value is a user error naming its flag. */
export function makeSpeculativeConfig(options: Omit<Partial<SpeculativeConfig>, 'method'> & {method: string}): SpeculativeConfig {
  if (!SPECULATIVE_METHODS.includes(options.method as SpeculativeMethod))
    throw new InvalidRequestError(`--speculative-method must be ngram or draft, got ${options.method}`, {param: 'speculative-method'})
  if (options.method === 'draft' && options.draftModel === undefined && options.draftQuantization === undefined)
    throw new InvalidRequestError('--speculative-method draft needs --speculative-model DIR, or --speculative-quantization to draft with the target\'s own weights quantized', {param: 'speculative-model'})
  if (options.method !== 'draft' && (options.draftModel !== undefined || options.draftQuantization !== undefined))
    throw new InvalidRequestError('--speculative-model / --speculative-quantization need --speculative-method draft', {param: 'speculative-model'})
  if (options.draftQuantization !== undefined && !QUANTIZATIONS.includes(options.draftQuantization))
    throw new InvalidRequestError(`--speculative-quantization must be one of ${QUANTIZATIONS.join(', ')}, got ${options.draftQuantization}`, {param: 'speculative-quantization'})
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined))
  const defaults = options.method === 'draft' ? DEFAULT_DRAFT_CONFIG : DEFAULT_SPECULATIVE_CONFIG
  const config = {...defaults, ...defined} as SpeculativeConfig
  // Only --ngram-max given, below the default minimum: match suffixes of up to that length.
  if (defined.ngramMin === undefined) config.ngramMin = Math.min(config.ngramMin, config.ngramMax)
  const positive = (value: number, flag: string, max = 64) => {
    if (!(Number.isInteger(value) && value >= 1 && value <= max)) throw new InvalidRequestError(`--${flag} must be an integer in [1, ${max}], got ${value}`, {param: flag})
  }
  positive(config.numSpeculativeTokens, 'num-speculative-tokens')
  positive(config.ngramMin, 'ngram-min')
  positive(config.ngramMax, 'ngram-max')
  positive(config.maxBatchSize, 'speculative-max-batch', 1 << 20)
  if (config.draftNumBlocks !== undefined) positive(config.draftNumBlocks, 'speculative-num-blocks', 1 << 24)
  if (config.ngramMin > config.ngramMax) throw new InvalidRequestError(`--ngram-min ${config.ngramMin} exceeds --ngram-max ${config.ngramMax}`, {param: 'ngram-min'})
  return config
}

/**
 * vLLM's --speculative-config JSON: {"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_min": 1, "prompt_lookup_max": 4}
 * or {"method": "draft", "model": DIR, "num_speculative_tokens": 4, "quantization": "q4_0"}.
 */
export function parseSpeculativeConfigJson(text: string): Omit<Partial<SpeculativeConfig>, 'method'> & {method: string} {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new InvalidRequestError(`--speculative-config is not JSON: ${(error as Error).message}`, {param: 'speculative-config'})
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidRequestError('--speculative-config must be a JSON object', {param: 'speculative-config'})
  const known: Record<string, keyof SpeculativeConfig> = {
    method: 'method',
    num_speculative_tokens: 'numSpeculativeTokens',
    prompt_lookup_min: 'ngramMin',
    prompt_lookup_max: 'ngramMax',
    max_batch_size: 'maxBatchSize',
    adaptive: 'adaptive',
    model: 'draftModel',
    quantization: 'draftQuantization',
    num_blocks: 'draftNumBlocks',
  }
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(parsed)) {
    const field = known[key]
    if (field === undefined) throw new InvalidRequestError(`--speculative-config: unknown key ${key} (known: ${Object.keys(known).join(', ')})`, {param: 'speculative-config'})
    out[field] = value
  }
  if (typeof out.method !== 'string') throw new InvalidRequestError('--speculative-config needs "method" (ngram or draft)', {param: 'speculative-config'})
  return out as Omit<Partial<SpeculativeConfig>, 'method'> & {method: string}
}
