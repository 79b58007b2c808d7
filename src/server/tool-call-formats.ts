// The smaller tool-call formats of vLLM's parsers: deepseek_v3, deepseek_v31, granite, phi4_mini_json, internlm.
// Each reads what its family's chat template teaches; text that does not hold well-formed calls stays content.
import {argumentsJson, callOf, type CallsInText, DEEPSEEK, type TextCall, tryJson} from './tool-call-parsers.js'

/** A JSON list of calls, or null when any item is not one. */
function jsonCallList(value: unknown): TextCall[] | null {
  if (!Array.isArray(value) || value.length === 0) return null
  const calls = value.map((item) => callOf(item, 'arguments', 'parameters'))
  return calls.some((call) => call === null) ? null : (calls as TextCall[])
}

const content = (text: string) => (text.trim() === '' ? null : text)

/**
 * DeepSeek-V3 / R1: content, then `<｜tool▁calls▁begin｜>` and per call
 * `<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>`. V3.1 (`deepseek_v31`) writes
 * `<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS<｜tool▁call▁end｜>`.
 */
export function deepseekCalls(text: string, version: 'v3' | 'v31'): CallsInText {
  const start = text.indexOf(DEEPSEEK.callsBegin)
  if (start < 0) return {content: text, calls: []}
  const calls: TextCall[] = []
  let from = start + DEEPSEEK.callsBegin.length
  for (let begin = text.indexOf(DEEPSEEK.callBegin, from); begin >= 0; begin = text.indexOf(DEEPSEEK.callBegin, from)) {
    const end = text.indexOf(DEEPSEEK.callEnd, begin)
    const body = text.slice(begin + DEEPSEEK.callBegin.length, end < 0 ? text.length : end)
    const sep = body.indexOf(DEEPSEEK.sep)
    if (sep < 0) return {content: text, calls: []}
    const head = body.slice(0, sep)
    let rest = body.slice(sep + DEEPSEEK.sep.length)
    let name = head.trim()
    if (version === 'v3') {
      // "function<sep>NAME\n```json\nARGS\n```"
      const newline = rest.indexOf('\n')
      name = (newline < 0 ? rest : rest.slice(0, newline)).trim()
      rest = newline < 0 ? '' : unfenced(rest.slice(newline + 1))
    }
    const args = tryJson(rest.trim())
    const json = args === undefined ? null : argumentsJson(args)
    if (name === '' || json === null) return {content: text, calls: []}
    calls.push({name, arguments: json})
    from = end < 0 ? text.length : end + DEEPSEEK.callEnd.length
  }
  if (calls.length === 0) return {content: text, calls: []}
  return {content: content(text.slice(0, start)), calls}
}

/**
 * The text inside a ```json fence. The closing fence is cut by hand: a regex `\s*```\s*$` is tried from every
 * whitespace run's start and backs off through the run, quadratic in it (24 s for 10^5 spaces of a whitespace loop).
 */
function unfenced(text: string): string {
  const body = text.replace(/^\s*```(?:json)?/, '').trimEnd()
  return body.endsWith('```') ? body.slice(0, -3) : body
}

/** Granite 3.x: the output is `<|tool_call|>` (or `<tool_call>`) and a JSON list of {"name", "arguments"}. */
export function graniteCalls(text: string): CallsInText {
  const body = text.trim().replace(/^(?:<\|tool_call\|>|<tool_call>)/, '').trim()
  const calls = body.startsWith('[') ? jsonCallList(tryJson(body)) : null
  return calls === null ? {content: text, calls: []} : {content: null, calls}
}

/** The JSON list that starts at `open` ('['), found by its balanced end (strings skipped); undefined when it does not close. */
function listAt(text: string, open: number): string | undefined {
  let depth = 0
  let inString = false
  for (let at = open; at < text.length; at++) {
    const char = text[at]
    if (inString) {
      if (char === '\\') at++
      else if (char === '"') inString = false
    } else if (char === '"') inString = true
    else if (char === '[' || char === '{') depth++
    else if ((char === ']' || char === '}') && --depth === 0) return text.slice(open, at + 1)
  }
  return undefined
}

/** Phi-4-mini (vLLM's phi4_mini_json): content, then `functools[{"name": ..., "arguments": {...}}, ...]`. */
export function phi4MiniCalls(text: string): CallsInText {
  const marker = text.indexOf('functools[')
  if (marker < 0) return {content: text, calls: []}
  const list = listAt(text, marker + 'functools'.length)
  const calls = list === undefined ? null : jsonCallList(tryJson(list))
  return calls === null ? {content: text, calls: []} : {content: content(text.slice(0, marker)), calls}
}

/** InternLM2.5: content, then `<|action_start|><|plugin|>\n{"name": ..., "parameters": {...}}<|action_end|>` (one call). */
export function internlmCalls(text: string): CallsInText {
  const start = text.indexOf('<|action_start|>')
  if (start < 0) return {content: text, calls: []}
  const end = text.indexOf('<|action_end|>', start)
  const body = text.slice(start + '<|action_start|>'.length, end < 0 ? text.length : end).replace(/^\s*<\|plugin\|>/, '')
  const call = callOf(tryJson(body.trim()), 'parameters', 'arguments')
  return call === null ? {content: text, calls: []} : {content: content(text.slice(0, start)), calls: [call]}
}
