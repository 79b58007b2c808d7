// Validates OpenAI (plus vLLM extra) request bodies and maps their fields onto prompts and SamplingParams.
import {ContextLengthError, InvalidRequestError, NotFoundError} from '../engine/errors.js'
import {makeSamplingParams, type SamplingParams} from '../engine/sampling-params.js'
import type {ChatMessage} from './engine-like.js'
import {parseAllowedTokenIds, parseBadWords, parseGuided} from './guided-fields.js'
import {parseToolRequest, toolGrammar, toolMessageFields, type ToolRequest} from './tool-calls.js'
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

interface CommonRequest {
  model: string | undefined
  stream: boolean
  includeUsage: boolean
  /** Every sampling field but max_tokens, already range-checked; max_tokens needs the prompt length. */
  sampling: Partial<SamplingParams>
  maxTokens: number | undefined
}

export interface CompletionRequest extends CommonRequest {
  prompts: PromptInput[]
  echo: boolean
}

export interface ChatCompletionRequest extends CommonRequest {
  messages: ChatMessage[]
  addGenerationPrompt: boolean
  /** vLLM's chat_template_kwargs: extra variables for the chat template (enable_thinking, date_string, ...). */
  chatTemplateKwargs: Record<string, unknown> | undefined
  /** tools / tool_choice / parallel_tool_calls; null without tools (or with tool_choice "none" and no tools). */
  tools: ToolRequest | null
}

/** The requested model must be the one we serve (clients may also leave it out). */
export function checkModel(requested: string | undefined, servedModelName: string): void {
  if (requested === undefined || requested === servedModelName) return
  throw new NotFoundError(`The model '${requested}' does not exist; this server serves '${servedModelName}'.`, {
    param: 'model',
    code: 'model_not_found',
  })
}

export function parseCompletionRequest(raw: unknown): CompletionRequest {
  const body = requireObject(raw)
  rejectUnsupported(body, ['suffix'])
  const common = parseCommon(body)
  const logprobs = optionalInteger(body, 'logprobs')
  const echo = optionalBoolean(body, 'echo') ?? false
  common.sampling.logprobs = logprobs
  // Echoed prompts carry their own logprobs when logprobs are asked for (OpenAI's behaviour).
  common.sampling.promptLogprobs = echo && logprobs !== undefined ? logprobs : optionalInteger(body, 'prompt_logprobs')
  checkSampling(common)
  return {...common, prompts: parsePrompt(body), echo}
}

export function parseChatCompletionRequest(raw: unknown): ChatCompletionRequest {
  const body = requireObject(raw)
  rejectUnsupported(body, ['functions', 'function_call'])
  const common = parseCommon(body)
  const tools = parseToolRequest(body)
  const toolSpec = tools === null ? null : toolGrammar(tools)
  if (toolSpec !== null && common.sampling.guided)
    throw new InvalidRequestError(`'tool_choice' ${tools!.mode.kind} forces a grammar, so it cannot be combined with '${common.sampling.guided.param}'`, {param: 'tool_choice'})
  if (toolSpec !== null) common.sampling.guided = toolSpec
  const maxCompletionTokens = optionalInteger(body, 'max_completion_tokens')
  if (maxCompletionTokens !== undefined) common.maxTokens = maxCompletionTokens
  const logprobs = optionalBoolean(body, 'logprobs') ?? false
  const topLogprobs = optionalInteger(body, 'top_logprobs')
  if (topLogprobs !== undefined && !logprobs)
    throw new InvalidRequestError("'top_logprobs' requires 'logprobs' to be true", {param: 'top_logprobs'})
  if (topLogprobs !== undefined && (topLogprobs < 0 || topLogprobs > 20))
    throw new InvalidRequestError(`'top_logprobs' must be in [0, 20], got ${topLogprobs}`, {param: 'top_logprobs'})
  common.sampling.logprobs = logprobs ? (topLogprobs ?? 0) : undefined
  checkSampling(common)
  return {
    ...common,
    messages: parseMessages(body),
    addGenerationPrompt: optionalBoolean(body, 'add_generation_prompt') ?? true,
    chatTemplateKwargs: optionalObject(body, 'chat_template_kwargs'),
    tools,
  }
}

function parseCommon(body: JsonObject): CommonRequest {
  const stream = optionalBoolean(body, 'stream') ?? false
  const streamOptions = optionalObject(body, 'stream_options')
  if (streamOptions !== undefined && !stream)
    throw new InvalidRequestError("'stream_options' is only allowed when 'stream' is true", {param: 'stream_options'})
  optionalString(body, 'user') // accepted for compatibility; type-checked only
  const n = optionalInteger(body, 'n')
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
    seed: optionalInteger(body, 'seed'),
    stop: optionalStringList(body, 'stop'),
    stopTokenIds: optionalIntegerList(body, 'stop_token_ids'),
    ignoreEos: optionalBoolean(body, 'ignore_eos'),
    minTokens: optionalInteger(body, 'min_tokens'),
    useBeamSearch: optionalBoolean(body, 'use_beam_search'),
    lengthPenalty: optionalNumber(body, 'length_penalty'),
    earlyStopping: optionalBoolean(body, 'early_stopping'),
    skipSpecialTokens: optionalBoolean(body, 'skip_special_tokens'),
    includeStopStrInOutput: optionalBoolean(body, 'include_stop_str_in_output'),
    logitBias: parseLogitBias(body),
    guided: parseGuided(body) ?? undefined,
    allowedTokenIds: parseAllowedTokenIds(body),
    badWords: parseBadWords(body),
  }
  if (sampling.useBeamSearch && sampling.bestOf === undefined && n !== undefined) sampling.bestOf = n
  return {
    model: optionalString(body, 'model'),
    stream,
    includeUsage: streamOptions === undefined ? false : (optionalBoolean({'stream_options.include_usage': streamOptions.include_usage}, 'stream_options.include_usage') ?? false),
    sampling,
    maxTokens: optionalInteger(body, 'max_tokens'),
  }
}

/** logit_bias as OpenAI sends it, {"<token id>": bias}; keys and ranges are checked by makeSamplingParams, ids against the vocabulary by the engine. */
function parseLogitBias(body: JsonObject): Record<number, number> | undefined {
  const raw = optionalObject(body, 'logit_bias')
  if (raw === undefined) return undefined
  for (const [tokenId, bias] of Object.entries(raw))
    if (typeof bias !== 'number') throw new InvalidRequestError(`logit_bias values must be numbers, got ${JSON.stringify(bias)} for token '${tokenId}'`, {param: 'logit_bias'})
  return raw as Record<number, number>
}

/** Range-checks everything now, so a bad field fails before any tokenizing; max_tokens is checked for range only. */
function checkSampling(common: CommonRequest): void {
  if (common.maxTokens !== undefined && common.maxTokens < 1)
    throw new InvalidRequestError(`max_tokens must be an integer >= 1, got ${common.maxTokens}`, {param: 'max_tokens'})
  const params = makeSamplingParams({...common.sampling, maxTokens: common.maxTokens ?? Math.max(1, common.sampling.minTokens ?? 1)})
  // Streaming sends tokens as they come, so it cannot pick the best n sequences (or beams) afterwards.
  if (common.stream && params.useBeamSearch)
    throw new InvalidRequestError('streaming is not supported with beam search', {param: 'use_beam_search'})
  if (common.stream && params.bestOf > params.n)
    throw new InvalidRequestError("'best_of' must equal 'n' when streaming", {param: 'best_of'})
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

/** The roles OpenAI's chat API accepts (function: its deprecated predecessor of tool). */
const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function']

export function parseMessages(body: JsonObject): ChatMessage[] {
  const messages = body.messages
  if (!Array.isArray(messages) || messages.length === 0)
    throw new InvalidRequestError("'messages' must be a non-empty list of {role, content} objects", {param: 'messages'})
  return messages.map((message: unknown, index) => {
    const param = `messages[${index}]`
    const fields = optionalObject({[param]: message}, param)
    if (fields === undefined) throw new InvalidRequestError(`'${param}' must be an object`, {param})
    const role = fields.role
    if (typeof role !== 'string' || !CHAT_ROLES.includes(role))
      throw new InvalidRequestError(`'${param}.role' must be one of ${CHAT_ROLES.join(', ')}; got ${JSON.stringify(role)}`, {param: `${param}.role`})
    return {role, content: messageContent(fields.content, `${param}.content`), ...toolMessageFields(fields, param)}
  })
}

/** Content is a string, null (an assistant turn without text) or a list of text parts, joined by newlines as vLLM joins them. */
function messageContent(content: unknown, param: string): string {
  if (content === null || content === undefined) return ''
  if (typeof content === 'string') return content
  if (Array.isArray(content)) {
    return content
      .map((part: unknown, index) => {
        const text = (part as {type?: unknown; text?: unknown} | null)?.text
        if ((part as {type?: unknown} | null)?.type !== 'text' || typeof text !== 'string')
          throw new InvalidRequestError(`'${param}[${index}]' must be {"type":"text","text":...}; only text parts are supported`, {param})
        return text
      })
      .join('\n')
  }
  throw new InvalidRequestError(`'${param}' must be a string or a list of text parts`, {param})
}

/**
 * max_tokens is known only with the prompt length: prompt + max_tokens must fit the context.
 * Without max_tokens, completions default to 16 and chat to whatever room the context leaves (vLLM's choice),
 * both capped at that room.
 */
export function resolveMaxTokens(
  requested: number | undefined,
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
  if (requested === undefined) return defaultMaxTokens === 'remaining' ? room : Math.min(defaultMaxTokens, room)
  if (requested > room)
    throw new ContextLengthError(
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptLength + requested} tokens ` +
        `(${promptLength} in the prompt, ${requested} for the completion). Please reduce the prompt or max_tokens.`,
      'max_tokens',
    )
  return requested
}

/** Final SamplingParams for one prompt, once its length is known. */
export function samplingParamsFor(common: CommonRequest, maxTokens: number): SamplingParams {
  return makeSamplingParams({...common.sampling, maxTokens})
}
