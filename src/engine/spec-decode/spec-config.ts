// Speculative decoding settings: the method, how many tokens to propose, and when to back off.
import {InvalidRequestError} from '../errors.js'

export type SpeculativeMethod = 'ngram'

export interface SpeculativeConfig {
  method: SpeculativeMethod
  /** Most tokens proposed per sequence per step (K). */
  numSpeculativeTokens: number
  /** Suffix lengths tried for a prompt-lookup match, longest first. */
  ngramMin: number
  ngramMax: number
  /** Skip speculation in a step with more running decode sequences than this (verification stops paying). */
  maxBatchSize: number
  /** Back-off: per sequence (fewer tokens after a poor proposal, pauses after misses in a row), and globally past maxBatchSize. */
  adaptive: boolean
}

/** Measured on a 2-core CPU with tinychat (docs/PERFORMANCE.md): past this many sequences speculation costs more than it saves. */
export const DEFAULT_SPEC_MAX_BATCH = 8

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

/** Checks ranges and fills defaults; a bad value is a user error naming its flag. */
export function makeSpeculativeConfig(options: Omit<Partial<SpeculativeConfig>, 'method'> & {method: string}): SpeculativeConfig {
  if (options.method !== 'ngram') {
    const hint = options.method === 'draft' ? ' (a draft model proposer is not built yet; use ngram)' : ''
    throw new InvalidRequestError(`--speculative-method must be ngram, got ${options.method}${hint}`, {param: 'speculative-method'})
  }
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined))
  const config = {...DEFAULT_SPECULATIVE_CONFIG, ...defined} as SpeculativeConfig
  // Only --ngram-max given, below the default minimum: match suffixes of up to that length.
  if (defined.ngramMin === undefined) config.ngramMin = Math.min(config.ngramMin, config.ngramMax)
  const positive = (value: number, flag: string, max = 64) => {
    if (!(Number.isInteger(value) && value >= 1 && value <= max)) throw new InvalidRequestError(`--${flag} must be an integer in [1, ${max}], got ${value}`, {param: flag})
  }
  positive(config.numSpeculativeTokens, 'num-speculative-tokens')
  positive(config.ngramMin, 'ngram-min')
  positive(config.ngramMax, 'ngram-max')
  positive(config.maxBatchSize, 'speculative-max-batch', 1 << 20)
  if (config.ngramMin > config.ngramMax) throw new InvalidRequestError(`--ngram-min ${config.ngramMin} exceeds --ngram-max ${config.ngramMax}`, {param: 'ngram-min'})
  return config
}

/** vLLM's --speculative-config JSON ({"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_min": 1, "prompt_lookup_max": 4}). */
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
  }
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(parsed)) {
    const field = known[key]
    if (field === undefined) throw new InvalidRequestError(`--speculative-config: unknown key ${key} (known: ${Object.keys(known).join(', ')})`, {param: 'speculative-config'})
    out[field] = value
  }
  if (typeof out.method !== 'string') throw new InvalidRequestError('--speculative-config needs "method" (ngram)', {param: 'speculative-config'})
  return out as Omit<Partial<SpeculativeConfig>, 'method'> & {method: string}
}
