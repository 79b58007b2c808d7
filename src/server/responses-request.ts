// Turns a /v1/responses body into the /v1/chat/completions body the chat path runs, and remembers what the reply echoes.
//
// Only the Responses API's own shapes are checked here (input items, flat function tools, text.format, the stored-state
// fields); every value the chat path also reads (sampling, schemas, tool parameters, message content) is passed on as
// sent and checked there, once. Its errors name chat fields, so `responsesParamOf` names them back as the client sent them.
import {InvalidRequestError, PagedLLMError, quotedValue} from '../engine/errors.js'
import {newObjectId} from './api-context.js'
import {checkpointEvery} from './job-checkpoint.js'
import {type JsonObject, optionalBoolean, optionalInteger, optionalObject, optionalObjectItem, optionalString, requireObject} from './request-fields.js'

/** What the Response object repeats of the request (the openai SDK reads these), normalized. */
export interface ResponseSettings {
  instructions: string | null
  maxOutputTokens: number | null
  metadata: JsonObject | null
  parallelToolCalls: boolean
  reasoning: {effort: string | null; summary: string | null} | null
  text: {format: JsonObject}
  toolChoice: unknown
  tools: JsonObject[]
  topLogprobs: number
  user: string | null
  /** Whether the finished response is kept (store on the server and not `store: false`). */
  store: boolean
  previousResponseId: string | null
  /** Runs without the client (`background: true`; the store must be on and `store` not false): responses-background.ts. */
  background: boolean
}

export interface TranslatedRequest {
  chat: JsonObject
  settings: ResponseSettings
  /** The request's own input items, each with an id (what input_items lists and a later response continues from). */
  inputItems: JsonObject[]
  /** Where each chat message came from: what responsesParamOf names a chat field's error by. */
  sources: MessageSource[]
}

/** The Responses field a chat message was made from, and whether a chat path inside it is the same inside that field. */
export interface MessageSource {
  param: string
  keepsPath: boolean
}

/** Sampling fields with the same name and meaning on both endpoints (vLLM's Responses request takes these extras too). */
const SHARED_FIELDS = ['model', 'stream', 'temperature', 'top_p', 'top_k', 'min_p', 'seed', 'stop', 'frequency_penalty', 'presence_penalty', 'repetition_penalty', 'parallel_tool_calls', 'chat_template_kwargs']
const INPUT_ROLES = ['user', 'assistant', 'system', 'developer']
/** The id an input item sent without one is given, by its type (an easy message has none: 'msg'). */
const ITEM_ID_PREFIXES: Record<string, 'msg' | 'fc' | 'fco' | 'rs'> = {message: 'msg', function_call: 'fc', function_call_output: 'fco', reasoning: 'rs'}
const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh']
const REASONING_SUMMARIES = ['auto', 'concise', 'detailed']
const SERVICE_TIERS = ['auto', 'default', 'flex', 'scale', 'priority']
/** The openai SDK's ResponseIncludable values; only the logprobs one changes a reply here (the rest are built-in tools' or images'). */
const INCLUDABLES = [
  'file_search_call.results',
  'web_search_call.results',
  'web_search_call.action.sources',
  'message.input_image.image_url',
  'computer_call_output.output.image_url',
  'code_interpreter_call.outputs',
  'reasoning.encrypted_content',
  'message.output_text.logprobs',
]

/** The conversation of stored responses a request continues (conversationFromTexts of the store's texts, in a worker). */
export interface StoredConversation {
  /** The items of `id`'s chain, oldest first; a missing link is a 404 naming previous_response_id. */
  conversationOf(id: string): JsonObject[]
}

/** `store`: the server's stored responses, or null when `serve` runs without them. */
export function translateResponsesRequest(raw: unknown, store: StoredConversation | null = null): TranslatedRequest {
  const body = requireObject(raw)
  const previousResponseId = refuseStoredState(body, store)
  const chat: JsonObject = {}
  for (const field of SHARED_FIELDS) if (body[field] !== undefined) chat[field] = body[field]
  const instructions = optionalString(body, 'instructions') ?? null
  const conversation = new Conversation()
  if (instructions !== null) conversation.add({role: 'system', content: instructions}, 'instructions', false)
  // The previous response's conversation, resolved now: instructions are not carried over (OpenAI's rule).
  if (previousResponseId !== null) store!.conversationOf(previousResponseId).forEach((item, index) => (checkpointEvery(index), conversation.addItem(item, 'previous_response_id', false)))
  const inputItems = conversation.addInput(body.input)
  // Reasoning items alone make no message (each waits for an assistant turn): say so, not that the list is empty.
  if (conversation.messages.length === 0)
    throw new InvalidRequestError("'input' has no message: reasoning items only reach the assistant message after them", {param: 'input'})
  chat.messages = conversation.messages
  if (body.max_output_tokens !== undefined) chat.max_completion_tokens = body.max_output_tokens
  const tools = functionTools(body.tools)
  if (tools.length > 0) chat.tools = tools.map(chatTool)
  if (body.tool_choice !== undefined && body.tool_choice !== null) chat.tool_choice = chatToolChoice(body.tool_choice)
  const text = optionalObject(body, 'text') ?? {}
  const format = optionalObject({'text.format': text.format}, 'text.format') ?? {type: 'text'}
  const responseFormat = chatResponseFormat(format)
  if (responseFormat !== null) chat.response_format = responseFormat
  const topLogprobs = body.top_logprobs ?? null
  // The chat path checks top_logprobs (an integer in [0, 20]) and computes the logprobs the output_text parts carry.
  if (topLogprobs !== null) chat.top_logprobs = topLogprobs
  const wantsLogprobs = parseInclude(body).includes('message.output_text.logprobs') || (typeof topLogprobs === 'number' && topLogprobs > 0)
  if (wantsLogprobs) chat.logprobs = true
  return {
    chat,
    settings: {
      instructions,
      maxOutputTokens: typeof body.max_output_tokens === 'number' ? body.max_output_tokens : null,
      metadata: parseMetadata(body),
      parallelToolCalls: optionalBoolean(body, 'parallel_tool_calls') ?? true,
      reasoning: parseReasoning(body),
      text: {format},
      toolChoice: body.tool_choice ?? 'auto',
      tools,
      topLogprobs: typeof topLogprobs === 'number' ? topLogprobs : 0,
      user: optionalString(body, 'user') ?? null,
      store: store !== null && (optionalBoolean(body, 'store') ?? true),
      previousResponseId,
      background: optionalBoolean(body, 'background') ?? false,
    },
    inputItems,
    sources: conversation.sources,
  }
}

/** The Responses field a chat field's error is about ('messages[2].content' -> 'input[1].content'). */
export function responsesParamOf(sources: readonly MessageSource[]): (chatParam: string) => string {
  return (param) => {
    const message = /^messages\[(\d+)\](.*)$/.exec(param)
    if (message) {
      const source = sources[Number(message[1])]
      return source === undefined ? 'input' : source.param + (source.keepsPath ? message[2] : '')
    }
    if (param === 'messages') return 'input'
    if (param === 'max_tokens' || param === 'max_completion_tokens') return 'max_output_tokens'
    if (param.startsWith('response_format')) return 'text.format' + param.slice('response_format'.length).replace(/^\.json_schema/, '')
    return param.replace(/^(tools\[\d+\])\.function/, '$1')
  }
}

/** Chat fields as error messages quote them ('messages[1].content[0]') or name them bare (max_tokens). */
const CHAT_FIELD_IN_MESSAGE = /'((?:messages|tools|response_format)[\w.[\]]*)'|\b(max_completion_tokens|max_tokens)\b/g

/** A chat-path error, its param and the fields its message names as the Responses request has them (else as thrown). */
export function renameParam(error: unknown, responsesParam: (chatParam: string) => string): unknown {
  if (!(error instanceof PagedLLMError)) return error
  if (error.param !== null) (error as {param: string | null}).param = responsesParam(error.param)
  error.message = error.message.replace(CHAT_FIELD_IN_MESSAGE, (_match, quoted?: string, bare?: string) => (quoted !== undefined ? `'${responsesParam(quoted)}'` : responsesParam(bare!)))
  return error
}

/**
 * previous_response_id needs the server's response store (`serve --responses-store N`); without it, a clear 400 rather
 * than a reply without the context the client meant to send; so does background (and store: false with it). conversation
 * and prompt are not served at all. Returns the previous response's id, if any.
 */
function refuseStoredState(body: JsonObject, store: StoredConversation | null): string | null {
  optionalBoolean(body, 'store')
  const previousId = optionalString(body, 'previous_response_id') ?? null
  if (previousId !== null && store === null)
    throw new InvalidRequestError("'previous_response_id' needs stored responses, which this server keeps only when started with --responses-store N: start it so, or send the whole conversation in 'input'", {param: 'previous_response_id'})
  for (const param of ['conversation', 'prompt'])
    if (body[param] !== undefined && body[param] !== null)
      throw new InvalidRequestError(`'${param}' is not served here: send the whole conversation in 'input'`, {param})
  // vLLM's ResponsesRequest has no chat_template (it ignores one, rendering its own): a template the client believes ran
  // would be a silent lie, so it is refused, trusted or not (docs/PERFORMANCE.md, "Responses API, hostile input").
  if (body.chat_template !== undefined && body.chat_template !== null)
    throw new InvalidRequestError(
      "'chat_template' is not taken by /v1/responses (as in vLLM, a response renders the server's template: serve --chat-template sets it); /v1/chat/completions takes one when the server runs with --trust-request-chat-template",
      {param: 'chat_template'},
    )
  if (optionalBoolean(body, 'background')) {
    // vLLM's rule (it needs its store too) and OpenAI's: a background response is only ever read back from the store.
    if (store === null)
      throw new InvalidRequestError("'background' needs stored responses, which this server keeps only when started with --responses-store N: start it so, or leave 'background' out", {param: 'background'})
    if (optionalBoolean(body, 'store') === false) throw new InvalidRequestError("'background' needs 'store' to be true: a background response is read back from the store", {param: 'background'})
  }
  checkUnusedFields(body)
  if ((optionalString(body, 'truncation') ?? 'disabled') !== 'disabled')
    throw new InvalidRequestError("'truncation' must be 'disabled': this server does not drop input to make room", {param: 'truncation'})
  return previousId
}

/**
 * Fields vLLM's Responses request types but does not act on for function tools: taken (as there) when well formed, a 400
 * naming them when not (any value was taken, logged as unread).
 */
function checkUnusedFields(body: JsonObject): void {
  const tier = optionalString(body, 'service_tier')
  if (tier !== undefined && !SERVICE_TIERS.includes(tier)) throw new InvalidRequestError(`'service_tier' must be one of ${SERVICE_TIERS.join(', ')}; got ${quotedValue(tier)}`, {param: 'service_tier'})
  const maxToolCalls = optionalInteger(body, 'max_tool_calls')
  if (maxToolCalls !== undefined && maxToolCalls < 0) throw new InvalidRequestError("'max_tool_calls' must be an integer >= 0", {param: 'max_tool_calls'})
}

/** The chat messages built from instructions and input, each remembering the field it came from (for error params). */
class Conversation {
  readonly messages: JsonObject[] = []
  readonly sources: MessageSource[] = []
  /** A reasoning item's text, waiting for the assistant turn it belongs to. */
  private pendingReasoning: string | null = null

  add(message: JsonObject, param: string, keepsPath = true): void {
    if (message.role === 'assistant' && this.pendingReasoning !== null) {
      message.reasoning = this.pendingReasoning
      this.pendingReasoning = null
    }
    this.messages.push(message)
    this.sources.push({param, keepsPath})
  }

  /** Adds the request's input and returns it as input items with ids (a string is one user message of input_text). */
  addInput(input: unknown): JsonObject[] {
    if (typeof input === 'string') {
      this.add({role: 'user', content: input}, 'input', false)
      return [{id: newObjectId('msg'), type: 'message', role: 'user', status: 'completed', content: [{type: 'input_text', text: input}]}]
    }
    if (!Array.isArray(input) || input.length === 0) throw new InvalidRequestError("'input' must be a string or a non-empty list of input items", {param: 'input'})
    input.forEach((item: unknown, index) => {
      checkpointEvery(index)
      this.addItem(item, `input[${index}]`)
      // Its id names it in input_items' pages (first_id, after): a string, or none (one is given).
      const id = (item as JsonObject).id
      if (id !== undefined && id !== null && typeof id !== 'string') throw new InvalidRequestError(`'input[${index}].id' must be a string`, {param: `input[${index}].id`})
    })
    return input.map(({id, ...item}: JsonObject) => ({id: typeof id === 'string' ? id : newObjectId(ITEM_ID_PREFIXES[item.type as string] ?? 'msg'), ...item}))
  }

  /** `keepsPath`: false for items the client did not send in this request (a stored conversation's). */
  addItem(item: unknown, param: string, keepsPath = true): void {
    const fields = optionalObjectItem(item, param)
    if (fields === undefined) throw new InvalidRequestError(`'${param}' must be an input item object`, {param})
    // An "easy" message has no type; every other item names its own.
    const type = fields.type ?? 'message'
    if (type === 'message') {
      if (typeof fields.role !== 'string' || !INPUT_ROLES.includes(fields.role))
        throw new InvalidRequestError(`'${param}.role' must be one of ${INPUT_ROLES.join(', ')}; got ${JSON.stringify(fields.role)}`, {param: `${param}.role`})
      return this.add({role: fields.role, content: fields.content ?? null}, param, keepsPath)
    }
    if (type === 'function_call') return this.addCall(fields, param)
    if (type === 'function_call_output') {
      const callId = requiredString(fields, 'call_id', param)
      return this.add({role: 'tool', tool_call_id: callId, content: fields.output ?? null}, `${param}.output`, false)
    }
    if (type === 'reasoning') return this.addReasoning(fields, param)
    throw new InvalidRequestError(`'${param}' is a ${quotedValue(type)} item; this server takes message, function_call, function_call_output and reasoning items`, {param: `${param}.type`})
  }

  /** A call joins the assistant turn just before it (a reply's message and calls are separate items), or opens one. */
  private addCall(fields: JsonObject, param: string): void {
    const call = {id: requiredString(fields, 'call_id', param), type: 'function', function: {name: requiredString(fields, 'name', param), arguments: requiredString(fields, 'arguments', param)}}
    const last = this.messages[this.messages.length - 1]
    if (last?.role === 'assistant' && this.pendingReasoning === null) {
      // Pushed, not copied: copying made a run of n calls cost n^2 (20,000 calls held the event loop 18 s).
      if (last.tool_calls === undefined) last.tool_calls = []
      ;(last.tool_calls as unknown[]).push(call)
      return
    }
    this.add({role: 'assistant', content: null, tool_calls: [call]}, param, false)
  }

  /**
   * A reasoning item sent back is given to the next assistant turn as its `reasoning` (the chat path's field, which
   * templates such as Qwen3's render); with no assistant turn after it, there is nothing to render it with.
   */
  private addReasoning(fields: JsonObject, param: string): void {
    if (fields.encrypted_content !== undefined && fields.encrypted_content !== null)
      throw new InvalidRequestError(`'${param}.encrypted_content' cannot be read: this server sends no encrypted reasoning`, {param: `${param}.encrypted_content`})
    const texts = (key: 'content' | 'summary') => {
      const parts = fields[key] ?? []
      if (!Array.isArray(parts)) throw new InvalidRequestError(`'${param}.${key}' must be a list of text parts`, {param: `${param}.${key}`})
      return parts.map((part: {text?: unknown} | null, index) => {
        if (typeof part?.text !== 'string') throw new InvalidRequestError(`'${param}.${key}[${index}].text' must be a string`, {param: `${param}.${key}`})
        return part.text
      })
    }
    const content = texts('content')
    this.pendingReasoning = (content.length > 0 ? content : texts('summary')).join('\n')
  }
}

function requiredString(fields: JsonObject, key: string, param: string): string {
  const value = fields[key]
  if (typeof value !== 'string') throw new InvalidRequestError(`'${param}.${key}' must be a string`, {param: `${param}.${key}`})
  return value
}

/** Responses tools are flat ({type, name, parameters}); built-in tools (web_search, file_search, ...) are not served. */
function functionTools(raw: unknown): JsonObject[] {
  if (raw === undefined || raw === null) return []
  if (!Array.isArray(raw)) throw new InvalidRequestError("'tools' must be a list of function tools", {param: 'tools'})
  return raw.map((tool: unknown, index) => {
    const param = `tools[${index}]`
    const fields = optionalObjectItem(tool, param)
    if (fields === undefined) throw new InvalidRequestError(`'${param}' must be a tool object`, {param})
    if (fields.type !== 'function')
      throw new InvalidRequestError(`'${param}' is a ${quotedValue(fields.type)} tool; this server runs function tools only`, {param: `${param}.type`})
    const {name, description, parameters, strict} = fields
    return {type: 'function', name, description: description ?? null, parameters: parameters ?? null, strict: strict ?? null}
  })
}

/** Chat's nested shape, with only the fields given: the chat template sees the tools as transformers would be passed them. */
function chatTool({type, ...fn}: JsonObject): JsonObject {
  return {type, function: Object.fromEntries(Object.entries(fn).filter(([, value]) => value !== null))}
}

/** "auto" / "none" / "required" as they are; {type: "function", name} is chat's {type, function: {name}}. */
function chatToolChoice(choice: unknown): unknown {
  if (typeof choice === 'string') return choice
  const fields = choice as {type?: unknown; name?: unknown} | null
  if (fields?.type === 'function' && typeof fields.name === 'string') return {type: 'function', function: {name: fields.name}}
  throw new InvalidRequestError(`'tool_choice' must be 'none', 'auto', 'required' or {"type": "function", "name": ...}`, {param: 'tool_choice'})
}

/** text.format onto chat's response_format; plain text needs none. */
function chatResponseFormat(format: JsonObject): JsonObject | null {
  if (format.type === 'text') return null
  if (format.type === 'json_object') return {type: 'json_object'}
  if (format.type === 'json_schema') {
    const {name, schema, strict, description} = format
    return {type: 'json_schema', json_schema: {name, schema, strict, description}}
  }
  throw new InvalidRequestError("'text.format.type' must be 'text', 'json_object' or 'json_schema'", {param: 'text.format.type'})
}

/** `include`: a list of the SDK's includable names (an unknown one is a 400 naming it). */
function parseInclude(body: JsonObject): string[] {
  const include = body.include
  if (include === undefined || include === null) return []
  if (!Array.isArray(include) || include.some((name) => typeof name !== 'string')) throw new InvalidRequestError("'include' must be a list of strings", {param: 'include'})
  const unknown = include.find((name: string) => !INCLUDABLES.includes(name))
  if (unknown !== undefined) throw new InvalidRequestError(`'include' has ${quotedValue(unknown)}; it takes ${INCLUDABLES.join(', ')}`, {param: 'include'})
  return include
}

/** OpenAI's metadata: up to 16 string values. */
function parseMetadata(body: JsonObject): JsonObject | null {
  const metadata = optionalObject(body, 'metadata')
  if (metadata === undefined) return null
  const entries = Object.entries(metadata)
  if (entries.length > 16 || entries.some(([key, value]) => typeof value !== 'string' || value.length > 512 || key.length > 64))
    throw new InvalidRequestError("'metadata' must hold at most 16 keys of up to 64 characters, each with a string of up to 512", {param: 'metadata'})
  return metadata
}

/** `reasoning.effort` is accepted and echoed: the chat path passes no effort to the template (a reasoning parser splits what the model thinks). */
function parseReasoning(body: JsonObject): ResponseSettings['reasoning'] {
  const reasoning = optionalObject(body, 'reasoning')
  if (reasoning === undefined) return null
  const effort = optionalString({'reasoning.effort': reasoning.effort}, 'reasoning.effort') ?? null
  if (effort !== null && !REASONING_EFFORTS.includes(effort))
    throw new InvalidRequestError(`'reasoning.effort' must be one of ${REASONING_EFFORTS.join(', ')}`, {param: 'reasoning.effort'})
  const summary = optionalString({'reasoning.summary': reasoning.summary}, 'reasoning.summary') ?? null
  if (summary !== null && !REASONING_SUMMARIES.includes(summary))
    throw new InvalidRequestError(`'reasoning.summary' must be one of ${REASONING_SUMMARIES.join(', ')}`, {param: 'reasoning.summary'})
  return {effort, summary}
}
