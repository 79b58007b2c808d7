// @huggingface/jinja's runtime values seen as Python sees them: their classes, type names, ==, str() and iteration.
import {Environment, Interpreter, parse, tokenize} from '@huggingface/jinja'
import type {PyValueClasses} from './python-str-methods.js'
import {compareNumbers, exactInt, intText} from './jinja-big-ints.js'
import {MAX_TEMPLATE_LIST} from './template-budget.js'

/** The library's runtime values as these files use them (its classes are not exported; see runtimeClass). */
export interface Value {
  type: string
  value: unknown
  toString(): string
  __bool__(): {value: boolean}
}
export type ValueClass = new (value?: unknown) => Value
export interface Node {
  type: string
  value?: unknown
  operator?: {value: string}
  left?: Node
  right?: Node
  callee?: Node
  args?: Node[]
  object?: Node
  property?: Node
  computed?: boolean
  iterable?: Node
  lhs?: Node
}

/** The interpreter's private steps these files extend (present in @huggingface/jinja 0.5.x). */
export interface InterpreterSteps {
  evaluate(node: Node, environment: Environment): Value
  evaluateBlock(statements: Node[], environment: Environment): Value
  evaluateBinaryExpression(node: Node, environment: Environment): Value
  applyFilter(operand: Value, filter: Node, environment: Environment): Value
  evaluateMemberExpression(node: Node, environment: Environment): Value
  evaluateFor(node: Node, environment: Environment): Value
  evaluateTestExpression(node: Node, environment: Environment): Value
  evaluateSet(node: Node, environment: Environment): Value
  evaluateUnaryExpression(node: Node, environment: Environment): Value
  evaluateArguments(args: Node[], environment: Environment): [Value[], Map<string, Value>]
}

export const library = Interpreter.prototype as unknown as InterpreterSteps

/** A runtime value's class, found by evaluating a literal (the library exports no value classes). */
function runtimeClass(expression: string): ValueClass {
  const node = parse(tokenize(`{{ ${expression} }}`)).body[0] as unknown as Node
  return library.evaluate.call(new Interpreter(new Environment()), node, new Environment()).constructor as ValueClass
}
export const BooleanValue = runtimeClass('1 == 1')
export const StringValue = runtimeClass("'a'")
export const IntegerValue = runtimeClass('1')
export const FloatValue = runtimeClass('1.5')
export const ArrayValue = runtimeClass('[1]')
export const TupleValue = runtimeClass('(1, 2)')
export const ObjectValue = runtimeClass('{}')
export const NullValue = runtimeClass('none')
export const UndefinedValue = runtimeClass('undefined_name')
export const FunctionValue = runtimeClass("'a'.upper") as unknown as new (call: (args: Value[]) => Value) => Value
export const PY_VALUES = {string: StringValue, integer: IntegerValue, boolean: BooleanValue, array: ArrayValue, tuple: TupleValue, str: (value: Value) => pythonStr(value)} as unknown as PyValueClasses

/** Calls `visit` on every node of a parsed template (and on the nodes inside them), parents first. */
export function visitNodes(root: unknown, visit: (node: {type: string; value?: unknown}) => void): void {
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const value = stack.pop()
    if (Array.isArray(value)) stack.push(...(value as unknown[]))
    else if (value instanceof Map) stack.push(...value.keys(), ...value.values())
    else if (value !== null && typeof value === 'object' && typeof (value as {type?: unknown}).type === 'string') {
      visit(value as {type: string; value?: unknown})
      for (const field of Object.values(value)) if (field !== null && typeof field === 'object') stack.push(field)
    }
  }
}

/** A value already evaluated, handed back to the library's own steps as a node. */
export const PRECOMPUTED = 'PagedllmPrecomputed'
export const precomputed = (value: Value): Node => ({type: PRECOMPUTED, value})

/** A tuple whose items are also fields by name (Python's namedtuple: groupby's (grouper, list)). */
export function namedTuple(fields: Record<string, Value>): Value {
  return Object.assign(new TupleValue(Object.values(fields)), {fieldNames: Object.keys(fields)})
}

/** A named tuple's field (`group.grouper`), or undefined for any other value or name. */
export function tupleField(value: Value, name: string): Value | undefined {
  const at = (value as Value & {fieldNames?: string[]}).fieldNames?.indexOf(name) ?? -1
  return at < 0 ? undefined : (value.value as Value[])[at]
}

/** Python's name for a value's type, as its TypeError messages say it. */
export function pythonType(value: Value): string {
  const names: Record<string, string> = {StringValue: 'str', IntegerValue: 'int', FloatValue: 'float', BooleanValue: 'bool', ArrayValue: 'list', TupleValue: 'tuple', ObjectValue: 'dict', NullValue: 'NoneType', UndefinedValue: 'Undefined'}
  return names[value.type] ?? value.type
}

export const isContainer = (value: Value) => ['ArrayValue', 'TupleValue', 'ObjectValue', 'KeywordArgumentsValue', 'NamespaceValue'].includes(value.type)
export const isSequence = (value: Value) => value.type === 'ArrayValue' || value.type === 'TupleValue'
export const isMapping = (value: Value) => value.type === 'ObjectValue' || value.type === 'KeywordArgumentsValue'
/** A Python int, float or bool (bool is an int subclass). */
export const isNumber = (value: Value) => ['IntegerValue', 'FloatValue', 'BooleanValue'].includes(value.type)

/** Python's == : numbers (and booleans) by value, strings by value, lists and dicts element by element. */
export function pythonEquals(a: Value, b: Value): boolean {
  if (isNumber(a) && isNumber(b)) return compareNumbers(a, b) === 0
  if (isSequence(a) || isSequence(b)) {
    if (a.type !== b.type) return false
    const [left, right] = [a.value as Value[], b.value as Value[]]
    return left.length === right.length && left.every((item, i) => pythonEquals(item, right[i]!))
  }
  if (a.value instanceof Map || b.value instanceof Map) {
    if (!(a.value instanceof Map && b.value instanceof Map) || a.value.size !== b.value.size) return false
    const right = b.value as Map<string, Value>
    for (const [key, item] of a.value as Map<string, Value>) if (!right.has(key) || !pythonEquals(item, right.get(key)!)) return false
    return true
  }
  if (a.type === 'UndefinedValue' || b.type === 'UndefinedValue') return a.type === b.type
  return a.type === b.type && a.value === b.value
}

/**
 * Python's ordering of two values (negative, 0, positive), as <, >, sorted() and groupby use it: numbers and bools by
 * value, strings by code unit, lists (or tuples) item by item; any other pair is Python's TypeError.
 */
export function pythonOrder(a: Value, b: Value, operator = '<'): number {
  if (isNumber(a) && isNumber(b)) return compareNumbers(a, b)
  if (a.type === 'StringValue' && b.type === 'StringValue') return a.value === b.value ? 0 : (a.value as string) < (b.value as string) ? -1 : 1
  if (isSequence(a) && a.type === b.type) {
    const [left, right] = [a.value as Value[], b.value as Value[]]
    for (let i = 0; i < Math.min(left.length, right.length); i++) if (!pythonEquals(left[i]!, right[i]!)) return pythonOrder(left[i]!, right[i]!, operator)
    return Math.sign(left.length - right.length)
  }
  throw new TypeError(`'${operator}' not supported between instances of '${pythonType(a)}' and '${pythonType(b)}'`)
}

/** Python's `needle in haystack`: membership by == in lists, substrings in strings, keys in dicts; nothing is in Undefined. */
export function pythonContains(haystack: Value, needle: Value): boolean {
  if (isSequence(haystack)) return (haystack.value as Value[]).some((item) => pythonEquals(needle, item))
  if (haystack.type === 'StringValue') {
    if (needle.type !== 'StringValue') throw new TypeError(`'in <string>' requires string as left operand, not ${pythonType(needle)}`)
    return (haystack.value as string).includes(needle.value as string)
  }
  // Python hashes what it looks up in a dict: a dict is unhashable. (So is a list, but range(), a list here, is not.)
  if (haystack.value instanceof Map && isMapping(needle)) throw new TypeError(`unhashable type: '${pythonType(needle)}'`)
  if (haystack.value instanceof Map) return needle.type === 'StringValue' && (haystack.value as Map<string, Value>).has(needle.value as string)
  if (haystack.type === 'UndefinedValue') return false
  throw new TypeError(`argument of type '${pythonType(haystack)}' is not iterable`)
}

/** What a for loop (or a filter) walks in a value, as Python iterates it: items, characters, keys; Undefined as empty. */
export function pythonIterable(value: Value): Value[] {
  if (isSequence(value)) return value.value as Value[]
  if (value.type === 'StringValue') {
    // Refused before it is made, as every template list is (template-budget.ts).
    if ((value.value as string).length > MAX_TEMPLATE_LIST) throw new RangeError(`iterating a string of ${(value.value as string).length} characters would make more than ${MAX_TEMPLATE_LIST} items`)
    return [...(value.value as string)].map((char) => new StringValue(char))
  }
  if (isMapping(value)) return [...(value.value as Map<string, Value>).keys()].map((key) => new StringValue(key))
  if (value.type === 'UndefinedValue') return []
  throw new TypeError(`'${pythonType(value)}' object is not iterable`)
}

/** Python's repr() of a string: single quotes unless it holds one and no double quote; escapes as Python writes them. */
function pythonStringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'"
  const escapes: Record<string, string> = {'\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', [quote]: '\\' + quote}
  const body = text.replace(/[\\\n\r\t'"]|[\x00-\x1f\x7f]/g, (char) =>
    escapes[char] ?? (char === "'" || char === '"' ? char : '\\x' + char.charCodeAt(0).toString(16).padStart(2, '0')),
  )
  return quote + body + quote
}

/** Python's repr() of a float: inf / nan, 1.0, and an exponent below 1e-4 and from 1e16 (1e-05, 1e+16), where JS writes 0.00001 and 10000000000000000. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  const [mantissa, exponentText] = x.toExponential().split('e') as [string, string]
  const exponent = Number(exponentText)
  if (exponent < -4 || exponent >= 16) return `${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`
  const fixed = x.toFixed(Math.max(0, (mantissa.split('.')[1]?.length ?? 0) - exponent))
  return fixed.includes('.') ? fixed : fixed + '.0'
}

/** Python's float a // b (CPython's float_floor_div, from fmod): 1 // 0.1 is 9.0 and 25500.0 // 0.01 is 2549999.0, where floor(a / b) gives 10 and 2550000. */
export function pythonFloatFloorDivide(a: number, b: number): number {
  let mod = a % b
  let div = (a - mod) / b
  if (mod !== 0 && b < 0 !== mod < 0) {
    mod += b
    div -= 1
  }
  if (div === 0) return Object.is(a / b, -0) || a / b < 0 ? -0 : 0
  const floor = Math.floor(div)
  return div - floor > 0.5 ? floor + 1 : floor
}

/** Python's str() of a value (repr() inside containers), as jinja2 prints {{ value }}, `~` and |string. */
export function pythonStr(value: Value, nested = false): string {
  switch (value.type) {
    case 'StringValue':
      return nested ? pythonStringRepr(value.value as string) : (value.value as string)
    case 'NullValue':
      return 'None'
    case 'UndefinedValue':
      return nested ? 'Undefined' : '' // repr(Undefined), inside a list or a dict
    case 'BooleanValue':
      return value.value ? 'True' : 'False'
    case 'ArrayValue':
      return '[' + (value.value as Value[]).map((item) => pythonStr(item, true)).join(', ') + ']'
    case 'TupleValue': {
      const items = (value.value as Value[]).map((item) => pythonStr(item, true))
      return '(' + items.join(', ') + (items.length === 1 ? ',)' : ')')
    }
    case 'ObjectValue':
    case 'KeywordArgumentsValue':
      return '{' + [...(value.value as Map<string, Value>)].map(([key, item]) => `${pythonStringRepr(key)}: ${pythonStr(item, true)}`).join(', ') + '}'
    case 'FloatValue':
      return pythonFloatRepr(value.value as number)
    case 'IntegerValue':
      return Number.isSafeInteger(value.value) ? String(value.value) : intText(exactInt(value)!)
    default:
      return value.toString() // ints, namespaces, functions
  }
}
