// Tool calling on chat completions: tools/tool_choice fields, the grammar that forces a call, and the calls read back (per family: tool-call-parsers.ts).
import {randomBytes} from 'node:crypto'
import {InvalidRequestError} from '../engine/errors.js'
import {checkJsonSchema, type GuidedSpec, type JsonSchema} from '../engine/guided/guided-spec.js'
import {type JsonObject, optionalBoolean} from './request-fields.js'
import {argumentsJson, callsInText, type TextCall, type ToolCallParserName, tryJson} from './tool-call-parsers.js'

export {TOOL_CALL_PARSERS, type ToolCallParserName} from './tool-call-parsers.js'

export interface ToolFunction {
  name: string
  description?: string
  parameters: JsonSchema
}

/** `required`: at least one call (grammar-forced); `named`: exactly this function (grammar-forced arguments). */
export type ToolMode = {kind: 'none'} | {kind: 'auto'} | {kind: 'required'} | {kind: 'named'; name: string}

export interface ToolRequest {
  /** As sent, for the chat template (transformers passes the OpenAI tool objects); their JSON text from a worker's checks. */
  tools: JsonObject[] | string
  functions: ToolFunction[]
  mode: ToolMode
  parallel: boolean
}

export interface ToolCall {
  id: string
  type: 'function'
  function: {name: string; arguments: string}
}

const NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/

/** Reads tools, tool_choice and parallel_tool_calls; null when the request has no tools. */
export function parseToolRequest(body: JsonObject): ToolRequest | null {
  const rawTools = body.tools ?? undefined
  const rawChoice = body.tool_choice ?? undefined
  if (rawTools === undefined || (Array.isArray(rawTools) && rawTools.length === 0)) {
    // An empty list with "required" is "none" (vLLM, following OpenAI); any other choice needs a tool to choose.
    const emptyList = Array.isArray(rawTools) && rawChoice === 'required'
    if (rawChoice !== undefined && rawChoice !== 'none' && !emptyList)
      throw new InvalidRequestError("'tool_choice' needs 'tools'", {param: 'tool_choice'})
    return null
  }
  if (!Array.isArray(rawTools)) throw new InvalidRequestError("'tools' must be a list of function tools", {param: 'tools'})
  const functions: ToolFunction[] = []
  const names = new Set<string>()
  rawTools.forEach((tool: unknown, index) => {
    const param = `tools[${index}]`
    const fn = (tool as {type?: unknown; function?: unknown} | null)?.function as JsonObject | undefined
    if ((tool as {type?: unknown} | null)?.type !== 'function' || typeof fn !== 'object' || fn === null)
      throw new InvalidRequestError(`'${param}' must be {"type": "function", "function": {...}}`, {param})
    if (typeof fn.name !== 'string' || !NAME_PATTERN.test(fn.name))
      throw new InvalidRequestError(`'${param}.function.name' must be 1-64 letters, digits, '_' or '-'`, {param: `${param}.function.name`})
    // A set, not a scan of the tools before: 80,000 tools in a 4 MB body held the event loop for minutes.
    if (names.has(fn.name))
      throw new InvalidRequestError(`'${param}.function.name' repeats '${fn.name}': each tool needs its own name`, {param: `${param}.function.name`})
    const parameters = fn.parameters ?? {type: 'object', properties: {}}
    // Arguments are a JSON object (OpenAI's rule): a schema of another type could never be met by a call.
    if (typeof parameters !== 'object' || Array.isArray(parameters) || !describesObjects(parameters as JsonObject))
      throw new InvalidRequestError(`'${param}.function.parameters' must be a JSON schema of type "object"`, {param: `${param}.function.parameters`})
    names.add(fn.name)
    functions.push({name: fn.name, description: typeof fn.description === 'string' ? fn.description : undefined, parameters: parameters as JsonSchema})
  })
  return {tools: rawTools as JsonObject[], functions, mode: parseToolChoice(rawChoice, functions), parallel: optionalBoolean(body, 'parallel_tool_calls') ?? true}
}

/** Type object (or none), and every value its enum, const or anyOf/oneOf branches allow at the top is an object too. */
function describesObjects(schema: JsonObject): boolean {
  const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value)
  if ((schema.type ?? 'object') !== 'object') return false
  if (Array.isArray(schema.enum) && !schema.enum.every(isObject)) return false
  if (schema.const !== undefined && !isObject(schema.const)) return false
  return ['anyOf', 'oneOf'].every((keyword) => !Array.isArray(schema[keyword]) || schema[keyword].every((branch) => isObject(branch) && describesObjects(branch)))
}

function parseToolChoice(choice: unknown, functions: ToolFunction[]): ToolMode {
  if (choice === undefined || choice === 'auto') return {kind: 'auto'}
  if (choice === 'none') return {kind: 'none'}
  if (choice === 'required') return {kind: 'required'}
  const name = (choice as {type?: unknown; function?: {name?: unknown}} | null)?.function?.name
  if ((choice as {type?: unknown} | null)?.type === 'function' && typeof name === 'string') {
    if (!functions.some((fn) => fn.name === name))
      throw new InvalidRequestError(`'tool_choice' names function '${name}', which is not in 'tools'`, {param: 'tool_choice'})
    return {kind: 'named', name}
  }
  throw new InvalidRequestError(`'tool_choice' must be 'none', 'auto', 'required' or {"type": "function", "function": {"name": ...}}`, {param: 'tool_choice'})
}

/**
 * The grammar that makes a forced call always parse (vLLM's way): a named function's output IS its arguments object;
 * `required` outputs a JSON list of {"name", "parameters"} (one item unless parallel_tool_calls).
 */
export function toolGrammar(request: ToolRequest): GuidedSpec | null {
  const {mode} = request
  if (mode.kind === 'named') {
    const index = request.functions.findIndex((f) => f.name === mode.name)
    return {kind: 'json', schema: argumentsSchema(request.functions[index]!, index), anyWhitespace: false, param: 'tool_choice'}
  }
  if (mode.kind !== 'required') return null
  // Each function's parameters become a definition of the wrapper, their local $refs ("#/$defs/...", as pydantic
  // writes them) rebased onto it: nested as they are, "#" would mean the wrapper and the refs would not resolve.
  const definitions = Object.fromEntries(request.functions.map((fn, i) => [`tool${i}`, rebaseRefs(argumentsSchema(fn, i), `#/$defs/tool${i}`)]))
  const callSchemas = request.functions.map((fn, i) => ({
    type: 'object',
    properties: {name: {type: 'string', enum: [fn.name]}, parameters: {$ref: `#/$defs/tool${i}`}},
    required: ['name', 'parameters'],
  }))
  const schema = {type: 'array', minItems: 1, ...(request.parallel ? {} : {maxItems: 1}), items: {anyOf: callSchemas}, $defs: definitions}
  return {kind: 'json', schema, anyWhitespace: false, param: 'tool_choice'}
}

/**
 * The schema a forced call's arguments follow, checked on its own so an error names the tool and a path in its
 * parameters; one without a type or a combinator at the top gets type "object" (arguments are an object).
 */
function argumentsSchema(fn: ToolFunction, index: number): JsonSchema {
  checkJsonSchema(fn.parameters, `tools[${index}].function.parameters`)
  const open = ['type', 'anyOf', 'oneOf', '$ref', 'enum', 'const'].every((keyword) => fn.parameters[keyword] === undefined)
  return open ? {...fn.parameters, type: 'object'} : fn.parameters
}

/** Values, not schemas: a "$ref" inside them is data. */
const SCHEMA_DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples'])
/** Maps of name -> schema: their keys are names (a property may be called "enum"), not keywords. */
const SCHEMA_MAPS = new Set(['properties', '$defs', 'definitions'])

/** A copy of `schema` whose local $refs ("#...") point into it at `base` instead of at the document root. */
function rebaseRefs(schema: unknown, base: string): unknown {
  if (Array.isArray(schema)) return schema.map((item) => rebaseRefs(item, base))
  if (typeof schema !== 'object' || schema === null) return schema
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => {
      if (key === '$ref' && typeof value === 'string' && value.startsWith('#')) return [key, base + value.slice(1)]
      if (SCHEMA_DATA_KEYWORDS.has(key)) return [key, value]
      if (SCHEMA_MAPS.has(key) && typeof value === 'object' && value !== null && !Array.isArray(value))
        return [key, Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, rebaseRefs(sub, base)]))]
      return [key, rebaseRefs(value, base)]
    }),
  )
}

/** OpenAI's "call_" ids; Mistral's templates refuse any id but 9 letters or digits, so its calls get such ids. */
export function newToolCallId(parser: ToolCallParserName | null = null): string {
  if (parser === 'mistral') return randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 9)
  return `call_${randomBytes(12).toString('hex')}`
}

function makeCall(call: TextCall, parser: ToolCallParserName | null): ToolCall {
  return {id: newToolCallId(parser), type: 'function', function: {name: call.name, arguments: call.arguments}}
}

/** What the model said, split into plain content and tool calls. */
export interface ParsedOutput {
  content: string | null
  toolCalls: ToolCall[]
}

/**
 * Reads calls from a finished output: forced modes by their grammar's shape, `auto` with the server's parser.
 * Without parallel_tool_calls only the first call is kept (vLLM's rule: the grammar bounds `required`, not free text).
 */
export function parseToolOutput(text: string, request: ToolRequest, parser: ToolCallParserName | null): ParsedOutput {
  const {mode} = request
  // A named call's output IS its arguments, complete or cut by max_tokens.
  if (mode.kind === 'named') return {content: null, toolCalls: [makeCall({name: mode.name, arguments: text}, parser)]}
  if (mode.kind === 'none' || (mode.kind === 'auto' && parser === null)) return {content: text, toolCalls: []}
  const found = mode.kind === 'required' ? forcedCalls(text) : callsInText(text, parser!)
  if (found.calls.length === 0) return {content: text, toolCalls: []}
  const calls = request.parallel ? found.calls : found.calls.slice(0, 1)
  return {content: found.content, toolCalls: calls.map((call) => makeCall(call, parser))}
}

/** `required`'s output: a JSON list of {"name", "parameters"}; a list cut by max_tokens does not parse and stays content. */
function forcedCalls(text: string): {content: string | null; calls: TextCall[]} {
  const list = tryJson(text)
  if (!Array.isArray(list)) return {content: text, calls: []}
  const calls = list.map((item: {name?: unknown; parameters?: unknown} | null) => {
    const args = argumentsJson(item?.parameters)
    return typeof item?.name === 'string' && args !== null ? {name: item.name, arguments: args} : null
  })
  return calls.some((call) => call === null) ? {content: text, calls: []} : {content: null, calls: calls as TextCall[]}
}

/** Assistant tool_calls and tool results of the conversation, in the shape chat templates read (arguments as objects). */
export function toolMessageFields(fields: JsonObject, param: string): {tool_calls?: unknown[]; tool_call_id?: string; name?: string} {
  const extra: {tool_calls?: unknown[]; tool_call_id?: string; name?: string} = {}
  if (fields.tool_calls !== undefined && fields.tool_calls !== null) {
    if (!Array.isArray(fields.tool_calls)) throw new InvalidRequestError(`'${param}.tool_calls' must be a list`, {param: `${param}.tool_calls`})
  }
  // Clients send [] on turns without calls; templates test for the key ('tool_calls' in message) and read call 0.
  if (Array.isArray(fields.tool_calls) && fields.tool_calls.length > 0) {
    extra.tool_calls = fields.tool_calls.map((call: unknown, index) => {
      const fn = (call as {function?: {name?: unknown; arguments?: unknown}} | null)?.function
      if (typeof fn?.name !== 'string' || typeof fn.arguments !== 'string')
        throw new InvalidRequestError(`'${param}.tool_calls[${index}]' must have function.name and function.arguments strings`, {param: `${param}.tool_calls`})
      const args = tryJson(fn.arguments) ?? fn.arguments
      return {...(call as object), function: {name: fn.name, arguments: args}}
    })
  }
  if (fields.role === 'tool') {
    if (typeof fields.tool_call_id !== 'string')
      throw new InvalidRequestError(`'${param}.tool_call_id' is required on tool messages`, {param: `${param}.tool_call_id`})
    extra.tool_call_id = fields.tool_call_id
  }
  // Typed strictly, as every field (vLLM's pydantic refuses it too): a number here was dropped without a word.
  if (fields.name !== undefined && fields.name !== null && typeof fields.name !== 'string')
    throw new InvalidRequestError(`'${param}.name' must be a string`, {param: `${param}.name`})
  if (typeof fields.name === 'string') extra.name = fields.name
  return extra
}
