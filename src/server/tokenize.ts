// POST /tokenize and /detokenize (vLLM's shapes): the served model's tokenizer over HTTP, so clients can size prompts in its tokens.
import {InvalidRequestError} from '../engine/errors.js'
import {type ApiContext, sendJson} from './api-context.js'
import type {TokenizeJob} from './prompt-tokenizer.js'
import {parseMessages, requestChatTemplate} from './chat-request.js'
import {checkModel} from './openai-schema.js'
import {optionalBoolean, optionalIntegerList, optionalObject, optionalObjectList, optionalString, requireObject} from './request-fields.js'
import {parseToolRequest} from './tool-calls.js'
import type {ChatContentFormatOption} from '../engine/model/chat-content-format.js'

/** A checked /tokenize request: the job that counts its tokens, and whether the reply lists their strings. */
export interface TokenizeRequest {
  job: TokenizeJob
  returnTokenStrs: boolean
}

/**
 * vLLM's two request shapes: {prompt, add_special_tokens = true}, or {messages, add_generation_prompt = true, tools?}
 * rendered by the chat template exactly as /v1/chat/completions renders them, so a client can count a conversation
 * before sending it.
 */
/** What /tokenize's checks need to know of the server (request-checks.ts' CheckOptions). */
interface TokenizeOptions {
  modelName: string
  contentFormat: ChatContentFormatOption
  trustRequestChatTemplate?: boolean
}

export function checkTokenizeRequest(raw: unknown, options: TokenizeOptions): TokenizeRequest {
  const body = requireObject(raw)
  checkModel(optionalString(body, 'model'), options.modelName)
  const hasPrompt = body.prompt !== undefined
  if (hasPrompt === (body.messages !== undefined))
    throw new InvalidRequestError("give exactly one of 'prompt' (text) or 'messages' (a chat)", {param: hasPrompt ? 'messages' : 'prompt'})
  const returnTokenStrs = optionalBoolean(body, 'return_token_strs') ?? false
  const job: TokenizeJob = hasPrompt
    ? {kind: 'text', text: requirePrompt(body), param: 'prompt', addSpecialTokens: optionalBoolean(body, 'add_special_tokens') ?? true, countOnly: true}
    : chatJob(body, options)
  return {job, returnTokenStrs}
}

/**
 * -> {count, max_model_len, tokens}, tokenized off the event loop and size-checked first, like every prompt the server
 * tokenizes; a count may pass max_model_len (as vLLM's), up to TRUNCATABLE_CONTEXTS contexts.
 */
export async function tokenize(context: ApiContext, {job, returnTokenStrs}: TokenizeRequest): Promise<void> {
  const tokens = await context.promptTokenizer.tokenize(job, context.signal)
  // As vLLM (convert_ids_to_tokens): the vocabulary's own strings, not decoded text.
  const {tokenizer} = context.engine
  const tokenStr = (id: number) => tokenizer.idToToken?.(id) ?? tokenizer.decode([id], {skipSpecialTokens: false})
  const tokenStrs = returnTokenStrs ? {token_strs: tokens.map(tokenStr)} : {}
  sendJson(context.response, 200, {count: tokens.length, max_model_len: context.engine.maxModelLen, tokens, ...tokenStrs})
}

/** A conversation rendered as /v1/chat/completions renders it, with the same defaults (vLLM's TokenizeChatRequest). */
function chatJob(body: Record<string, unknown>, options: TokenizeOptions): TokenizeJob {
  const chatTemplate = requestChatTemplate(body, options.trustRequestChatTemplate ?? false)
  const continueFinalMessage = optionalBoolean(body, 'continue_final_message') ?? false
  const addGenerationPrompt = optionalBoolean(body, 'add_generation_prompt') ?? !continueFinalMessage
  if (continueFinalMessage && addGenerationPrompt)
    throw new InvalidRequestError("'continue_final_message' and 'add_generation_prompt' cannot both be true", {param: 'continue_final_message'})
  return {
    kind: 'chat',
    messages: parseMessages(body),
    addGenerationPrompt,
    continueFinalMessage,
    addSpecialTokens: optionalBoolean(body, 'add_special_tokens') ?? false,
    tools: parseToolRequest(body)?.tools,
    documents: optionalObjectList(body, 'documents'),
    variables: optionalObject(body, 'chat_template_kwargs'),
    contentFormat: options.contentFormat,
    chatTemplate,
    countOnly: true,
  }
}

function requirePrompt(body: Record<string, unknown>): string {
  const prompt = optionalString(body, 'prompt')
  if (prompt === undefined) throw new InvalidRequestError("'prompt' must be the text to tokenize", {param: 'prompt'})
  return prompt
}

/** {tokens} -> {prompt}: special tokens are kept in the text, as vLLM does. */
export async function detokenize(context: ApiContext, {body: raw}: {body: unknown}): Promise<void> {
  const body = requireObject(raw)
  checkModel(optionalString(body, 'model'), context.engine.modelName)
  const tokens = optionalIntegerList(body, 'tokens')
  if (tokens === undefined) throw new InvalidRequestError("'tokens' is required: a list of token ids", {param: 'tokens'})
  const {maxModelLen} = context.engine
  // No sequence of the model is longer; a longer list would only hold the event loop while it decodes.
  if (tokens.length > maxModelLen) throw new InvalidRequestError(`'tokens' has ${tokens.length} ids, more than the model's context of ${maxModelLen}`, {param: 'tokens'})
  const {vocabSize} = context.engine.tokenizer
  const bad = tokens.find((id) => id < 0 || id >= vocabSize)
  if (bad !== undefined) throw new InvalidRequestError(`token id ${bad} is outside the vocabulary [0, ${vocabSize})`, {param: 'tokens'})
  sendJson(context.response, 200, {prompt: context.engine.tokenizer.decode(tokens)})
}
