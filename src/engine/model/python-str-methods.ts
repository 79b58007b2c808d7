// Python's str methods as chat templates call them ("x".lstrip('\n'), .find(), .count(), ...), where
// @huggingface/jinja lacks them or ignores their arguments (its strip family always trims whitespace).
import {MAX_TEMPLATE_STRING} from './template-budget.js'

/** The library's runtime values as these methods take and make them. */
export interface PyValue {
  type: string
  value: unknown
}
export interface PyValueClasses {
  string: new (value: string) => PyValue
  integer: new (value: number) => PyValue
  boolean: new (value: boolean) => PyValue
  array: new (value: PyValue[]) => PyValue
  tuple: new (value: PyValue[]) => PyValue
  /** Python's str() of a value (what format() and the templates print). */
  str(value: PyValue): string
}
type Method = (text: string, args: PyValue[], make: PyValueClasses) => PyValue

/** Positional arguments only: a call's keyword arguments arrive last as one KeywordArgumentsValue. */
function positional(args: PyValue[]): PyValue[] {
  return args.filter((arg) => arg.type !== 'KeywordArgumentsValue')
}

function optionalString(arg: PyValue | undefined, method: string): string | null {
  if (arg === undefined || arg.type === 'NullValue' || arg.type === 'UndefinedValue') return null
  if (arg.type !== 'StringValue') throw new TypeError(`${method} arg must be None or str`)
  return arg.value as string
}

function requiredString(arg: PyValue | undefined, method: string): string {
  if (arg?.type !== 'StringValue') throw new TypeError(`${method}() argument must be str`)
  return arg.value as string
}

/**
 * Python's search bounds [start, end) in a string of this length, negative indices counting from the end; a start
 * past the end stays there, so that nothing (not even '') is found.
 */
function bounds(length: number, start: PyValue | undefined, end: PyValue | undefined): [number, number] {
  const index = (arg: PyValue | undefined, fallback: number) => {
    if (arg === undefined || arg.type === 'NullValue') return fallback
    const value = Number(arg.value)
    return value < 0 ? Math.max(0, length + value) : value
  }
  return [index(start, 0), Math.min(length, index(end, length))]
}

/** What Python's str.isspace() and a bare strip() take as whitespace (JS's trim differs: it keeps \x1c-\x1f and \x85, drops \ufeff). */
export const PYTHON_WHITESPACE = ' \t\n\r\v\f\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000'

function stripper(fromStart: boolean, fromEnd: boolean, method: string): Method {
  return (text, args, make) => {
    const chars = optionalString(positional(args)[0], method) ?? PYTHON_WHITESPACE
    const chars_ = [...chars]
    const code = [...text]
    let [first, last] = [0, code.length]
    while (fromStart && first < last && chars_.includes(code[first]!)) first++
    while (fromEnd && last > first && chars_.includes(code[last - 1]!)) last--
    return new make.string(code.slice(first, last).join(''))
  }
}

function finder(fromEnd: boolean, raises: boolean): Method {
  return (text, args, make) => {
    const [sub, start, end] = positional(args)
    const needle = requiredString(sub, fromEnd ? 'rfind' : 'find')
    const [from, to] = bounds(text.length, start, end)
    const window = text.slice(from, to)
    const at = from > to ? -1 : fromEnd ? window.lastIndexOf(needle) : window.indexOf(needle)
    if (at < 0 && raises) throw new Error('ValueError: substring not found')
    return new make.integer(at < 0 ? -1 : from + at)
  }
}

const WHITESPACE = /\s/

/** Where the whitespace run ending at `end` starts (`end` when there is none). */
function spacesBefore(text: string, end: number): number {
  while (end > 0 && WHITESPACE.test(text[end - 1]!)) end--
  return end
}

function splitFromEnd(text: string, args: PyValue[], make: PyValueClasses): PyValue {
  const [sepArg, maxArg] = positional(args)
  const sep = optionalString(sepArg, 'rsplit')
  let remaining = maxArg === undefined ? -1 : Number(maxArg.value)
  // Parts are collected from the end and reversed once (unshift per part is quadratic in their count).
  const fromEnd: string[] = []
  if (sep === null) {
    // Scanned by hand from the end: a regex anchored at $ is retried from every start in a whitespace run, quadratic in it.
    let end = spacesBefore(text, text.length)
    while (end > 0) {
      let start = end
      while (start > 0 && !WHITESPACE.test(text[start - 1]!)) start--
      if (remaining === 0 || start === 0) {
        fromEnd.push(text.slice(0, end).replace(/^\s+/, ''))
        break
      }
      fromEnd.push(text.slice(start, end))
      end = spacesBefore(text, start)
      remaining--
    }
  } else {
    if (sep === '') throw new Error('ValueError: empty separator')
    let rest = text
    for (let at = rest.lastIndexOf(sep); at >= 0 && remaining !== 0; at = rest.lastIndexOf(sep), remaining--) {
      fromEnd.push(rest.slice(at + sep.length))
      rest = rest.slice(0, at)
    }
    fromEnd.push(rest)
  }
  return new make.array(fromEnd.reverse().map((part) => new make.string(part)))
}

/** Python's line boundaries: \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029. */
function splitLines(text: string, args: PyValue[], make: PyValueClasses): PyValue {
  const keepEnds = positional(args)[0]?.value === true
  const lines: string[] = []
  const pattern = /[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*(\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])?/g
  for (const match of text.matchAll(pattern)) {
    if (match[0] === '') break
    lines.push(keepEnds || match[1] === undefined ? match[0] : match[0].slice(0, -match[1].length))
  }
  return new make.array(lines.map((line) => new make.string(line)))
}

function count(text: string, args: PyValue[], make: PyValueClasses): PyValue {
  const [sub, start, end] = positional(args)
  const needle = requiredString(sub, 'count')
  const [from, to] = bounds(text.length, start, end)
  if (from > to) return new make.integer(0)
  const window = text.slice(from, to)
  if (needle === '') return new make.integer(window.length + 1)
  return new make.integer(window.split(needle).length - 1)
}

/** A predicate over a non-empty string, False for an empty one (Python's isdigit, isalpha, ...). */
function predicate(test: (text: string) => boolean): Method {
  return (text, _args, make) => new make.boolean(text.length > 0 && test(text))
}
const hasCased = (text: string) => text.toUpperCase() !== text.toLowerCase()

/** center / ljust / rjust: padded to a width with one fill character, Python's way (center's extra goes right when odd). */
function padder(side: 'center' | 'left' | 'right'): Method {
  return (text, args, make) => {
    const [widthArg, fillArg] = positional(args)
    const width = Number(widthArg?.value ?? 0)
    // Bounded before building, as every template string is (template-budget.ts).
    if (width > MAX_TEMPLATE_STRING) throw new RangeError(`the chat template built a string of ${width} characters`)
    const fill = fillArg === undefined ? ' ' : requiredString(fillArg, side)
    if ([...fill].length !== 1) throw new TypeError('The fill character must be exactly one character long')
    const length = [...text].length
    const total = Math.max(0, width - length)
    // CPython's center: left = total / 2, plus one when both total and width are odd.
    const left = side === 'left' ? 0 : side === 'right' ? total : Math.floor(total / 2) + (total & width & 1)
    return new make.string(fill.repeat(left) + text + fill.repeat(total - left))
  }
}

function partition(fromEnd: boolean): Method {
  return (text, args, make) => {
    const sep = requiredString(positional(args)[0], fromEnd ? 'rpartition' : 'partition')
    if (sep === '') throw new Error('ValueError: empty separator')
    const at = fromEnd ? text.lastIndexOf(sep) : text.indexOf(sep)
    const parts = at < 0 ? (fromEnd ? ['', '', text] : [text, '', '']) : [text.slice(0, at), sep, text.slice(at + sep.length)]
    return new make.tuple(parts.map((part) => new make.string(part)))
  }
}

/** str.join: the items must be strings, as Python requires. */
function join(text: string, args: PyValue[], make: PyValueClasses): PyValue {
  const [items] = positional(args)
  if (items?.type !== 'ArrayValue' && items?.type !== 'TupleValue') throw new TypeError('can only join an iterable')
  const parts = (items.value as PyValue[]).map((item, i) => {
    if (item.type !== 'StringValue') throw new TypeError(`sequence item ${i}: expected str instance, ${item.type} found`)
    return item.value as string
  })
  return new make.string(parts.join(text))
}

/** str.format with {} / {0} / {name} fields and {{ }} escapes; a format spec or conversion is refused, not ignored. */
function format(text: string, args: PyValue[], make: PyValueClasses): PyValue {
  const values = positional(args)
  const keywords = args.find((arg) => arg.type === 'KeywordArgumentsValue')?.value as Map<string, PyValue> | undefined
  let next = 0
  const out = text.replace(/\{\{|\}\}|\{([^{}]*)\}|[{}]/g, (match, field: string | undefined) => {
    if (match === '{{') return '{'
    if (match === '}}') return '}'
    if (field === undefined) throw new Error(`ValueError: Single '${match}' encountered in format string`)
    if (/[!:]/.test(field)) throw new Error(`format field {${field}}: conversions and format specs are not supported`)
    const value = field === '' ? values[next++] : /^\d+$/.test(field) ? values[Number(field)] : keywords?.get(field)
    if (value === undefined) throw new Error(`format field {${field}} has no argument`)
    return make.str(value)
  })
  return new make.string(out)
}

export const PYTHON_STR_METHODS: Record<string, Method> = {
  strip: stripper(true, true, 'strip'),
  lstrip: stripper(true, false, 'lstrip'),
  rstrip: stripper(false, true, 'rstrip'),
  find: finder(false, false),
  rfind: finder(true, false),
  index: finder(false, true),
  rindex: finder(true, true),
  count,
  rsplit: splitFromEnd,
  splitlines: splitLines,
  removeprefix: (text, args, make) => {
    const prefix = requiredString(positional(args)[0], 'removeprefix')
    return new make.string(text.startsWith(prefix) ? text.slice(prefix.length) : text)
  },
  removesuffix: (text, args, make) => {
    const suffix = requiredString(positional(args)[0], 'removesuffix')
    return new make.string(suffix !== '' && text.endsWith(suffix) ? text.slice(0, -suffix.length) : text)
  },
  isdigit: predicate((text) => /^\p{Nd}+$/u.test(text)),
  isalpha: predicate((text) => /^\p{L}+$/u.test(text)),
  isalnum: predicate((text) => /^[\p{L}\p{Nd}]+$/u.test(text)),
  isspace: predicate((text) => [...text].every((char) => PYTHON_WHITESPACE.includes(char))),
  isupper: predicate((text) => hasCased(text) && text === text.toUpperCase()),
  islower: predicate((text) => hasCased(text) && text === text.toLowerCase()),
  center: padder('center'),
  ljust: padder('left'),
  rjust: padder('right'),
  partition: partition(false),
  rpartition: partition(true),
  join,
  format,
  swapcase: (text, _args, make) => new make.string([...text].map((char) => (char === char.toUpperCase() ? char.toLowerCase() : char.toUpperCase())).join('')),
  casefold: (text, _args, make) => new make.string(text.toLowerCase()),
  zfill: (text, args, make) => {
    const width = Number(positional(args)[0]?.value ?? 0)
    const sign = /^[+-]/.test(text) ? text[0]! : ''
    return new make.string(sign + text.slice(sign.length).padStart(Math.max(0, width - sign.length), '0'))
  },
}
