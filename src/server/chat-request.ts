// Validates a /v1/chat/completions body: the messages and the chat-only fields (template, echo, logprobs, tools) on top of the shared ones.
import {InvalidRequestError} from '../engine/errors.js'
import type {ChatMessage} from './engine-like.js'
import {checkpointEvery} from './job-checkpoint.js'
import type {ChatTextPart} from '../engine/model/chat-content-format.js'
import {checkSampling, type CommonRequest, parseCommon} from './openai-schema.js'
import {type JsonObject, optionalBoolean, optionalInteger, optionalObject, optionalObjectItem, optionalObjectList, optionalString, rejectUnsupported, requireObject} from './request-fields.js'
import {parseToolRequest, toolGrammar, toolMessageFields, type ToolRequest} from './tool-calls.js'

export interface ChatCompletionRequest extends CommonRequest {
  /** The messages, or (checked in a tokenizer worker) their JSON text, which only the template's worker parses again. */
  messages: ChatMessage[] | string
  /** The last message: the reply's role and what echo repeats come from it. */
  lastMessage: ChatMessage
  addGenerationPrompt: boolean
  /** vLLM's continue_final_message: the last message is left open and the model continues it. */
  continueFinalMessage: boolean
  /** vLLM's chat echo: the reply starts with the last message's content when that message has the reply's role. */
  echo: boolean
  /** vLLM's chat_template_kwargs: extra variables for the chat template (enable_thinking, date_string, ...). */
  chatTemplateKwargs: Record<string, unknown> | undefined
  /** vLLM's documents: RAG documents for templates that render them. */
  documents: JsonObject[] | undefined
  /** tools / tool_choice / parallel_tool_calls; null without tools (or with tool_choice "none" and no tools). */
  tools: ToolRequest | null
  /** vLLM's chat_template: the request's own template, rendered instead of the model's (serve --trust-request-chat-template). */
  chatTemplate: string | undefined
  /**
   * maxTokens is an upper bound, capped at the room the prompt leaves (vLLM's Responses API: min(max_output_tokens,
   * max_model_len - prompt)), not a 400 when it passes the context (the chat route's rule). Set for /v1/responses.
   */
  maxTokensCappedAtRoom?: boolean
}

/** `trustTemplate`: the server was started with --trust-request-chat-template. */
export function parseChatCompletionRequest(raw: unknown, trustTemplate = false): ChatCompletionRequest {
  const body = requireObject(raw)
  rejectUnsupported(body, ['functions', 'function_call'])
  const chatTemplate = requestChatTemplate(body, trustTemplate)
  const common = parseCommon(body, false)
  const tools = parseToolRequest(body)
  const toolSpec = tools === null ? null : toolGrammar(tools)
  if (toolSpec !== null && common.sampling.guided)
    throw new InvalidRequestError(`'tool_choice' ${tools!.mode.kind} forces a grammar, so it cannot be combined with '${common.sampling.guided.param}'`, {param: 'tool_choice'})
  if (toolSpec !== null) common.sampling.guided = toolSpec
  const maxCompletionTokens = optionalInteger(body, 'max_completion_tokens')
  if (maxCompletionTokens !== undefined) common.maxTokens = maxCompletionTokens
  const logprobs = optionalBoolean(body, 'logprobs') ?? false
  const topLogprobs = optionalInteger(body, 'top_logprobs')
  // As vLLM (and OpenAI's client, which may send 0 by default): only a positive top_logprobs needs logprobs.
  if (topLogprobs !== undefined && topLogprobs > 0 && !logprobs)
    throw new InvalidRequestError("'top_logprobs' requires 'logprobs' to be true", {param: 'top_logprobs'})
  if (topLogprobs !== undefined && (topLogprobs < 0 || topLogprobs > 20))
    throw new InvalidRequestError(`'top_logprobs' must be in [0, 20], got ${topLogprobs}`, {param: 'top_logprobs'})
  common.sampling.logprobs = logprobs ? (topLogprobs ?? 0) : undefined
  const echo = optionalBoolean(body, 'echo') ?? false
  // vLLM scores the prompt of an echoed chat (top_logprobs alternatives each); a stream has nowhere to put them.
  if (echo && !common.stream) common.sampling.promptLogprobs ??= topLogprobs ?? 0
  const continueFinalMessage = optionalBoolean(body, 'continue_final_message') ?? false
  const addGenerationPrompt = optionalBoolean(body, 'add_generation_prompt') ?? !continueFinalMessage
  if (continueFinalMessage && addGenerationPrompt)
    throw new InvalidRequestError("'continue_final_message' and 'add_generation_prompt' cannot both be true", {param: 'continue_final_message'})
  checkSampling(common, maxCompletionTokens !== undefined ? 'max_completion_tokens' : 'max_tokens')
  const messages = parseMessages(body)
  return {
    ...common,
    messages,
    lastMessage: messages[messages.length - 1]!,
    addGenerationPrompt,
    continueFinalMessage,
    echo,
    chatTemplateKwargs: optionalObject(body, 'chat_template_kwargs'),
    documents: optionalObjectList(body, 'documents'),
    tools,
    chatTemplate,
  }
}

/**
 * The request's chat_template. It is Jinja code from the client, run in the tokenizer workers (bounded as any template
 * by template-budget.ts, but still the client's code): as vLLM >= 0.11, refused unless the server was started with
 * --trust-request-chat-template. Whether it parses is found where it renders (a 400 naming chat_template).
 */
export function requestChatTemplate(body: JsonObject, trusted: boolean): string | undefined {
  const template = optionalString(body, 'chat_template')
  if (template !== undefined && !trusted)
    throw new InvalidRequestError(
      "'chat_template' in a request is refused: this server renders its own chat template unless started with --trust-request-chat-template (a template is code the server runs)",
      {param: 'chat_template'},
    )
  return template
}

/** The role of the reply (vLLM's rule): the assistant's after a generation prompt, else the last message's, which it continues. */
export function replyRole(request: Pick<ChatCompletionRequest, 'addGenerationPrompt' | 'lastMessage'>): string {
  return request.addGenerationPrompt ? 'assistant' : request.lastMessage.role
}

/** What chat echo puts in front of the reply: the last message's content when it has the reply's role, else nothing. */
export function echoedContent(request: Pick<ChatCompletionRequest, 'echo' | 'addGenerationPrompt' | 'lastMessage'>): string {
  if (!request.echo) return ''
  const last = request.lastMessage
  return last.role === replyRole(request) ? (last.content ?? '') : ''
}

/** The roles OpenAI's chat API accepts (function: its deprecated predecessor of tool). */
const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function']

export function parseMessages(body: JsonObject): ChatMessage[] {
  const messages = body.messages
  if (!Array.isArray(messages) || messages.length === 0)
    throw new InvalidRequestError("'messages' must be a non-empty list of {role, content} objects", {param: 'messages'})
  return messages.map((message: unknown, index) => {
    checkpointEvery(index)
    const param = `messages[${index}]`
    const fields = optionalObjectItem(message, param)
    if (fields === undefined) throw new InvalidRequestError(`'${param}' must be an object`, {param})
    const role = fields.role
    if (typeof role !== 'string' || !CHAT_ROLES.includes(role))
      throw new InvalidRequestError(`'${param}.role' must be one of ${CHAT_ROLES.join(', ')}; got ${JSON.stringify(role)}`, {param: `${param}.role`})
    return {role, ...messageContent(fields.content, `${param}.content`), ...toolMessageFields(fields, param), ...reasoningOf(fields, param)}
  })
}

/**
 * An assistant turn's thinking (a reasoning reply sent back, vLLM's `reasoning` or its older `reasoning_content`),
 * given to the template under both names, since templates read one or the other; null or absent is none.
 */
function reasoningOf(fields: JsonObject, param: string): {reasoning_content?: string; reasoning?: string} {
  if (fields.reasoning_content === undefined && fields.reasoning === undefined) return {}
  const given: Record<string, string> = {}
  for (const key of ['reasoning_content', 'reasoning']) {
    const value = fields[key]
    if (value === undefined || value === null) continue
    if (typeof value !== 'string') throw new InvalidRequestError(`'${param}.${key}' must be a string`, {param: `${param}.${key}`})
    given[key] = value
  }
  const text = given.reasoning_content ?? given.reasoning
  if (text === undefined || fields.role !== 'assistant') return {}
  return {reasoning_content: text, reasoning: given.reasoning ?? text}
}

/** The part types vLLM reads as text, and the field holding it: OpenAI's text, the Responses API's input_text / output_text, a refusal. */
const TEXT_PART_FIELDS: Record<string, string> = {text: 'text', input_text: 'text', output_text: 'text', refusal: 'refusal'}

/**
 * Content is a string, null (an assistant turn without text, as one with tool_calls) or a list of text parts: the text
 * joined by newlines for templates that read a string, and the parts for templates that loop over them (vLLM's two
 * content formats). As in vLLM, a text part whose text is null is skipped and a bare string in the list is text.
 */
function messageContent(content: unknown, param: string): {content: string; contentParts?: ChatTextPart[]} {
  if (content === null || content === undefined) return {content: '', contentParts: []}
  if (typeof content === 'string') return {content}
  if (!Array.isArray(content)) throw new InvalidRequestError(`'${param}' must be a string or a list of text parts`, {param})
  const parts: ChatTextPart[] = []
  content.forEach((part: unknown, index) => {
    if (typeof part === 'string') return void parts.push({type: 'text', text: part})
    const fields = (typeof part === 'object' && part !== null ? part : {}) as Record<string, unknown>
    const {type} = fields
    const textField = typeof type === 'string' ? TEXT_PART_FIELDS[type] : undefined
    // Images, audio, video, files: say which part and why, not just that it is malformed.
    if (typeof type === 'string' && textField === undefined)
      throw new InvalidRequestError(`'${param}[${index}]' is a '${type.slice(0, 40)}' part, but this model is text-only: only text parts ({"type":"text","text":...}) are accepted`, {param})
    const text = textField === undefined ? undefined : fields[textField]
    if (text === null && textField !== undefined) return
    if (typeof text !== 'string')
      throw new InvalidRequestError(`'${param}[${index}]' must be {"type":"text","text":...}; only text parts are supported`, {param})
    parts.push({type: 'text', text})
  })
  return {content: parts.map((part) => part.text).join('\n'), contentParts: parts}
}
