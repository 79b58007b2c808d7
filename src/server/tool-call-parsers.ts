// Reads tool calls out of a model's free text, per model family (vLLM's --tool-call-parser names): hermes, llama3_json,
// mistral here; pythonic (pythonic-tool-calls.ts); deepseek_v3, deepseek_v31, granite, phi4_mini_json, internlm
// (tool-call-formats.ts).
//
// Text that does not hold well-formed calls stays content: a parser never throws on what a model writes.
import {pythonicCalls} from './pythonic-tool-calls.js'
import {deepseekCalls, graniteCalls, internlmCalls, phi4MiniCalls} from './tool-call-formats.js'

export const TOOL_CALL_PARSERS = ['hermes', 'llama3_json', 'mistral', 'pythonic', 'llama4_pythonic', 'deepseek_v3', 'deepseek_v31', 'granite', 'phi4_mini_json', 'internlm'] as const
export type ToolCallParserName = (typeof TOOL_CALL_PARSERS)[number]

/** A call as read from the text: its arguments already a JSON string. */
export interface TextCall {
  name: string
  arguments: string
}

export interface CallsInText {
  content: string | null
  calls: TextCall[]
}

/** DeepSeek's markers (fullwidth bars and '▁', as its tokenizer writes them). */
export const DEEPSEEK = {
  callsBegin: '<｜tool▁calls▁begin｜>',
  callBegin: '<｜tool▁call▁begin｜>',
  callEnd: '<｜tool▁call▁end｜>',
  sep: '<｜tool▁sep｜>',
}

/** The text that opens a call where content may come first (a stream sends the content before it). */
export const CALL_START: Partial<Record<ToolCallParserName, string>> = {
  hermes: '<tool_call>',
  mistral: '[TOOL_CALLS]',
  deepseek_v3: DEEPSEEK.callsBegin,
  deepseek_v31: DEEPSEEK.callsBegin,
  phi4_mini_json: 'functools[',
  internlm: '<|action_start|>',
}
export const PYTHON_TAG = '<|python_tag|>'
/** Families whose calls are the whole output: the ways such an output may open (after whitespace). */
export const WHOLE_OUTPUT_OPENERS: Partial<Record<ToolCallParserName, readonly string[]>> = {
  llama3_json: ['{', PYTHON_TAG],
  pythonic: ['[', '<|python_start|>'],
  llama4_pythonic: ['[', '<|python_start|>'],
  granite: ['[', '<|tool_call|>', '<tool_call>'],
}
/** Families whose call markers are special tokens the reply must keep (skip_special_tokens off for auto), as vLLM's parsers ask. */
export const MARKERS_ARE_SPECIAL_TOKENS: ReadonlySet<ToolCallParserName> = new Set(['hermes', 'mistral', 'deepseek_v3', 'deepseek_v31', 'granite', 'internlm'])

export function callsInText(text: string, parser: ToolCallParserName): CallsInText {
  switch (parser) {
    case 'hermes':
      return hermesCalls(text)
    case 'mistral':
      return mistralCalls(text)
    case 'llama3_json':
      return llama3JsonCalls(text)
    case 'pythonic':
    case 'llama4_pythonic': {
      const calls = pythonicCalls(text)
      return calls === null ? {content: text, calls: []} : {content: null, calls}
    }
    case 'deepseek_v3':
    case 'deepseek_v31':
      return deepseekCalls(text, parser === 'deepseek_v3' ? 'v3' : 'v31')
    case 'granite':
      return graniteCalls(text)
    case 'phi4_mini_json':
      return phi4MiniCalls(text)
    case 'internlm':
      return internlmCalls(text)
  }
}

/**
 * A call's arguments as the JSON string OpenAI returns. Models sometimes write them as a string holding JSON; that
 * string is the arguments. null when they cannot be written back (nested deeper than JSON.stringify's stack).
 */
export function argumentsJson(value: unknown): string | null {
  if (typeof value === 'string') {
    const inner = tryJson(value)
    if (typeof inner === 'object' && inner !== null) return argumentsJson(inner)
  }
  try {
    return JSON.stringify(value ?? {})
  } catch {
    return null
  }
}

/** `{"name": ..., <argsKey>: ...}` as a call, or null when it is not one. */
export function callOf(value: unknown, ...argsKeys: string[]): TextCall | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  const fields = value as Record<string, unknown>
  if (typeof fields.name !== 'string' || fields.name === '') return null
  const args = argsJson(fields, argsKeys)
  return args === null ? null : {name: fields.name, arguments: args}
}

function argsJson(fields: Record<string, unknown>, keys: string[]): string | null {
  const key = keys.find((name) => fields[name] !== undefined)
  return argumentsJson(key === undefined ? {} : fields[key])
}

/**
 * Qwen2.5 / Hermes: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks; the last may be unclosed (cut
 * or stopped). Found with indexOf, not a regex: a lazy group before `\s*` costs quadratic time on long whitespace.
 */
function hermesCalls(text: string): CallsInText {
  const [open, close] = [CALL_START.hermes!, '</tool_call>']
  const calls: TextCall[] = []
  // The text before the first call as written: a stream has sent it so before it saw the call (as vLLM does).
  const first = text.indexOf(open)
  let rest = ''
  let from = Math.max(first, 0)
  for (let start = first; start >= 0; start = text.indexOf(open, from)) {
    const end = text.indexOf(close, start + open.length)
    const blockEnd = end < 0 ? text.length : end + close.length
    const call = callOf(tryJson(text.slice(start + open.length, end < 0 ? text.length : end)), 'arguments', 'parameters')
    rest += text.slice(from, call === null ? blockEnd : start)
    if (call !== null) calls.push(call)
    from = blockEnd
  }
  rest += text.slice(from)
  return withContent(text, text.slice(0, Math.max(first, 0)) + rest.trim(), calls)
}

/** Llama 3.x JSON tool calls: the whole output is `{"name": ..., "parameters": {...}}` (several joined by ';'). */
function llama3JsonCalls(text: string): CallsInText {
  const body = text.trim().replace(/^<\|python_tag\|>/, '')
  const calls = body.split(/;\s*(?=\{)/).map((part) => callOf(tryJson(part), 'parameters', 'arguments'))
  if (calls.some((call) => call === null)) return {content: text, calls: []}
  return {content: null, calls: calls as TextCall[]}
}

/**
 * Mistral: content, then `[TOOL_CALLS]` and a JSON list of {"name", "arguments"} (v3 tokenizers), or one
 * `[TOOL_CALLS]name[ARGS]{...}` per call (v11 and later). Anything malformed leaves the whole text as content.
 */
function mistralCalls(text: string): CallsInText {
  const start = text.indexOf(CALL_START.mistral!)
  if (start < 0) return {content: text, calls: []}
  const calls: TextCall[] = []
  for (const part of text.slice(start).split(CALL_START.mistral!).slice(1)) {
    const trimmed = part.trim()
    const listed = trimmed.startsWith('[') ? tryJson(trimmed) : undefined
    const found = Array.isArray(listed) ? listed.map((item) => callOf(item, 'arguments', 'parameters')) : [namedArgsCall(trimmed)]
    if (found.length === 0 || found.some((call) => call === null)) return {content: text, calls: []}
    calls.push(...(found as TextCall[]))
  }
  return withContent(text, text.slice(0, start), calls)
}

/** `name[ARGS]{...}`: Mistral's v11 call, or null. */
function namedArgsCall(part: string): TextCall | null {
  const marker = part.indexOf('[ARGS]')
  if (marker <= 0) return null
  const args = tryJson(part.slice(marker + '[ARGS]'.length))
  if (args === undefined) return null
  const json = argumentsJson(args)
  return json === null ? null : {name: part.slice(0, marker).trim(), arguments: json}
}

function withContent(text: string, rest: string, calls: TextCall[]): CallsInText {
  if (calls.length === 0) return {content: text, calls}
  return {content: rest === '' ? null : rest, calls}
}

export function tryJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
