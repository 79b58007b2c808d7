// jinja2's tests (`x is mapping`, select('odd'), selectattr('a', 'equalto', 1)) with Python's semantics, where @huggingface/jinja's differ or are missing.
import type {Environment} from '@huggingface/jinja'
import {exactInt} from './jinja-big-ints.js'
import {IntegerValue, isMapping, isNumber, isSequence, pythonContains, pythonEquals, pythonOrder, pythonType, type Value} from './jinja-values.js'

type Test = (value: Value, args: Value[]) => boolean

const TWO = new IntegerValue(2)

/** Whether the text has a character with case (one that upper- or lower-casing changes). */
const cased = (text: string) => text.toUpperCase() !== text.toLowerCase()

/** Python's <, for the comparison tests: numbers with numbers, strings with strings. */
function lessThan(a: Value, b: Value): boolean {
  if ((isNumber(a) && isNumber(b)) || (a.type === 'StringValue' && b.type === 'StringValue')) return pythonOrder(a, b) < 0
  throw new TypeError(`'<' not supported between instances of '${pythonType(a)}' and '${pythonType(b)}'`)
}

/** jinja2's `value % divisor == remainder` (odd, even, divisibleby): Python's %, exact for ints (one past 2^53 too), floats as floats. */
function remainderIs(value: Value, divisor: Value | undefined, remainder: number): boolean {
  if (divisor === undefined || !isNumber(value) || !isNumber(divisor)) throw new TypeError(`unsupported operand type(s) for %: '${pythonType(value)}' and '${divisor === undefined ? 'nothing' : pythonType(divisor)}'`)
  const [a, b] = [exactInt(value), exactInt(divisor)]
  if (a !== null && b !== null) {
    if (b === 0n) throw new Error('ZeroDivisionError: integer modulo by zero')
    const rest = a % b
    return (rest !== 0n && rest < 0n !== b < 0n ? rest + b : rest) === BigInt(remainder)
  }
  const [x, y] = [Number(value.value), Number(divisor.value)]
  if (y === 0) throw new Error('ZeroDivisionError: float modulo')
  const rest = x % y
  return (rest !== 0 && rest < 0 !== y < 0 ? rest + y : rest) === remainder
}

/** jinja2's tests by name (aliases included), each taking the value and the test's arguments. */
const TESTS: Record<string, Test> = {
  odd: (value) => remainderIs(value, TWO, 1),
  even: (value) => remainderIs(value, TWO, 0),
  divisibleby: (value, [divisor]) => remainderIs(value, divisor, 0),
  defined: (value) => value.type !== 'UndefinedValue',
  undefined: (value) => value.type === 'UndefinedValue',
  none: (value) => value.type === 'NullValue',
  boolean: (value) => value.type === 'BooleanValue',
  false: (value) => value.type === 'BooleanValue' && value.value === false,
  true: (value) => value.type === 'BooleanValue' && value.value === true,
  // Python's bool is a number but not, for jinja2's test, an integer.
  integer: (value) => value.type === 'IntegerValue',
  float: (value) => value.type === 'FloatValue',
  number: isNumber,
  string: (value) => value.type === 'StringValue',
  mapping: isMapping,
  // Anything with len() and [] / anything iter() takes: strings, lists, tuples, dicts, and Undefined (empty).
  sequence: (value) => value.type === 'StringValue' || isSequence(value) || isMapping(value) || value.type === 'UndefinedValue',
  iterable: (value) => value.type === 'StringValue' || isSequence(value) || isMapping(value) || value.type === 'UndefinedValue',
  // Undefined is callable in jinja2 (calling it raises UndefinedError).
  callable: (value) => value.type === 'FunctionValue' || value.type === 'UndefinedValue',
  sameas: (value, [other]) => value.type === other!.type && (value.value === other!.value || ['NullValue', 'UndefinedValue'].includes(value.type)),
  escaped: () => false,
  in: (value, [container]) => pythonContains(container!, value),
  // Python's str.islower() / isupper(): false without a cased character ('3' is neither).
  lower: (value) => value.type === 'StringValue' && cased(value.value as string) && (value.value as string) === (value.value as string).toLowerCase(),
  upper: (value) => value.type === 'StringValue' && cased(value.value as string) && (value.value as string) === (value.value as string).toUpperCase(),
  eq: (value, [other]) => pythonEquals(value, other!),
  ne: (value, [other]) => !pythonEquals(value, other!),
  lt: (value, [other]) => lessThan(value, other!),
  le: (value, [other]) => lessThan(value, other!) || pythonEquals(value, other!),
  gt: (value, [other]) => lessThan(other!, value),
  ge: (value, [other]) => lessThan(other!, value) || pythonEquals(value, other!),
}
/** jinja2's builtin filters (and transformers' tojson), for `is filter`. */
const FILTER_NAMES = new Set(('abs attr batch capitalize center count d default dictsort e escape filesizeformat first float forceescape format groupby indent int items join last length list lower map max min pprint random reject rejectattr replace reverse round safe select selectattr slice sort string striptags sum title tojson trim truncate unique upper urlencode urlize wordcount wordwrap xmlattr').split(' '))
/** jinja2's builtin tests, for `is test` (the aliases below included). */
const TEST_NAMES = new Set(('boolean callable defined divisibleby eq equalto escaped even false filter float ge greaterthan gt in integer iterable le lessthan lower lt mapping ne none number odd sameas sequence string test true undefined upper == != < <= > >=').split(' '))

/** `name in environment.filters` (or tests): a str is looked up, other hashable values are absent, a list or dict is a TypeError. */
function namesOne(names: Set<string>): Test {
  return (value) => {
    if (value.type === 'ArrayValue' || isMapping(value)) throw new TypeError(`unhashable type: '${pythonType(value)}'`)
    return value.type === 'StringValue' && names.has(value.value as string)
  }
}
TESTS.filter = namesOne(FILTER_NAMES)
TESTS.test = namesOne(TEST_NAMES)

const ALIASES: Record<string, string> = {equalto: 'eq', '==': 'eq', '!=': 'ne', lessthan: 'lt', '<': 'lt', '<=': 'le', greaterthan: 'gt', '>': 'gt', '>=': 'ge'}

/** Whether `value` passes jinja2's test `name` with these arguments (select, reject, selectattr, rejectattr, `is`). */
export function passesTest(value: Value, name: string, args: Value[]): boolean {
  const test = TESTS[ALIASES[name] ?? name]
  if (test === undefined) throw new Error(`the chat template uses the Jinja test '${name}', which is not supported`)
  return test(value, args)
}

/** jinja2's tests put into one environment in place of the library's, for `x is name` (the library's table is shared by all). */
export function addParityTests(environment: Environment): void {
  const tests = new Map<string, (value: Value) => boolean>()
  for (const name of [...Object.keys(TESTS), ...Object.keys(ALIASES)]) tests.set(name, (value) => passesTest(value, name, []))
  ;(environment as unknown as {tests: Map<string, (value: Value) => boolean>}).tests = tests
}
