// jinja2's text-producing filters @huggingface/jinja lacks or runs differently: indent (a string width, Python's
// splitlines), urlencode, filesizeformat, xmlattr, forceescape, pprint and wordwrap, each as jinja2 3.1 writes its output.
import type {Environment} from '@huggingface/jinja'
import {floatOfValue} from './jinja-number-filters.js'
import {pythonFixed} from './python-float-format.js'
import {
  type InterpreterSteps,
  isMapping,
  isNumber,
  isSequence,
  type Node,
  pythonIterable,
  pythonStr,
  pythonType,
  StringValue,
  type Value,
} from './jinja-values.js'
import {MAX_TEMPLATE_STRING} from './template-budget.js'
import {textWrap} from './python-textwrap.js'

const HTML_ESCAPES: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;'}

/** markupsafe's escape of str(value): & < > " ' as entities. */
export const htmlEscape = (value: Value) => pythonStr(value).replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!)

/** Python's str.splitlines(): \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, \u2028 and \u2029 end a line; no empty last line. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/)
  if (lines.at(-1) === '') lines.pop()
  return lines
}

/** A filter's arguments by position or keyword, in the order of `names`. */
export function namedArgs(interpreter: InterpreterSteps, argNodes: Node[], environment: Environment, names: string[]): Array<Value | undefined> {
  const values: Array<Value | undefined> = names.map(() => undefined)
  argNodes.forEach((node, i) => {
    if (node.type === 'KeywordArgumentExpression') {
      const key = String((node as Node & {key: Node}).key.value)
      const at = names.indexOf(key)
      if (at < 0) throw new Error(`unexpected keyword argument '${key}'`)
      if (values[at] !== undefined) throw new TypeError(`got multiple values for argument '${key}'`)
      values[at] = interpreter.evaluate(node.value as Node, environment)
    } else {
      if (i >= names.length) throw new TypeError(`the filter takes at most ${names.length} arguments`)
      values[i] = interpreter.evaluate(node, environment)
    }
  })
  return values
}

const truthy = (value: Value | undefined) => value !== undefined && value.__bool__().value

/** jinja2's do_indent: `s` must be a string (s + '\n'); width a count of spaces or the indentation itself. */
function indent(operand: Value, width: Value | undefined, first: Value | undefined, blank: Value | undefined): string {
  if (operand.type !== 'StringValue') throw new TypeError(`the 'indent' filter needs a str, got ${pythonType(operand)}`)
  let indention = '    '
  if (width?.type === 'StringValue') indention = width.value as string
  else if (width !== undefined) {
    if (width.type !== 'IntegerValue' && width.type !== 'BooleanValue') throw new TypeError(`can't multiply sequence by non-int of type '${pythonType(width)}'`)
    const count = Number(width.value)
    if (count > MAX_TEMPLATE_STRING) throw new RangeError(`an indentation of ${count} characters is longer than a template string may be`)
    indention = ' '.repeat(Math.max(0, count))
  }
  const lines = splitLines((operand.value as string) + '\n')
  let text: string
  if (truthy(blank)) text = lines.join('\n' + indention)
  else text = [lines[0]!, ...lines.slice(1).map((line) => (line === '' ? line : indention + line))].join('\n')
  return truthy(first) ? indention + text : text
}

/** werkzeug's url_quote as jinja2 uses it: UTF-8 bytes, all but A-Z a-z 0-9 _ . - ~ (and / outside a query) as %XX. */
function urlQuote(value: Value, forQuery: boolean): string {
  let quoted: string
  try {
    // encodeURIComponent (native, fast on long text) keeps ! ' ( ) * too, which Python quotes.
    quoted = encodeURIComponent(pythonStr(value)).replace(/[!'()*]/g, (char) => '%' + char.charCodeAt(0).toString(16).toUpperCase())
  } catch {
    throw new Error("UnicodeEncodeError: 'utf-8' codec can't encode a lone surrogate")
  }
  return forQuery ? quoted.replaceAll('%20', '+') : quoted.replaceAll('%2F', '/')
}

/** jinja2's do_urlencode: a string (or any non-iterable) quoted; a dict's items or a list of pairs as a query string. */
function urlencode(value: Value): string {
  if (value.type === 'StringValue' || !(isSequence(value) || isMapping(value) || value.type === 'UndefinedValue')) return urlQuote(value, false)
  const pairs = isMapping(value) ? [...(value.value as Map<string, Value>)].map(([key, item]) => [new StringValue(key), item]) : pythonIterable(value).map((item) => pythonIterable(item))
  return pairs
    .map((pair) => {
      if (pair.length !== 2) throw new Error(`ValueError: ${pair.length > 2 ? 'too many values to unpack (expected 2)' : `not enough values to unpack (expected 2, got ${pair.length})`}`)
      return `${urlQuote(pair[0]!, true)}=${urlQuote(pair[1]!, true)}`
    })
    .join('&')
}

const DECIMAL_UNITS = ['kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB']
const BINARY_UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB']

/** jinja2's do_filesizeformat: float(value) bytes in kB, MB, ... (powers of 1000), or KiB, MiB, ... when binary. */
function filesizeformat(value: Value, binary: boolean): string {
  const bytes = floatOfValue(value)
  const base = binary ? 1024 : 1000
  if (bytes === 1) return '1 Byte'
  if (bytes < base) {
    if (!Number.isFinite(bytes)) throw new Error('OverflowError: cannot convert float infinity to integer')
    return `${BigInt(Math.trunc(bytes))} Bytes`
  }
  const units = binary ? BINARY_UNITS : DECIMAL_UNITS
  // The last unit is used past its range too (and for nan, which no comparison passes).
  let at = units.findIndex((_, i) => bytes < base ** (i + 2))
  if (at < 0) at = units.length - 1
  return `${pythonFixed((base * bytes) / base ** (at + 2), 1)} ${units[at]!}`
}

/** jinja2's do_xmlattr: a dict's items as ` key="value"` (None and Undefined left out), both escaped. */
function xmlattr(value: Value, autospace: boolean): string {
  if (!isMapping(value)) throw new Error(`AttributeError: '${pythonType(value)}' object has no attribute 'items'`)
  const items: string[] = []
  for (const [key, item] of value.value as Map<string, Value>) {
    if (item.type === 'NullValue' || item.type === 'UndefinedValue') continue
    if (/[ \t\n\r\f\v/>=]/.test(key)) throw new Error(`ValueError: Invalid character in attribute name: ${pythonStr(new StringValue(key), true)}`)
    items.push(`${htmlEscape(new StringValue(key))}="${htmlEscape(item)}"`)
  }
  const text = items.join(' ')
  return autospace && text !== '' ? ' ' + text : text
}

/** pprint's repr: Python's, with each dict's keys sorted (pprint's sort_dicts). */
function sortedRepr(value: Value): string {
  if (isMapping(value)) {
    const entries = [...(value.value as Map<string, Value>)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return '{' + entries.map(([key, item]) => `${pythonStr(new StringValue(key), true)}: ${sortedRepr(item)}`).join(', ') + '}'
  }
  if (isSequence(value)) {
    const items = (value.value as Value[]).map(sortedRepr)
    return value.type === 'TupleValue' ? '(' + items.join(', ') + (items.length === 1 ? ',)' : ')') : '[' + items.join(', ') + ']'
  }
  return pythonStr(value, true)
}

/**
 * pprint.pformat(value) as jinja2's pprint filter calls it (width 80, indent 1, dicts sorted): the repr where it fits,
 * else a list, tuple or dict one item per line, nested ones in turn. A string that pformat would cut into several
 * literals (one past its width with whitespace or line breaks in it) is refused rather than printed otherwise.
 */
function pformat(value: Value, indent = 0, allowance = 0): string {
  const text = sortedRepr(value)
  if (text.length <= 80 - indent - allowance) return text
  if (value.type === 'StringValue') {
    if (/[\s]/u.test(value.value as string)) throw new Error("the 'pprint' filter on a long string with spaces or line breaks (pformat cuts it into several literals), which pagedllm's template engine does not support")
    return text
  }
  if (isMapping(value)) {
    const entries = [...(value.value as Map<string, Value>)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    const inner = indent + 1
    return '{' + entries.map(([key, item], i) => {
      const keyText = pythonStr(new StringValue(key), true)
      return `${keyText}: ${pformat(item, inner + keyText.length + 2, i === entries.length - 1 ? allowance + 1 : 1)}`
    }).join(',\n' + ' '.repeat(inner)) + '}'
  }
  if (isSequence(value)) {
    const items = value.value as Value[]
    const [open, close] = value.type === 'TupleValue' ? ['(', items.length === 1 ? ',)' : ')'] : ['[', ']']
    const inner = indent + 1
    return open + items.map((item, i) => pformat(item, inner, i === items.length - 1 ? allowance + close.length : 1)).join(',\n' + ' '.repeat(inner)) + close
  }
  return text
}

/** The filters above by name; null for any other. */
export function textFilter(interpreter: InterpreterSteps, operand: Value, name: string, argNodes: Node[], environment: Environment): Value | null {
  const args = (names: string[]) => namedArgs(interpreter, argNodes, environment, names)
  switch (name) {
    case 'indent': {
      const [width, first, blank] = args(['width', 'first', 'blank'])
      return new StringValue(indent(operand, width, first, blank))
    }
    case 'urlencode':
      return new StringValue(urlencode(operand))
    case 'filesizeformat':
      return new StringValue(filesizeformat(operand, truthy(args(['binary'])[0])))
    case 'xmlattr': {
      const [autospace] = args(['autospace'])
      return new StringValue(xmlattr(operand, autospace === undefined || truthy(autospace)))
    }
    case 'pprint':
      return new StringValue(pformat(operand))
    case 'forceescape':
      return new StringValue(htmlEscape(operand))
    case 'wordwrap': {
      if (operand.type !== 'StringValue') throw new TypeError(`the 'wordwrap' filter needs a str, got ${pythonType(operand)}`)
      const [width, breakLongWords, wrapstring, breakOnHyphens] = args(['width', 'break_long_words', 'wrapstring', 'break_on_hyphens'])
      if (width !== undefined && !isNumber(width)) throw new TypeError(`the 'wordwrap' filter needs an int width, got ${pythonType(width)}`)
      const separator = wrapstring === undefined || wrapstring.type === 'NullValue' ? '\n' : pythonStr(wrapstring)
      const options = {width: width === undefined ? 79 : Number(width.value), breakLongWords: breakLongWords === undefined || truthy(breakLongWords), breakOnHyphens: breakOnHyphens === undefined || truthy(breakOnHyphens)}
      // Each paragraph wrapped on its own (an empty one wraps to nothing but still takes a wrapstring).
      const paragraphs = splitLines(operand.value as string).map((line) => textWrap(line, options))
      // Bounded before it is joined: a long wrapstring between many short lines.
      const breaks = paragraphs.reduce((count, lines) => count + Math.max(lines.length, 1), 0)
      if (breaks * separator.length > MAX_TEMPLATE_STRING) throw new RangeError(`wordwrap would write ${breaks} x ${separator.length} characters of wrapstring`)
      return new StringValue(paragraphs.map((lines) => lines.join(separator)).join(separator))
    }
  }
  return null
}
