// jinja2's filters where @huggingface/jinja lacks them or differs from them (Python's str() of non-strings, Undefined as '', tuples, ...).
import type {Environment} from '@huggingface/jinja'
import {pythonPercentFormat} from './python-percent-format.js'
import {PYTHON_STR_METHODS} from './python-str-methods.js'
import {passesTest} from './jinja-tests.js'
import {floatFilter, intFilter, roundFilter} from './jinja-number-filters.js'
import {groupBy} from './jinja-groupby.js'
import {jsonOptions, pythonJsonDumps} from './jinja-tojson.js'
import {htmlEscape, namedArgs, textFilter} from './jinja-text-filters.js'
import {MAX_TEMPLATE_LIST} from './template-budget.js'
import {exactInt, intToFloat, intValue, isBigInt} from './jinja-big-ints.js'
import {
  ArrayValue,
  BooleanValue,
  FloatValue,
  IntegerValue,
  isMapping,
  isNumber,
  isSequence,
  type InterpreterSteps,
  type Node,
  PY_VALUES,
  precomputed,
  pythonIterable,
  pythonOrder,
  pythonStr,
  pythonType,
  StringValue,
  tupleField,
  TupleValue,
  UndefinedValue,
  type Value,
} from './jinja-values.js'

/** Python's a + b for the numbers sum() adds: ints (and bools) exactly (jinja-big-ints.ts), anything with a float as floats. */
function addNumbers(a: Value, b: Value): Value {
  if (!isNumber(a) || !isNumber(b)) throw new TypeError(`unsupported operand type(s) for +: '${pythonType(a)}' and '${pythonType(b)}'`)
  const [x, y] = [exactInt(a), exactInt(b)]
  if (x !== null && y !== null) return intValue(x + y)
  const float = (value: Value) => (isBigInt(value) ? intToFloat(exactInt(value)!) : Number(value.value))
  return new FloatValue(float(a) + float(b))
}

/** item.attribute or item['attribute'], as jinja2's attribute= arguments read it (dots go deeper); Undefined when missing. */
function attributeOf(item: Value, path: string): Value {
  let value = item
  for (const key of path.split('.')) {
    const next = isMapping(value) ? (value.value as Map<string, Value>).get(key) : isSequence(value) && /^\d+$/.test(key) ? (value.value as Value[])[Number(key)] : tupleField(value, key)
    if (next === undefined) return new UndefinedValue()
    value = next
  }
  return value
}

const truthy = (value: Value) => value.__bool__().value
const text = (value: Value) => pythonStr(value)

/** jinja2's do_title: each word (after a space, '-', or an opening bracket) capitalized. */
function title(value: string): string {
  return value
    .split(/([-\s({[<]+)/u)
    .filter((part) => part !== '')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase())
    .join('')
}

/** jinja2's do_truncate: at most `length` characters (plus `leeway`), cut at a word unless `killwords`, then `end`. */
function truncate(value: string, length: number, killwords: boolean, end: string, leeway: number): string {
  const endLength = [...end].length
  if (length < endLength) throw new Error(`AssertionError: expected length >= ${endLength}, got ${length}`)
  if (leeway < 0) throw new Error(`AssertionError: expected leeway >= 0, got ${leeway}`)
  // Lengths in code points, as Python's len(); a string no longer in UTF-16 units is no longer in code points.
  if (value.length <= length + leeway) return value
  const chars = [...value]
  if (chars.length <= length + leeway) return value
  const cut = chars.slice(0, Math.max(0, length - endLength)).join('')
  if (killwords) return cut + end
  const space = cut.lastIndexOf(' ')
  return (space < 0 ? cut : cut.slice(0, space)) + end
}

/** Filters jinja2 applies to a string, to anything else as str(value) (Undefined as ''). */
function stringFilter(interpreter: InterpreterSteps, operand: Value, name: string, argNodes: Node[], environment: Environment): Value | null {
  const value = text(operand)
  const args = () => interpreter.evaluateArguments(argNodes, environment)[0]
  switch (name) {
    case 'trim':
      return PYTHON_STR_METHODS.strip!(value, args(), PY_VALUES) as Value
    case 'upper':
      return new StringValue(value.toUpperCase())
    case 'lower':
      return new StringValue(value.toLowerCase())
    case 'capitalize':
      return new StringValue(value.charAt(0).toUpperCase() + value.slice(1).toLowerCase())
    case 'title':
      return new StringValue(title(value))
    case 'center':
      return PYTHON_STR_METHODS.center!(value, [namedArgs(interpreter, argNodes, environment, ['width'])[0] ?? new IntegerValue(80)], PY_VALUES) as Value
    case 'e':
    case 'escape':
      return new StringValue(htmlEscape(operand))
    case 'striptags':
      return new StringValue(withoutTags(value).split(/\s+/u).filter((word) => word !== '').join(' '))
    case 'wordcount':
      return new IntegerValue((value.match(/\w+/gu) ?? []).length)
    case 'truncate': {
      const [length, killwords, end, leeway] = namedArgs(interpreter, argNodes, environment, ['length', 'killwords', 'end', 'leeway'])
      // The default leeway is jinja2's truncate.leeway policy, 5. Anything with len() short enough comes back as itself
      // (Undefined, a list, a dict); a longer one is cut only if a str (a list + '...' is Python's TypeError).
      const [limit, slack] = [Number(length?.value ?? 255), Number(leeway?.value ?? 5)]
      if (operand.type !== 'StringValue') {
        const sized = isSequence(operand) || isMapping(operand) || operand.type === 'UndefinedValue'
        if (sized && pythonIterable(operand).length <= limit + slack) return operand
        throw new TypeError(`the 'truncate' filter needs a str, got ${pythonType(operand)}`)
      }
      return new StringValue(truncate(value, limit, truthy(killwords ?? new IntegerValue(0)), end === undefined ? '...' : text(end), slack))
    }
    case 'format': {
      const [values, keywords] = interpreter.evaluateArguments(argNodes, environment)
      if (values.length > 0 && keywords.size > 0) throw new Error("the 'format' filter takes positional or keyword arguments, not both")
      return new StringValue(pythonPercentFormat(value, keywords.size > 0 ? keywords : values))
    }
  }
  return null
}

/** Filters real chat templates use that @huggingface/jinja lacks or runs differently from jinja2; null when the filter is the library's. */
export function extraFilter(interpreter: InterpreterSteps, operand: Value, name: string, argNodes: Node[], environment: Environment): Value | null {
  const args = () => interpreter.evaluateArguments(argNodes, environment)[0]
  const items = () => pythonIterable(operand)
  switch (name) {
    case 'tojson':
      // Python's json.dumps (jinja-tojson.ts): the library writes 2.0 as 2, indent=0 as one line, Undefined as null.
      return new StringValue(pythonJsonDumps(operand, jsonOptions(namedArgs(interpreter, argNodes, environment, ['ensure_ascii', 'indent', 'separators', 'sort_keys']))))
    case 'select':
    case 'reject': {
      const [test, ...testArgs] = args()
      return new ArrayValue(items().filter((item) => (test === undefined ? truthy(item) : passesTest(item, String(test.value), testArgs)) === (name === 'select')))
    }
    case 'selectattr':
    case 'rejectattr': {
      const [attribute, test, ...testArgs] = args()
      const passes = (item: Value) => {
        const value = attributeOf(item, String(attribute!.value))
        return test === undefined ? truthy(value) : passesTest(value, String(test.value), testArgs)
      }
      return new ArrayValue(items().filter((item) => passes(item) === (name === 'selectattr')))
    }
    case 'map': {
      const [first] = argNodes
      if (first === undefined) throw new Error("the 'map' filter needs a filter name or attribute=")
      if (first.type === 'KeywordArgumentExpression') {
        const [attribute, fallback] = namedArgs(interpreter, argNodes, environment, ['attribute', 'default'])
        return new ArrayValue(items().map((item) => {
          const value = attributeOf(item, String(attribute!.value))
          return value.type === 'UndefinedValue' && fallback !== undefined ? fallback : value
        }))
      }
      const filterName = String(interpreter.evaluate(first, environment).value)
      const filter = argNodes.length === 1 ? {type: 'Identifier', value: filterName} : {type: 'CallExpression', callee: {type: 'Identifier', value: filterName}, args: argNodes.slice(1)}
      return new ArrayValue(items().map((item) => interpreter.applyFilter(item, filter, environment)))
    }
    case 'string':
      return new StringValue(pythonStr(operand))
    case 'list':
      return new ArrayValue(items())
    case 'length':
    case 'count':
      return new IntegerValue(operand.type === 'StringValue' ? [...(operand.value as string)].length : items().length)
    case 'first':
      return items()[0] ?? new UndefinedValue()
    case 'last':
      return items().at(-1) ?? new UndefinedValue()
    case 'reverse':
      return operand.type === 'StringValue' ? new StringValue([...(operand.value as string)].reverse().join('')) : new ArrayValue([...items()].reverse())
    case 'join': {
      const [separator, attribute] = namedArgs(interpreter, argNodes, environment, ['d', 'attribute'])
      return new StringValue(items().map((item) => text(attribute === undefined ? item : attributeOf(item, String(attribute.value)))).join(separator === undefined ? '' : text(separator)))
    }
    case 'items':
      if (operand.type === 'UndefinedValue') return new ArrayValue([])
      if (!isMapping(operand)) throw new TypeError(`the 'items' filter needs a dict, got ${pythonType(operand)}`)
      return new ArrayValue([...(operand.value as Map<string, Value>)].map(([key, value]) => new TupleValue([new StringValue(key), value])))
    case 'dictsort': {
      if (!isMapping(operand)) throw new TypeError(`the 'dictsort' filter needs a dict, got ${pythonType(operand)}`)
      const options = namedArgs(interpreter, argNodes, environment, ['case_sensitive', 'by', 'reverse']).map((value, i) => value ?? [new BooleanValue(false), new StringValue('key'), new BooleanValue(false)][i]!)
      const sorted = ((operand as unknown as {builtins: Map<string, Value>}).builtins.get('dictsort')!.value as (args: Value[]) => Value)(options)
      return new ArrayValue((sorted.value as Value[]).map((pair) => new TupleValue(pair.value)))
    }
    case 'batch': {
      const [size, fill] = namedArgs(interpreter, argNodes, environment, ['linecount', 'fill_with'])
      const count = Number(size?.value)
      if (!Number.isInteger(count) || count < 1) throw new Error("the 'batch' filter needs a positive line count")
      const all = items()
      // fill_with=None fills nothing; a fill past the list limit is refused before it is made.
      const filling = fill !== undefined && fill.type !== 'NullValue'
      if (filling && all.length % count !== 0 && count > MAX_TEMPLATE_LIST) throw new RangeError(`batch(${count}) would fill a list past ${MAX_TEMPLATE_LIST} items`)
      const batches: Value[] = []
      for (let at = 0; at < all.length; at += count) {
        const batch = all.slice(at, at + count)
        while (filling && batch.length < count) batch.push(fill)
        batches.push(new ArrayValue(batch))
      }
      return new ArrayValue(batches)
    }
    case 'slice': {
      const [slices, fill] = namedArgs(interpreter, argNodes, environment, ['slices', 'fill_with'])
      return sliceInto(items(), slices, fill)
    }
    case 'random': {
      if (argNodes.length > 0) throw new TypeError("the 'random' filter takes no arguments")
      if (!(operand.type === 'StringValue' || isSequence(operand))) throw new TypeError(`the 'random' filter needs a sequence, got ${pythonType(operand)}`)
      const all = items()
      return all.length === 0 ? new UndefinedValue() : all[Math.floor(Math.random() * all.length)]!
    }
    case 'attr':
      return attributeFilter(interpreter, operand, namedArgs(interpreter, argNodes, environment, ['name'])[0], environment)
    case 'sum': {
      const [attribute, start] = namedArgs(interpreter, argNodes, environment, ['attribute', 'start'])
      let total = start ?? new IntegerValue(0)
      for (const item of items()) total = addNumbers(total, attribute === undefined ? item : attributeOf(item, String(attribute.value)))
      return total
    }
    case 'min':
    case 'max': {
      const [caseSensitive, attribute] = namedArgs(interpreter, argNodes, environment, ['case_sensitive', 'attribute'])
      const list = items()
      if (list.length === 0) return new UndefinedValue()
      // Python's min / max by Python's ordering, strings compared lowercased unless case_sensitive; the first of equals wins.
      const key = (item: Value) => {
        const value = attribute === undefined ? item : attributeOf(item, String(attribute.value))
        return value.type === 'StringValue' && !(caseSensitive !== undefined && truthy(caseSensitive)) ? new StringValue((value.value as string).toLowerCase()) : value
      }
      const better = (item: Value, best: Value) => pythonOrder(key(item), key(best), name === 'min' ? '<' : '>') * (name === 'min' ? 1 : -1) < 0
      return list.reduce((best, item) => (better(item, best) ? item : best))
    }
    case 'sort': {
      // sorted(value, key=..., reverse=...): Python's ordering (stable, exact for big ints), strings case-blind unless
      // case_sensitive, by one attribute or several ('a,b').
      const [reverse, caseSensitive, attribute] = namedArgs(interpreter, argNodes, environment, ['reverse', 'case_sensitive', 'attribute'])
      const caseBlind = !(caseSensitive !== undefined && truthy(caseSensitive))
      const paths = attribute === undefined ? [null] : pythonStr(attribute).split(',')
      const keyOf = (item: Value) =>
        paths.map((path) => {
          const value = path === null ? item : attributeOf(item, path)
          return caseBlind && value.type === 'StringValue' ? new StringValue((value.value as string).toLowerCase()) : value
        })
      const sign = reverse !== undefined && truthy(reverse) ? -1 : 1
      const keyed = items().map((item) => ({item, key: keyOf(item)}))
      keyed.sort((a, b) => sign * (a.key.map((part, i) => pythonOrder(part, b.key[i]!)).find((order) => order !== 0) ?? 0))
      return new ArrayValue(keyed.map(({item}) => item))
    }
    case 'unique': {
      const [caseSensitive, attribute] = namedArgs(interpreter, argNodes, environment, ['case_sensitive', 'attribute'])
      const seen = new Set<string>()
      return new ArrayValue(items().filter((item) => {
        const value = attribute === undefined ? item : attributeOf(item, String(attribute.value))
        const key = hashKey(value.type === 'StringValue' && !(caseSensitive !== undefined && truthy(caseSensitive)) ? new StringValue((value.value as string).toLowerCase()) : value)
        return !seen.has(key) && seen.add(key) !== undefined
      }))
    }
    case 'abs': {
      if (!isNumber(operand)) throw new TypeError(`bad operand type for abs(): '${pythonType(operand)}'`)
      const exact = exactInt(operand)
      return exact === null ? new FloatValue(Math.abs(operand.value as number)) : intValue(exact < 0n ? -exact : exact)
    }
    case 'int': {
      const [fallback, base] = namedArgs(interpreter, argNodes, environment, ['default', 'base'])
      return intFilter(operand, fallback, base)
    }
    case 'float':
      return floatFilter(operand, namedArgs(interpreter, argNodes, environment, ['default'])[0])
    case 'round': {
      const [precision, method] = namedArgs(interpreter, argNodes, environment, ['precision', 'method'])
      return roundFilter(operand, precision, method)
    }
    case 'groupby': {
      const [attribute, fallback, caseSensitive] = namedArgs(interpreter, argNodes, environment, ['attribute', 'default', 'case_sensitive'])
      return groupBy(operand, attribute, fallback, caseSensitive !== undefined && truthy(caseSensitive))
    }
    case 'd':
      return interpreter.applyFilter(operand, argNodes.length === 0 ? {type: 'Identifier', value: 'default'} : {type: 'CallExpression', callee: {type: 'Identifier', value: 'default'}, args: argNodes}, environment)
  }
  return textFilter(interpreter, operand, name, argNodes, environment) ?? stringFilter(interpreter, operand, name, argNodes, environment)
}

/** A key equal for values Python's set takes as one (1, 1.0 and True; equal tuples); a list or dict is unhashable. */
function hashKey(value: Value): string {
  if (isNumber(value)) {
    const exact = exactInt(value) ?? (Number.isInteger(value.value) ? BigInt(value.value as number) : null)
    return exact === null ? `f${String(value.value)}` : `i${exact}`
  }
  if (value.type === 'StringValue') return `s${value.value as string}`
  if (value.type === 'TupleValue') return `t${JSON.stringify((value.value as Value[]).map(hashKey))}`
  if (value.type === 'NullValue' || value.type === 'UndefinedValue') return value.type
  throw new TypeError(`unhashable type: '${pythonType(value)}'`)
}

/** jinja2's do_slice: the items in `slices` columns, the first ones one longer; the others get `fill_with` (None: nothing). */
function sliceInto(all: Value[], slices: Value | undefined, fill: Value | undefined): Value {
  if (slices?.type !== 'IntegerValue' && slices?.type !== 'BooleanValue') throw new TypeError(`the 'slice' filter needs an int count, got ${slices === undefined ? 'nothing' : pythonType(slices)}`)
  const count = Number(slices.value)
  if (count === 0) throw new Error('ZeroDivisionError: integer division or modulo by zero')
  if (count > MAX_TEMPLATE_LIST) throw new RangeError(`slice(${count}) would make more than ${MAX_TEMPLATE_LIST} lists`)
  const perSlice = Math.floor(all.length / count)
  const withExtra = all.length - perSlice * count
  const columns: Value[] = []
  let offset = 0
  for (let i = 0; i < count; i++) {
    const start = offset + i * perSlice
    if (i < withExtra) offset++
    const column = all.slice(start, offset + (i + 1) * perSlice)
    if (fill !== undefined && fill.type !== 'NullValue' && i >= withExtra) column.push(fill)
    columns.push(new ArrayValue(column))
  }
  return new ArrayValue(columns)
}

/** jinja2's do_attr: getattr only, never an item (a dict's key is not an attribute): methods, named tuple fields; else Undefined. */
function attributeFilter(interpreter: InterpreterSteps, operand: Value, name: Value | undefined, environment: Environment): Value {
  if (operand.type === 'UndefinedValue') throw new Error('UndefinedError: an undefined value has no attributes')
  const attribute = name === undefined ? '' : pythonStr(name)
  const field = tupleField(operand, attribute)
  if (field !== undefined) return field
  const method = isMapping(operand) ? ['items', 'keys', 'values', 'get'].includes(attribute) : operand.type === 'StringValue' ? attribute in PYTHON_STR_METHODS || (operand as Value & {builtins: Map<string, Value>}).builtins.has(attribute) : isSequence(operand) && ['index', 'count'].includes(attribute)
  if (!method) return new UndefinedValue()
  return interpreter.evaluateMemberExpression({type: 'MemberExpression', object: precomputed(operand), property: {type: 'Identifier', value: attribute}, computed: false}, environment)
}

/**
 * `value` without its comments (`<!--` to the first `-->`) and tags (`<` to the first `>`), as the regex
 * /<!--.*?-->|<[^>]*>/gs removes them. Scanned by hand: that regex rescans to the end of the text from every `<` that
 * nothing closes, quadratic in them (0.75 s for 40,000).
 */
function withoutTags(value: string): string {
  let kept = ''
  let copied = 0
  // Once no `-->` (or `>`) follows some `<`, none follows a later one either.
  let commentsLeft = true
  let tagsLeft = true
  for (let at = value.indexOf('<'); at >= 0 && (commentsLeft || tagsLeft); ) {
    let end = -1
    if (commentsLeft && value.startsWith('<!--', at)) {
      const close = value.indexOf('-->', at + 4)
      if (close < 0) commentsLeft = false
      else end = close + 3
    }
    if (end < 0 && tagsLeft) {
      const close = value.indexOf('>', at + 1)
      if (close < 0) tagsLeft = false
      else end = close + 1
    }
    if (end < 0) {
      at = value.indexOf('<', at + 1)
      continue
    }
    kept += value.slice(copied, at)
    copied = end
    at = value.indexOf('<', end)
  }
  return kept + value.slice(copied)
}
