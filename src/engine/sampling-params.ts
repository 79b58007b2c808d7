// Per-request sampling parameters (vLLM's SamplingParams), with defaults and validation in one place.
import {InvalidRequestError} from './errors.js'
import type {GuidedSpec} from './guided/guided-spec.js'
import {checkLogitBias, isLogitBias, type LogitBias, logitBiasOf} from './logit-bias.js'

export interface SamplingParams {
  /** Sequences returned. */
  n: number
  /** Sequences generated; the n best by cumulative logprob are returned (>= n). */
  bestOf: number
  temperature: number
  topP: number
  /** 0 or -1 = disabled. */
  topK: number
  minP: number
  presencePenalty: number
  frequencyPenalty: number
  repetitionPenalty: number
  /**
   * Per-request seed: the same seed gives the same random draws. The tokens are also the same whatever else is batched
   * with block-quantized weights on CPU (--quantization, quantized GGUF), whose kernels reduce every row in one fixed
   * order, and with f32/f16/bf16 weights under --batch-invariant; otherwise float logits move by ~1e-5 with batch
   * composition (prefill and steps of 48+ rows sum in another order), which can flip a near-tie. -1 (vLLM's and the
   * OpenAI clients' "none") is read as null.
   */
  seed: number | null
  stop: string[]
  stopTokenIds: number[]
  ignoreEos: boolean
  maxTokens: number
  minTokens: number
  /** Number of top logprobs to return per generated token; null = none (0 = only the sampled token's). */
  logprobs: number | null
  /** Number of top logprobs per prompt token (echo); null = none. */
  promptLogprobs: number | null
  useBeamSearch: boolean
  lengthPenalty: number
  /** Beam search stops once width beams are finished (true), when no live beam can beat them (false), or "never" (HF's). */
  earlyStopping: boolean | 'never'
  skipSpecialTokens: boolean
  includeStopStrInOutput: boolean
  /** OpenAI logit_bias: token id -> value in [-100, 100] added to its logit before penalties and temperature. */
  logitBias: LogitBias | null
  /** Constrained decoding: every sampled token keeps the output inside this grammar; EOS only where it may end. */
  guided: GuidedSpec | null
  /** Only these tokens may be sampled (vLLM's allowed_token_ids); null = any. */
  allowedTokenIds: number[] | null
  /** Words that must not appear in the output (vLLM's bad_words). */
  badWords: string[]
  /**
   * badWords as token sequences (badWordTokenSequences), when tokenized before the request reached the engine (serve
   * does it in its tokenizer workers, off the event loop); null: the engine tokenizes badWords itself.
   */
  badWordTokenIds: number[][] | null
  /**
   * The grammar applies only after the output's first such token (a reasoning parser's end tag: vLLM constrains the
   * answer, not the thinking before it); null = from the first token.
   */
  guidedAfterTokenId: number | null
}

export const DEFAULT_SAMPLING_PARAMS: Readonly<SamplingParams> = Object.freeze({
  n: 1,
  bestOf: 1,
  temperature: 1,
  topP: 1,
  topK: 0,
  minP: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
  repetitionPenalty: 1,
  seed: null,
  stop: [],
  stopTokenIds: [],
  ignoreEos: false,
  maxTokens: 16,
  minTokens: 0,
  logprobs: null,
  promptLogprobs: null,
  useBeamSearch: false,
  lengthPenalty: 1,
  earlyStopping: false,
  skipSpecialTokens: true,
  includeStopStrInOutput: false,
  logitBias: null,
  guided: null,
  allowedTokenIds: null,
  badWords: [],
  badWordTokenIds: null,
  guidedAfterTokenId: null,
})

// Lists whose size sets the engine's work for every token of the request (ids suppressed while min_tokens holds, bad
// words tokenized (on the engine's thread offline; serve's tokenizer workers) and matched each step): bounded, so one request cannot slow every other one.
const MAX_STOP_STRINGS = 16
const MAX_STOP_TOKEN_IDS = 1024
const MAX_BAD_WORDS = 256
const MAX_BAD_WORD_CHARS = 256

/** What makeSamplingParams takes: any fields, logit_bias also as {"<token id>": bias} (made a LogitBias once, here). */
export type SamplingParamsInput = Omit<Partial<SamplingParams>, 'logitBias'> & {logitBias?: LogitBias | Readonly<Record<number, number>> | null}

/** Fills defaults and rejects out-of-range values with an InvalidRequestError naming the field. */
export function makeSamplingParams(partial: SamplingParamsInput = {}): SamplingParams {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined))
  const {logitBias} = partial
  const params: SamplingParams = {...DEFAULT_SAMPLING_PARAMS, ...defined, logitBias: logitBias === undefined || logitBias === null || isLogitBias(logitBias) ? (logitBias ?? null) : logitBiasOf(logitBias)}
  if (partial.bestOf === undefined) params.bestOf = params.n
  // vLLM's SamplingParams: a temperature in (0, 0.01) is raised to 0.01 (sampled, not greedy: only 0 is greedy), and
  // seed -1 is the OpenAI clients' "no seed".
  if (params.temperature > 0 && params.temperature < MIN_SAMPLED_TEMPERATURE) params.temperature = MIN_SAMPLED_TEMPERATURE
  if (params.seed === -1) params.seed = null
  const fail = (param: string, message: string): never => {
    throw new InvalidRequestError(message, {param})
  }
  const isInt = (value: number) => Number.isInteger(value)
  if (!isInt(params.n) || params.n < 1) fail('n', `n must be an integer >= 1, got ${params.n}`)
  if (!isInt(params.bestOf) || params.bestOf < params.n)
    fail('best_of', `best_of must be an integer >= n (${params.n}), got ${params.bestOf}`)
  if (!(params.temperature >= 0 && params.temperature <= 100)) fail('temperature', `temperature must be in [0, 100], got ${params.temperature}`)
  if (!(params.topP > 0 && params.topP <= 1)) fail('top_p', `top_p must be in (0, 1], got ${params.topP}`)
  if (!isInt(params.topK) || params.topK < -1) fail('top_k', `top_k must be -1, 0 (disabled) or a positive integer, got ${params.topK}`)
  if (!(params.minP >= 0 && params.minP <= 1)) fail('min_p', `min_p must be in [0, 1], got ${params.minP}`)
  if (!(params.presencePenalty >= -2 && params.presencePenalty <= 2)) fail('presence_penalty', `presence_penalty must be in [-2, 2], got ${params.presencePenalty}`)
  if (!(params.frequencyPenalty >= -2 && params.frequencyPenalty <= 2)) fail('frequency_penalty', `frequency_penalty must be in [-2, 2], got ${params.frequencyPenalty}`)
  // vLLM bounds repetition_penalty only below (> 0): 3 or 10 are valid there, so they are here.
  if (!(params.repetitionPenalty > 0 && Number.isFinite(params.repetitionPenalty))) fail('repetition_penalty', `repetition_penalty must be a finite number > 0, got ${params.repetitionPenalty}`)
  if (params.seed !== null && !isInt(params.seed)) fail('seed', `seed must be an integer, got ${params.seed}`)
  if (!isInt(params.maxTokens) || params.maxTokens < 1) fail('max_tokens', `max_tokens must be an integer >= 1, got ${params.maxTokens}`)
  if (!isInt(params.minTokens) || params.minTokens < 0 || params.minTokens > params.maxTokens)
    fail('min_tokens', `min_tokens must be an integer in [0, max_tokens], got ${params.minTokens}`)
  if (params.logprobs !== null && (!isInt(params.logprobs) || params.logprobs < 0 || params.logprobs > 20))
    fail('logprobs', `logprobs must be an integer in [0, 20], got ${params.logprobs}`)
  if (params.promptLogprobs !== null && (!isInt(params.promptLogprobs) || params.promptLogprobs < 0 || params.promptLogprobs > 20))
    fail('prompt_logprobs', `prompt_logprobs must be an integer in [0, 20], got ${params.promptLogprobs}`)
  // Counts before items: a list far past its limit is refused without walking it.
  if (params.stop.length > MAX_STOP_STRINGS) fail('stop', `at most ${MAX_STOP_STRINGS} stop strings`)
  if (params.stop.some((s) => typeof s !== 'string' || s.length === 0)) fail('stop', 'stop must be a list of non-empty strings')
  if (params.stopTokenIds.length > MAX_STOP_TOKEN_IDS)
    fail('stop_token_ids', `at most ${MAX_STOP_TOKEN_IDS} stop_token_ids, got ${params.stopTokenIds.length}`)
  if (params.stopTokenIds.some((id) => !isInt(id) || id < 0)) fail('stop_token_ids', 'stop_token_ids must be non-negative integers')
  if (params.logitBias !== null && isLogitBias(logitBias)) checkLogitBias(params.logitBias)
  if (params.allowedTokenIds !== null && (params.allowedTokenIds.length === 0 || params.allowedTokenIds.some((id) => !isInt(id) || id < 0)))
    fail('allowed_token_ids', 'allowed_token_ids must be a non-empty list of non-negative integers')
  if (params.badWords.length > MAX_BAD_WORDS) fail('bad_words', `at most ${MAX_BAD_WORDS} bad_words, got ${params.badWords.length}`)
  if (params.badWords.some((word) => typeof word !== 'string' || word.trim().length === 0)) fail('bad_words', 'bad_words must be a list of non-empty strings')
  if (params.badWords.some((word) => word.length > MAX_BAD_WORD_CHARS)) fail('bad_words', `each of bad_words must be at most ${MAX_BAD_WORD_CHARS} characters`)
  if (params.badWordTokenIds !== null && params.badWordTokenIds.some((ids) => ids.length === 0 || ids.some((id) => !isInt(id) || id < 0)))
    fail('bad_words', 'bad_words token sequences must be non-empty lists of non-negative integers')
  if (params.guidedAfterTokenId !== null && (!isInt(params.guidedAfterTokenId) || params.guidedAfterTokenId < 0))
    fail('guided_after_token_id', `guided_after_token_id must be a non-negative integer, got ${params.guidedAfterTokenId}`)
  if (params.useBeamSearch && params.guided !== null)
    fail(params.guided.param, 'guided decoding (response_format, guided_*, tools) is not supported with beam search')
  if (params.useBeamSearch && (params.allowedTokenIds !== null || params.badWords.length > 0))
    fail(params.allowedTokenIds !== null ? 'allowed_token_ids' : 'bad_words', 'allowed_token_ids and bad_words are not supported with beam search')
  if (params.earlyStopping !== true && params.earlyStopping !== false && params.earlyStopping !== 'never')
    fail('early_stopping', `early_stopping must be true, false or "never", got ${JSON.stringify(params.earlyStopping)}`)
  if (params.useBeamSearch) {
    if (params.bestOf < 2 && params.n < 2) fail('best_of', 'beam search needs a beam width (best_of or n) >= 2')
    if (params.temperature !== 0 && partial.temperature !== undefined && params.temperature !== 1)
      fail('temperature', 'beam search is deterministic: leave temperature unset or 0')
  }
  return params
}

/** Tokens that may not be sampled yet: EOS (unless ignored) and stop_token_ids while fewer than min_tokens are out. */
export function minTokensSuppressed(params: SamplingParams, outputLength: number, eosTokenIds: readonly number[]): number[] {
  return outputLength < params.minTokens ? [...(params.ignoreEos ? [] : eosTokenIds), ...params.stopTokenIds] : []
}

/** The lowest temperature sampled at (vLLM's _MAX_TEMP): makeSamplingParams raises any lower positive one to it. */
export const MIN_SAMPLED_TEMPERATURE = 0.01

/**
 * Temperatures below this are greedy (vLLM's _SAMPLING_EPS). makeSamplingParams never leaves one above 0 (see
 * MIN_SAMPLED_TEMPERATURE); samplers still treat any as greedy, since 1 / T would overflow float32 weights.
 */
export const GREEDY_BELOW_TEMPERATURE = 1e-5

/** Greedy decoding: temperature 0 (or below 1e-5), or top_k 1 (the argmax, ties to the lowest id). */
export function isGreedy(params: SamplingParams): boolean {
  return params.temperature < GREEDY_BELOW_TEMPERATURE || params.topK === 1
}
