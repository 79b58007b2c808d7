// Validates the fields both OpenAI endpoints share (plus vLLM's extras) and /v1/completions' own, mapping them onto prompts and SamplingParams.
import {ContextLengthError, InvalidRequestError, NotFoundError} from '../engine/errors.js'
import {type LogitBias, logitBiasFromPairs} from '../engine/logit-bias.js'
import type {ModelSamplingDefaults} from '../engine/model/load-model.js'
import type {SpecHandoff} from '../engine/guided/spec-handoff.js'
import {makeSamplingParams, type SamplingParams} from '../engine/sampling-params.js'
import {parseAllowedTokenIds, parseBadWords, parseGuided} from './guided-fields.js'
import {
  type JsonObject,
  optionalBoolean,
  optionalInteger,
  optionalIntegerList,
  optionalNumber,
  optionalObject,
  optionalString,
  optionalStringList,
  rejectUnsupported,
  requireObject,
} from './request-fields.js'

/** A prompt as the client sent it: text to tokenize, or token ids as they are. */
export type PromptInput = {text: string} | {tokenIds: number[]}

/** stream_options: usage in a last chunk (`final`), and in every chunk so far (`continuous`, vLLM's continuous_usage_stats). */
export interface UsageOptions {
  final: boolean
  continuous: boolean
}

export interface CommonRequest {
  model: string | undefined
  stream: boolean
  usage: UsageOptions
  /** Every sampling field but max_tokens, already range-checked; max_tokens needs the prompt length. */
  sampling: Partial<SamplingParams>
  /** undefined: the endpoint's default; null (sent as null): whatever room the context leaves, as vLLM. */
  maxTokens: number | null | undefined
  /** add_special_tokens: BOS and the like around prompt text (completions: yes; chat: no, the template has them). */
  addSpecialTokens: boolean
  /** truncate_prompt_tokens: keep only the prompt's last k tokens (vLLM truncates on the left). */
  truncatePromptTokens: number | undefined
  /** return_tokens_as_token_ids: logprobs name tokens 'token_id:<id>' instead of by their text. */
  tokensAsIds: boolean
  /** return_token_ids (vLLM): replies carry the prompt's and each choice's token ids. */
  returnTokenIds: boolean
  /** sampling.guided while it crosses from a tokenizer worker to the event loop (request-checks.ts); never set after. */
  guidedHandoff?: SpecHandoff
}

export interface CompletionRequest extends CommonRequest {
  prompts: PromptInput[]
  echo: boolean
  /** echo with max_tokens 0 (vLLM): score the prompt, return it alone; one token is generated and dropped. */
  echoOnly: boolean
}

/** vLLM's seed bounds (a 64-bit signed integer); JSON numbers past them would be rounded anyway. */
const SEED_LIMIT = 2 ** 63

/** The requested model must be the one we serve; clients may leave it out or send it empty (vLLM accepts both). */
export function checkModel(requested: string | undefined, servedModelName: string): void {
  if (requested === undefined || requested === '' || requested === servedModelName) return
  throw new NotFoundError(`The model '${requested}' does not exist; this server serves '${servedModelName}'.`, {
    param: 'model',
    code: 'model_not_found',
  })
}

export function parseCompletionRequest(raw: unknown): CompletionRequest {
  const body = requireObject(raw)
  rejectUnsupported(body, ['suffix'])
  const common = parseCommon(body, true)
  const logprobs = optionalInteger(body, 'logprobs')
  const echo = optionalBoolean(body, 'echo') ?? false
  const echoOnly = echo && common.maxTokens === 0
  if (echoOnly) common.maxTokens = 1
  common.sampling.logprobs = logprobs
  // Echoed prompts carry their own logprobs when logprobs are asked for (vLLM: unless prompt_logprobs says otherwise).
  common.sampling.promptLogprobs ??= echo ? logprobs : undefined
  checkSampling(common, 'max_tokens')
  return {...common, prompts: parsePrompt(body), echo, echoOnly}
}

/** The fields both endpoints read the same way; `completions` says which endpoint's defaults apply. */
export function parseCommon(body: JsonObject, completions: boolean): CommonRequest {
  const stream = optionalBoolean(body, 'stream') ?? false
  // As vLLM without --logits-processor-pattern or priority scheduling: asked for, they are refused, not ignored.
  rejectUnsupported(body, ['logits_processors'])
  const priority = optionalInteger(body, 'priority')
  if (priority !== undefined && priority !== 0)
    throw new InvalidRequestError(`'priority' ${priority} needs priority scheduling, which this server does not do; send 0 or leave it out`, {param: 'priority'})
  optionalString(body, 'user') // accepted for compatibility; type-checked only
  optionalBoolean(body, 'spaces_between_special_tokens') // our decoder never puts spaces between special tokens
  const n = optionalInteger(body, 'n')
  const seed = optionalInteger(body, 'seed')
  if (seed !== undefined && (seed < -SEED_LIMIT || seed >= SEED_LIMIT))
    throw new InvalidRequestError(`'seed' must be a 64-bit signed integer, got ${seed}`, {param: 'seed'})
  const promptLogprobs = optionalInteger(body, 'prompt_logprobs')
  // As vLLM: a stream sends tokens as they come, with nowhere to put the prompt's logprobs.
  if (stream && promptLogprobs !== undefined && promptLogprobs > 0)
    throw new InvalidRequestError("'prompt_logprobs' are not available when 'stream' is true", {param: 'prompt_logprobs'})
  const sampling: Partial<SamplingParams> = {
    n,
    bestOf: optionalInteger(body, 'best_of'),
    temperature: optionalNumber(body, 'temperature'),
    topP: optionalNumber(body, 'top_p'),
    topK: optionalInteger(body, 'top_k'),
    minP: optionalNumber(body, 'min_p'),
    presencePenalty: optionalNumber(body, 'presence_penalty'),
    frequencyPenalty: optionalNumber(body, 'frequency_penalty'),
    repetitionPenalty: optionalNumber(body, 'repetition_penalty'),
    seed,
    stop: optionalStringList(body, 'stop'),
    stopTokenIds: optionalIntegerList(body, 'stop_token_ids'),
    ignoreEos: optionalBoolean(body, 'ignore_eos'),
    minTokens: optionalInteger(body, 'min_tokens'),
    useBeamSearch: optionalBoolean(body, 'use_beam_search'),
    lengthPenalty: optionalNumber(body, 'length_penalty'),
    // HF's and vLLM's third value: keep searching while a longer beam could still score higher.
    earlyStopping: body.early_stopping === 'never' ? 'never' : optionalBoolean(body, 'early_stopping'),
    skipSpecialTokens: optionalBoolean(body, 'skip_special_tokens'),
    includeStopStrInOutput: optionalBoolean(body, 'include_stop_str_in_output'),
    promptLogprobs,
    logitBias: parseLogitBias(body),
    guided: parseGuided(body) ?? undefined,
    allowedTokenIds: parseAllowedTokenIds(body),
    badWords: parseBadWords(body),
  }
  if (sampling.useBeamSearch && sampling.bestOf === undefined && n !== undefined) sampling.bestOf = n
  const truncatePromptTokens = optionalInteger(body, 'truncate_prompt_tokens')
  if (truncatePromptTokens !== undefined && truncatePromptTokens < 1)
    throw new InvalidRequestError(`'truncate_prompt_tokens' must be an integer >= 1, got ${truncatePromptTokens}`, {param: 'truncate_prompt_tokens'})
  return {
    model: optionalString(body, 'model'),
    stream,
    usage: parseStreamOptions(body, stream),
    sampling,
    maxTokens: body.max_tokens === null ? null : optionalInteger(body, 'max_tokens'),
    addSpecialTokens: optionalBoolean(body, 'add_special_tokens') ?? completions,
    truncatePromptTokens,
    tokensAsIds: optionalBoolean(body, 'return_tokens_as_token_ids') ?? false,
    returnTokenIds: optionalBoolean(body, 'return_token_ids') ?? false,
  }
}

/** As vLLM: stream_options holds include_usage (true unless said otherwise) and continuous_usage_stats; `{}` needs no stream. */
function parseStreamOptions(body: JsonObject, stream: boolean): UsageOptions {
  const options = optionalObject(body, 'stream_options')
  if (options === undefined) return {final: false, continuous: false}
  if (Object.keys(options).length > 0 && !stream)
    throw new InvalidRequestError("'stream_options' is only allowed when 'stream' is true", {param: 'stream_options'})
  const field = (name: string) => optionalBoolean({[`stream_options.${name}`]: options[name]}, `stream_options.${name}`)
  // Absent is true; an explicit null is no usage (vLLM's Optional[bool] = True reads null as None).
  const final = options.include_usage === null ? false : (field('include_usage') ?? true)
  const continuous = field('continuous_usage_stats') ?? false
  return {final, continuous: final && continuous}
}

/** A token id as Python's int() prints it, short enough to need no BigInt: the key as it stands. */
const CANONICAL_TOKEN_ID = /^(?:0|[1-9][0-9]{0,14})$/

/**
 * logit_bias as OpenAI sends it, {"<token id>": bias}. As vLLM: a key is read as Python's int() reads it (" 7", "007"),
 * and a bias beyond +-100 is clamped to it; ids are checked against the vocabulary by the engine.
 */
function parseLogitBias(body: JsonObject): LogitBias | undefined {
  const raw = optionalObject(body, 'logit_bias')
  if (raw === undefined) return undefined
  const ids: number[] = []
  const biases: number[] = []
  // for-in and a plain test for the usual key ("123"): a vocabulary's worth of entries (150k) must cost what parsing them
  // does, not seconds of the event loop (Object.entries, two regexes and a BigInt per key took ~2 us each).
  for (const key in raw) {
    const bias = raw[key]
    if (typeof bias !== 'number') throw new InvalidRequestError(`logit_bias values must be numbers, got ${JSON.stringify(bias)} for token '${key}'`, {param: 'logit_bias'})
    const tokenId = CANONICAL_TOKEN_ID.test(key) ? Number(key) : /^\s*\+?[0-9]+\s*$/.test(key) ? Number(BigInt(key.trim())) : undefined
    if (tokenId === undefined) throw new InvalidRequestError(`logit_bias keys must be token ids (non-negative integers), got '${key.slice(0, 40)}'`, {param: 'logit_bias'})
    ids.push(tokenId)
    biases.push(Math.min(100, Math.max(-100, bias)))
  }
  return logitBiasFromPairs(ids, biases)
}

/** Range-checks everything now, so a bad field fails before any tokenizing; max_tokens is checked for range only. */
export function checkSampling(common: CommonRequest, maxTokensParam: 'max_tokens' | 'max_completion_tokens'): void {
  if (typeof common.maxTokens === 'number' && common.maxTokens < 1)
    throw new InvalidRequestError(`${maxTokensParam} must be an integer >= 1, got ${common.maxTokens}`, {param: maxTokensParam})
  makeSamplingParams({...common.sampling, maxTokens: common.maxTokens ?? Math.max(1, common.sampling.minTokens ?? 1)})
}

function parsePrompt(body: JsonObject): PromptInput[] {
  const prompt = body.prompt
  const fail = (message: string): never => {
    throw new InvalidRequestError(message, {param: 'prompt'})
  }
  if (prompt === undefined || prompt === null) fail("'prompt' is required")
  if (typeof prompt === 'string') return [{text: prompt}]
  if (!Array.isArray(prompt) || prompt.length === 0)
    return fail("'prompt' must be a string, a list of strings, a list of token ids or a list of lists of token ids")
  const isTokenId = (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value >= 0
  if (prompt.every((item) => typeof item === 'string')) return prompt.map((text: string) => ({text}))
  if (prompt.every(isTokenId)) return [{tokenIds: prompt as number[]}]
  if (prompt.every((item) => Array.isArray(item) && item.length > 0 && item.every(isTokenId)))
    return prompt.map((tokenIds: number[]) => ({tokenIds}))
  return fail("'prompt' must be a string, a list of strings, a list of token ids (non-negative integers) or a list of non-empty lists of token ids")
}

/** truncate_prompt_tokens, checked against the context before any tokenizing: a limit it could never hold is the client's error (vLLM). */
export function truncationLimit(request: Pick<CommonRequest, 'truncatePromptTokens'>, maxModelLen: number): number | undefined {
  const limit = request.truncatePromptTokens
  if (limit !== undefined && limit > maxModelLen)
    throw new InvalidRequestError(`truncate_prompt_tokens (${limit}) is greater than the model's context of ${maxModelLen} tokens; choose a smaller truncation size`, {param: 'truncate_prompt_tokens'})
  return limit
}

/**
 * max_tokens is known only with the prompt length: prompt + max_tokens must fit the context.
 * Without max_tokens, completions default to 16 and chat to whatever room the context leaves (vLLM's choice),
 * both capped at that room; max_tokens sent as null is that room on both (vLLM too).
 */
export function resolveMaxTokens(
  requested: number | null | undefined,
  promptLength: number,
  maxModelLen: number,
  defaultMaxTokens: number | 'remaining',
  promptParam: string,
): number {
  if (promptLength === 0) throw new InvalidRequestError('the prompt is empty', {param: promptParam})
  const room = maxModelLen - promptLength
  if (room < 1)
    throw new ContextLengthError(
      `This model's maximum context length is ${maxModelLen} tokens. However, your prompt has ${promptLength} tokens, ` +
        'which leaves no room for a completion. Please shorten the prompt.',
      promptParam,
    )
  if (requested === null) return room
  if (requested === undefined) return defaultMaxTokens === 'remaining' ? room : Math.min(defaultMaxTokens, room)
  if (requested > room)
    throw new ContextLengthError(
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptLength + requested} tokens ` +
        `(${promptLength} in the prompt, ${requested} for the completion). Please reduce the prompt or max_tokens.`,
      'max_tokens',
    )
  return requested
}

/**
 * Final SamplingParams for one prompt, once its length is known. As vLLM under --generation-config auto, the model's
 * recommended sampling fills the fields the request leaves out (beam search, deterministic, takes none), and its
 * max_new_tokens caps max_tokens.
 */
export function samplingParamsFor(common: Pick<CommonRequest, 'sampling'>, maxTokens: number, defaults: ModelSamplingDefaults = {}): SamplingParams {
  const {maxTokens: maxNewTokens, ...sampling} = common.sampling.useBeamSearch ? {} : defaults
  const filled: Partial<SamplingParams> = {...common.sampling}
  for (const [key, value] of Object.entries(sampling) as [keyof typeof sampling, number][]) filled[key] ??= value
  return makeSamplingParams({...filled, maxTokens: Math.min(maxTokens, maxNewTokens ?? maxTokens)})
}
