// The checks a request body gets before its request is admitted, by route: the same code wherever it runs, in a tokenizer
// worker beside the parse for a big body (so 10^5 list items cost the event loop a small copy, not ~250 ms of checks,
// clones and GC), on the event loop for a small one. The event loop gets the checked request or its 4xx error.
import {packSpec, unpackSpec} from '../engine/guided/spec-handoff.js'
import type {ChatContentFormatOption} from '../engine/model/chat-content-format.js'
import {type ChatCompletionRequest, parseChatCompletionRequest} from './chat-request.js'
import type {TokenizerLike} from './engine-like.js'
import {checkpoint} from './job-checkpoint.js'
import {type CompletionRequest, parseCompletionRequest} from './openai-schema.js'
import {checkTextFits} from './prompt-tokenizer.js'
import {parseJsonText, type PromptField, promptTexts} from './request-body.js'
import {watchFields} from './request-fields.js'
import {type ConversationText, conversationFromTexts} from './response-store.js'
import {type MessageSource, renameParam, responsesParamOf, type StoredConversation, type TranslatedRequest, translateResponsesRequest} from './responses-request.js'
import {NO_INPUT_ITEMS, type StoredInputItems, storedInputItems} from './stored-input-items.js'
import {checkTokenizeRequest, type TokenizeRequest} from './tokenize.js'

/** What the checks need to know of the server. */
export interface CheckOptions {
  modelName: string
  contentFormat: ChatContentFormatOption
  /** Whether `serve --responses-store` is on (previous_response_id and background need it). */
  storeOn: boolean
  /** Whether `serve --trust-request-chat-template` is on (a request's chat_template is accepted). */
  trustRequestChatTemplate?: boolean
}

/** A checked /v1/responses body: the chat request it runs as, and what its reply and the store keep of it. */
export interface CheckedResponses {
  request: ChatCompletionRequest
  /** inputItems: as the store keeps them when the response is stored, else none. */
  translated: Omit<TranslatedRequest, 'chat' | 'sources' | 'inputItems'> & {inputItems: StoredInputItems}
  /** translated.sources, or their JSON text from a worker (parsed only to name an error after the checks). */
  sources: MessageSource[] | string
  unread: string[]
}

/**
 * A /v1/responses body continuing stored response `continues` (previous_response_id): only the event loop's store can
 * resolve the conversation, so it is checked in a second pass, with the conversation's texts (checkContinuation).
 */
export interface ContinuingBody {
  continues: string
  bodyText: string
}

/** What each route's handler gets: its checked request, or (`body`) the parsed body its handler checks on the event loop. */
export interface CheckedByRoute {
  completions: {request: CompletionRequest; unread: string[]}
  chat: {request: ChatCompletionRequest; unread: string[]}
  responses: CheckedResponses | ContinuingBody
  tokenize: TokenizeRequest
  detokenize: {body: unknown}
}
export type RouteName = keyof CheckedByRoute

/** The body field whose prompt texts are refused by size before any other check. */
const PROMPT_FIELDS: Record<RouteName, PromptField> = {completions: 'prompt', chat: 'messages', responses: 'input', tokenize: 'prompt', detokenize: 'prompt'}

/** Parses the body's text, refuses prompt text too long for the context, then runs the route's checks. */
export function checkBodyText<R extends RouteName>(tokenizer: Pick<TokenizerLike, 'maxTextBytes'>, text: string, route: R, options: CheckOptions, maxModelLen: number): CheckedByRoute[R] {
  checkpoint()
  const parsed = parseJsonText(text)
  checkpoint()
  // /tokenize counts text past the context too (mayExceedContext).
  const beyondContext = route === 'tokenize' || truncates(parsed)
  for (const prompt of promptTexts(parsed, PROMPT_FIELDS[route])) checkTextFits(tokenizer, prompt, maxModelLen, PROMPT_FIELDS[route], beyondContext)
  const continues = route === 'responses' ? continuedId(parsed, options) : null
  if (continues !== null) return {continues, bodyText: text} as CheckedByRoute[R]
  return checkRequest(route, parsed, options)
}

/** A body continuing a stored response, checked with the conversation's texts (ResponseStore.conversationTextsOf). */
export function checkContinuation(bodyText: string, conversation: readonly ConversationText[]): CheckedResponses {
  return checkResponses(parseJsonText(bodyText), {conversationOf: () => conversationFromTexts(conversation)})
}

function truncates(body: unknown): boolean {
  const limit = typeof body === 'object' && body !== null ? (body as {truncate_prompt_tokens?: unknown}).truncate_prompt_tokens : undefined
  return typeof limit === 'number' && Number.isInteger(limit) && limit >= 1
}

function checkRequest<R extends RouteName>(route: R, parsed: unknown, options: CheckOptions): CheckedByRoute[R] {
  const checks: {[K in RouteName]: () => CheckedByRoute[K]} = {
    completions: () => watched(parsed, parseCompletionRequest),
    chat: () => watched(parsed, (body) => parseChatCompletionRequest(body, options.trustRequestChatTemplate ?? false)),
    responses: () => checkResponses(parsed, options.storeOn ? NO_STORED_RESPONSES : null),
    tokenize: () => checkTokenizeRequest(parsed, options),
    detokenize: () => ({body: parsed}),
  }
  return checks[route]() as CheckedByRoute[R]
}

/** A parser's result and the top-level fields it never read (the server logs them, as vLLM warns of extra fields). */
function watched<T>(parsed: unknown, parse: (body: unknown) => T): {request: T; unread: string[]} {
  const fields = watchFields(parsed)
  const request = parse(fields.body)
  return {request, unread: fields.unread()}
}

/** The stored response a body continues (a string previous_response_id with the store on); another type is refused by the checks. */
function continuedId(parsed: unknown, options: CheckOptions): string | null {
  const previousId = typeof parsed === 'object' && parsed !== null ? (parsed as {previous_response_id?: unknown}).previous_response_id : undefined
  return options.storeOn && typeof previousId === 'string' ? previousId : null
}

/** The store as the first pass sees it: on, but never read (a continuing body comes back for checkContinuation). */
const NO_STORED_RESPONSES: StoredConversation = {
  conversationOf: () => {
    throw new Error('a stored conversation is read only in checkContinuation')
  },
}

/** A /v1/responses body as the chat request it runs as; a chat field's error is renamed to the Responses field it came from. */
export function checkResponses(parsed: unknown, store: StoredConversation | null): CheckedResponses {
  const fields = watchFields(parsed)
  const {chat, sources, inputItems, ...settled} = translateResponsesRequest(fields.body, store)
  const unread = fields.unread()
  // Only the items the store keeps are kept, as text (10^5 of them as objects cost the event loop ~30 ms to rebuild).
  const translated = {...settled, inputItems: settled.settings.store ? storedInputItems(inputItems) : NO_INPUT_ITEMS}
  try {
    return {request: {...parseChatCompletionRequest(chat), maxTokensCappedAtRoom: true}, translated, sources, unread}
  } catch (error) {
    throw renameParam(error, responsesParamOf(sources))
  }
}

/** What a worker's checked request costs the event loop is its structured clone: big lists go as JSON text (one string) or typed arrays. */
export function packForTransfer(checked: CheckedByRoute[RouteName]): {value: unknown; transfer: ArrayBuffer[]} {
  const transfer: ArrayBuffer[] = []
  const request = 'request' in checked ? checked.request : undefined
  if (request !== undefined && 'sampling' in request) {
    // Its checks and key made here: the event loop adopts them instead of walking the spec (a big schema: ~300 ms).
    const handoff = request.sampling.guided ? packSpec(request.sampling.guided) : null
    if (handoff) {
      request.guidedHandoff = handoff
      delete request.sampling.guided
    }
    const bias = request.sampling.logitBias
    if (bias) transfer.push(bias.ids.buffer as ArrayBuffer, bias.values.buffer as ArrayBuffer)
    if ('messages' in request && typeof request.messages !== 'string') {
      request.messages = JSON.stringify(request.messages)
      // The event loop reads the last message's role and text only (its parts could be 10^5 objects to rebuild).
      request.lastMessage = {role: request.lastMessage.role, content: request.lastMessage.content}
    }
    if ('tools' in request && request.tools !== null && typeof request.tools.tools !== 'string') request.tools.tools = JSON.stringify(request.tools.tools)
  }
  if ('sources' in checked && typeof checked.sources !== 'string') checked.sources = JSON.stringify(checked.sources)
  if ('translated' in checked && checked.translated.inputItems.ends.length > 0) transfer.push(checked.translated.inputItems.ends.buffer as ArrayBuffer)
  if ('job' in checked && checked.job.kind === 'chat') {
    if (typeof checked.job.messages !== 'string') checked.job.messages = JSON.stringify(checked.job.messages)
    if (checked.job.tools !== undefined && typeof checked.job.tools !== 'string') checked.job.tools = JSON.stringify(checked.job.tools)
  }
  return {value: checked, transfer}
}

/** A worker's checked request as the event loop uses it: its guided spec unpacked (spec-handoff.ts). */
export function unpackTransferred<C extends CheckedByRoute[RouteName]>(checked: C): C {
  const request = 'request' in checked ? checked.request : undefined
  if (request?.guidedHandoff) {
    request.sampling.guided = unpackSpec(request.guidedHandoff)
    delete request.guidedHandoff
  }
  return checked
}

/** The renamer of a checked Responses request's errors; the sources' text is parsed only for an error on one message. */
export function responsesParamOfChecked(checked: CheckedResponses): (chatParam: string) => string {
  let sources: MessageSource[] | null = null
  const ofMessages = () => (sources ??= typeof checked.sources === 'string' ? JSON.parse(checked.sources) : checked.sources)
  return (param) => responsesParamOf(param.startsWith('messages[') ? ofMessages() : [])(param)
}
