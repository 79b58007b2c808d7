// transformers' tojson filter (json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)) as
// Python writes it: floats as repr (2.0, 1e+16, Infinity), indent as a count of spaces (0 included: newlines) or a
// string, keys sorted by code point, the item separator ',' under an indent. The library's own tojson writes 2.0 as 2
// and indent=0 as compact JSON.
import {isMapping, isSequence, pythonFloatRepr, pythonStr, pythonType, type Value} from './jinja-values.js'

export interface JsonOptions {
  ensureAscii: boolean
  /** The text one level indents by; null: everything on one line. */
  indent: string | null
  itemSeparator: string
  keySeparator: string
  sortKeys: boolean
}

/** JSON's string escapes as Python's encoder writes them (control characters as \u00XX; non-ASCII kept unless ensureAscii). */
function quote(text: string, ensureAscii: boolean): string {
  const named: Record<string, string> = {'"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f'}
  const pattern = ensureAscii ? /["\\\x00-\x1f\u007f-\uffff]/g : /["\\\x00-\x1f]/g
  return '"' + text.replace(pattern, (char) => named[char] ?? '\\u' + char.charCodeAt(0).toString(16).padStart(4, '0')) + '"'
}

function floatJson(x: number): string {
  if (Number.isNaN(x)) return 'NaN'
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity'
  return pythonFloatRepr(x)
}

/** json.dumps of a template value; Undefined, functions and the like are Python's TypeError. */
export function pythonJsonDumps(value: Value, options: JsonOptions, level = 0): string {
  switch (value.type) {
    case 'NullValue':
      return 'null'
    case 'BooleanValue':
      return value.value ? 'true' : 'false'
    case 'IntegerValue':
      return pythonStr(value)
    case 'FloatValue':
      return floatJson(value.value as number)
    case 'StringValue':
      return quote(value.value as string, options.ensureAscii)
  }
  const open = isSequence(value) ? '[' : isMapping(value) ? '{' : null
  if (open === null) throw new TypeError(`Object of type ${pythonType(value)} is not JSON serializable`)
  const items = isSequence(value)
    ? (value.value as Value[]).map((item) => pythonJsonDumps(item, options, level + 1))
    : [...(value.value as Map<string, Value>)]
        .sort(options.sortKeys ? ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0) : () => 0)
        .map(([key, item]) => quote(key, options.ensureAscii) + options.keySeparator + pythonJsonDumps(item, options, level + 1))
  const close = open === '[' ? ']' : '}'
  if (items.length === 0) return open + close
  if (options.indent === null) return open + items.join(options.itemSeparator) + close
  const inner = '\n' + options.indent.repeat(level + 1)
  return open + inner + items.join(options.itemSeparator + inner) + '\n' + options.indent.repeat(level) + close
}

/** The filter's arguments as transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) reads them. */
export function jsonOptions([ensureAscii, indent, separators, sortKeys]: Array<Value | undefined>): JsonOptions {
  let indentText: string | null = null
  if (indent !== undefined && indent.type !== 'NullValue') {
    if (indent.type === 'StringValue') indentText = indent.value as string
    else if (indent.type === 'IntegerValue' || indent.type === 'BooleanValue') indentText = ' '.repeat(Math.max(0, Number(indent.value)))
    else throw new TypeError(`tojson's indent must be an int or a str, not ${pythonType(indent)}`)
  }
  let itemSeparator = indentText === null ? ', ' : ','
  let keySeparator = ': '
  if (separators !== undefined && separators.type !== 'NullValue') {
    const pair = isSequence(separators) ? (separators.value as Value[]) : []
    if (pair.length !== 2 || pair.some((part) => part.type !== 'StringValue')) throw new TypeError("tojson's separators must be a pair of strings")
    ;[itemSeparator, keySeparator] = pair.map((part) => part.value as string) as [string, string]
  }
  const truthy = (option: Value | undefined) => option !== undefined && option.__bool__().value
  return {ensureAscii: truthy(ensureAscii), indent: indentText, itemSeparator, keySeparator, sortKeys: truthy(sortKeys)}
}
