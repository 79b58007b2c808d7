// An @huggingface/jinja interpreter that behaves as Python's jinja2 where real chat templates meet the differences:
// value equality of dicts and lists, `+` of a string and a container as an error, values printed as Python's str()
// prints them (None, True, {'a': [1]}), and the filters the library lacks.
import {Environment, Interpreter, parse, tokenize} from '@huggingface/jinja'
import {PYTHON_STR_METHODS, type PyValueClasses} from './python-str-methods.js'
import {MAX_TEMPLATE_STRING, RenderBudget} from './template-budget.js'

/** The library's runtime values as this file uses them (its classes are not exported; see runtimeClass). */
interface Value {
  type: string
  value: unknown
  toString(): string
}
type ValueClass = new (value?: unknown) => Value
interface Node {
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
}

/** The interpreter's private steps this file extends (present in @huggingface/jinja 0.5.x). */
interface InterpreterSteps {
  evaluate(node: Node, environment: Environment): Value
  evaluateBlock(statements: Node[], environment: Environment): Value
  evaluateBinaryExpression(node: Node, environment: Environment): Value
  applyFilter(operand: Value, filter: Node, environment: Environment): Value
  evaluateMemberExpression(node: Node, environment: Environment): Value
}

const library = Interpreter.prototype as unknown as InterpreterSteps

/** A runtime value's class, found by evaluating a literal (the library exports no value classes). */
function runtimeClass(expression: string): ValueClass {
  const node = parse(tokenize(`{{ ${expression} }}`)).body[0] as unknown as Node
  return library.evaluate.call(new Interpreter(new Environment()), node, new Environment()).constructor as ValueClass
}
const BooleanValue = runtimeClass('1 == 1')
const StringValue = runtimeClass("'a'")
const IntegerValue = runtimeClass('1')
const ArrayValue = runtimeClass('[1]')
const FunctionValue = runtimeClass("'a'.upper") as unknown as new (call: (args: Value[]) => Value) => Value
const FloatValue = runtimeClass('1.5')
const TupleValue = runtimeClass('(1, 2)')
const PY_VALUES = {string: StringValue, integer: IntegerValue, boolean: BooleanValue, array: ArrayValue, tuple: TupleValue, str: (value: Value) => pythonStr(value)} as unknown as PyValueClasses

/** A value already evaluated, handed back to the library's own operators. */
const PRECOMPUTED = 'PagedllmPrecomputed'

/** Python's name for a value's type, as its TypeError messages say it. */
function pythonType(value: Value): string {
  const names: Record<string, string> = {StringValue: 'str', IntegerValue: 'int', FloatValue: 'float', BooleanValue: 'bool', ArrayValue: 'list', TupleValue: 'tuple', ObjectValue: 'dict', NullValue: 'NoneType'}
  return names[value.type] ?? value.type
}

const isContainer = (value: Value) => ['ArrayValue', 'TupleValue', 'ObjectValue', 'KeywordArgumentsValue', 'NamespaceValue'].includes(value.type)

/** Python's == : numbers (and booleans) by value, strings by value, lists and dicts element by element. */
function pythonEquals(a: Value, b: Value): boolean {
  const numeric = (value: Value) => ['IntegerValue', 'FloatValue', 'BooleanValue'].includes(value.type)
  if (numeric(a) && numeric(b)) return Number(a.value) === Number(b.value)
  const sequence = (value: Value) => value.type === 'ArrayValue' || value.type === 'TupleValue'
  if (sequence(a) || sequence(b)) {
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

/** Python's repr() of a string: single quotes unless it holds one and no double quote; escapes as Python writes them. */
function pythonStringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'"
  const escapes: Record<string, string> = {'\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', [quote]: '\\' + quote}
  const body = text.replace(/[\\\n\r\t'"]|[\x00-\x1f\x7f]/g, (char) =>
    escapes[char] ?? (char === "'" || char === '"' ? char : '\\x' + char.charCodeAt(0).toString(16).padStart(2, '0')),
  )
  return quote + body + quote
}

/** Python's str() of a value (repr() inside containers), as jinja2 prints {{ value }}, `~` and |string. */
export function pythonStr(value: Value, nested = false): string {
  switch (value.type) {
    case 'StringValue':
      return nested ? pythonStringRepr(value.value as string) : (value.value as string)
    case 'NullValue':
      return 'None'
    case 'UndefinedValue':
      return ''
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
    default:
      return value.toString() // numbers (the library prints 1.0 as Python does), namespaces, functions
  }
}

/** The environment's tests (jinja2's `is` tests), as the library keeps them. */
function testsOf(environment: Environment): Map<string, (value: Value) => boolean> {
  return (environment as unknown as {tests: Map<string, (value: Value) => boolean>}).tests
}

/** jinja2's tests the library lacks, added to one environment (the library's own table is shared by all). */
export function addParityTests(environment: Environment): void {
  const tests = new Map(testsOf(environment))
  tests.set('float', (value) => value.type === 'FloatValue')
  ;(environment as unknown as {tests: Map<string, (value: Value) => boolean>}).tests = tests
}

/** jinja2's tests as select/reject take them: a name, then its arguments. */
function passesTest(item: Value, name: string, args: Value[], environment: Environment): boolean {
  const [arg] = args
  switch (name) {
    case 'equalto':
    case 'eq':
    case '==':
      return pythonEquals(item, arg!)
    case 'ne':
    case '!=':
      return !pythonEquals(item, arg!)
    case 'in':
      return (arg!.value as Value[]).some((other) => pythonEquals(item, other))
  }
  const test = testsOf(environment).get(name)
  if (test === undefined) throw new Error(`the chat template uses the Jinja test '${name}', which is not supported`)
  return test(item)
}

const HTML_ESCAPES: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;'}

/** A filter's arguments by position or keyword, in the order of `names`. */
function namedArgs(interpreter: InterpreterSteps, argNodes: Node[], environment: Environment, names: string[]): Array<Value | undefined> {
  const values: Array<Value | undefined> = names.map(() => undefined)
  argNodes.forEach((node, i) => {
    if (node.type === 'KeywordArgumentExpression') {
      const at = names.indexOf(String((node as Node & {key: Node}).key.value))
      if (at < 0) throw new Error(`unexpected keyword argument '${String((node as Node & {key: Node}).key.value)}'`)
      values[at] = interpreter.evaluate(node.value as Node, environment)
    } else values[i] = interpreter.evaluate(node, environment)
  })
  return values
}

function numberOf(value: Value, filter: string): number {
  if (value.type !== 'IntegerValue' && value.type !== 'FloatValue') throw new TypeError(`the '${filter}' filter needs numbers, got ${pythonType(value)}`)
  return value.value as number
}

/** item.attribute or item['attribute'], as jinja2's attribute= arguments read it (dots go deeper). */
function attributeOf(item: Value, path: string): Value {
  let value = item
  for (const key of path.split('.')) {
    const next = value.type === 'ObjectValue' ? (value.value as Map<string, Value>).get(key) : undefined
    if (next === undefined) throw new Error(`${pythonType(value)} has no attribute '${key}'`)
    value = next
  }
  return value
}

/** Filters real chat templates use that @huggingface/jinja lacks, jinja2's way; null when the filter is the library's. */
function extraFilter(interpreter: InterpreterSteps, operand: Value, name: string, argNodes: Node[], environment: Environment): Value | null {
  const args = () => argNodes.map((node) => interpreter.evaluate(node, environment))
  const items = () => {
    if (operand.type !== 'ArrayValue' && operand.type !== 'TupleValue') throw new Error(`the '${name}' filter needs a list, got ${pythonType(operand)}`)
    return operand.value as Value[]
  }
  switch (name) {
    case 'select':
    case 'reject': {
      const [test, ...testArgs] = args()
      if (test === undefined) return new ArrayValue(items().filter((item) => (item as unknown as {__bool__(): {value: boolean}}).__bool__().value === (name === 'select')))
      return new ArrayValue(items().filter((item) => passesTest(item, String(test.value), testArgs, environment) === (name === 'select')))
    }
    case 'map': {
      const [first] = argNodes
      // map(attribute=...) is the library's; map('filter', ...) applies a filter to each item.
      if (first === undefined || first.type === 'KeywordArgumentExpression') return null
      const filterName = String(interpreter.evaluate(first, environment).value)
      const filter = argNodes.length === 1 ? {type: 'Identifier', value: filterName} : {type: 'CallExpression', callee: {type: 'Identifier', value: filterName}, args: argNodes.slice(1)}
      return new ArrayValue(items().map((item) => interpreter.applyFilter(item, filter, environment)))
    }
    case 'string':
      return new StringValue(pythonStr(operand))
    case 'sum': {
      const [attribute, start] = namedArgs(interpreter, argNodes, environment, ['attribute', 'start'])
      let total: number = start === undefined ? 0 : numberOf(start, name)
      let float = start?.type === 'FloatValue'
      for (const item of items()) {
        const value = attribute === undefined ? item : attributeOf(item, String(attribute.value))
        total += numberOf(value, name)
        float ||= value.type === 'FloatValue'
      }
      return float ? new FloatValue(total) : new IntegerValue(total)
    }
    case 'min':
    case 'max': {
      const [, attribute] = namedArgs(interpreter, argNodes, environment, ['case_sensitive', 'attribute'])
      const list = items()
      if (list.length === 0) return new (runtimeClass('undefined_name'))()
      const key = (item: Value) => (attribute === undefined ? item : attributeOf(item, String(attribute.value))).value as number | string
      return list.reduce((best, item) => ((name === 'min' ? key(item) < key(best) : key(item) > key(best)) ? item : best))
    }
    case 'count':
      return operand.type === 'StringValue' ? new IntegerValue((operand.value as string).length) : new IntegerValue(items().length)
    case 'wordcount':
      return new IntegerValue((String(operand.value).match(/\w+/gu) ?? []).length)
  }
  if (operand.type === 'StringValue') {
    // Filters jinja2 applies to any sequence, a string among them.
    const chars = [...(operand.value as string)]
    if (name === 'list') return new ArrayValue(chars.map((char) => new StringValue(char)))
    if (name === 'first') return chars.length === 0 ? new (runtimeClass('undefined_name'))() : new StringValue(chars[0]!)
    if (name === 'last') return chars.length === 0 ? new (runtimeClass('undefined_name'))() : new StringValue(chars.at(-1)!)
    if (name === 'reverse') return new StringValue(chars.reverse().join(''))
    if (name === 'center') return PYTHON_STR_METHODS.center!(operand.value as string, [args()[0] ?? new IntegerValue(80)], PY_VALUES) as Value
    if (name === 'e' || name === 'escape') return new StringValue((operand.value as string).replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!))
  }
  return null
}

class ParityInterpreter extends Interpreter {}
const parity = ParityInterpreter.prototype as unknown as InterpreterSteps

/** The render's limits (template-budget.ts), kept on the interpreter that runs it. */
const budgetOf = (interpreter: InterpreterSteps) => (interpreter as unknown as {budget: RenderBudget}).budget

parity.evaluate = function (node, environment) {
  if (node?.type === PRECOMPUTED) return node.value as Value
  const budget = budgetOf(this)
  budget.tick()
  const value = library.evaluate.call(this, node, environment)
  if (value.type === 'StringValue') budget.checkSize((value.value as string).length, 'string')
  else if (value.type === 'ArrayValue') budget.checkSize((value.value as Value[]).length, 'list')
  return value
}

// "text".lstrip('\n'), .find(...): Python's str methods, where the library lacks them or ignores their arguments.
parity.evaluateMemberExpression = function (node, environment) {
  const method = !node.computed && node.property?.type === 'Identifier' ? PYTHON_STR_METHODS[String(node.property.value)] : undefined
  if (method === undefined) return library.evaluateMemberExpression.call(this, node, environment)
  const object = this.evaluate(node.object!, environment)
  if (object.type !== 'StringValue') return library.evaluateMemberExpression.call(this, {...node, object: {type: PRECOMPUTED, value: object}}, environment)
  return new FunctionValue((args) => method(object.value as string, args, PY_VALUES) as Value)
}

parity.evaluateBinaryExpression = function (node, environment) {
  const operator = node.operator!.value
  if (!['==', '!=', '+', '~', '*'].includes(operator)) return library.evaluateBinaryExpression.call(this, node, environment)
  const left = this.evaluate(node.left!, environment)
  const right = this.evaluate(node.right!, environment)
  if (operator === '~') return new StringValue(pythonStr(left) + pythonStr(right))
  if (operator === '*') {
    // Python repeats a string or a list by an int ('-' * 20); numbers multiply as the library does.
    const [sequence, count] = right.type === 'IntegerValue' ? [left, right] : [right, left]
    const size = (sequence.value as {length?: number}).length ?? 0
    if (count.type === 'IntegerValue' && size * (count.value as number) > MAX_TEMPLATE_STRING) throw new RangeError(`'*' would build ${size} x ${String(count.value)} items`)
    if (count.type === 'IntegerValue' && sequence.type === 'StringValue') return new StringValue((sequence.value as string).repeat(Math.max(0, count.value as number)))
    if (count.type === 'IntegerValue' && sequence.type === 'ArrayValue')
      return new ArrayValue(Array.from({length: Math.max(0, count.value as number)}, () => sequence.value as Value[]).flat())
  }
  if (operator === '==' || operator === '!=') return new BooleanValue(pythonEquals(left, right) === (operator === '=='))
  // Python refuses str + dict (or list) where the library would print "[object Map]" into the prompt.
  if (operator === '+' && ((left.type === 'StringValue' && isContainer(right)) || (right.type === 'StringValue' && isContainer(left))))
    throw new TypeError(`can only concatenate ${pythonType(left)} (not "${pythonType(right)}") to ${pythonType(left)}`)
  const precomputed = (value: Value): Node => ({type: PRECOMPUTED, value})
  return library.evaluateBinaryExpression.call(this, {...node, left: precomputed(left), right: precomputed(right)}, environment)
}

// Statements print what they render; an expression's value prints as Python's str() (None, True, [1, 'a']).
const STATEMENTS = new Set(['Set', 'If', 'For', 'Macro', 'CallStatement', 'FilterStatement', 'Break', 'Continue', 'Comment', 'Program'])
parity.evaluateBlock = function (statements, environment) {
  budgetOf(this).tick() // an empty loop body evaluates no node
  let text = ''
  for (const statement of statements) {
    const value = this.evaluate(statement, environment)
    const written = STATEMENTS.has(statement.type) ? (value.type !== 'NullValue' && value.type !== 'UndefinedValue' ? value.toString() : '') : pythonStr(value)
    budgetOf(this).write(written.length)
    text += written
  }
  return new StringValue(text)
}

parity.applyFilter = function (operand, filter, environment) {
  const name = filter.type === 'Identifier' ? String(filter.value) : filter.type === 'CallExpression' && filter.callee?.type === 'Identifier' ? String(filter.callee.value) : null
  const extra = name === null ? null : extraFilter(this, operand, name, filter.type === 'CallExpression' ? (filter.args ?? []) : [], environment)
  if (extra !== null) return extra
  try {
    return library.applyFilter.call(this, operand, filter, environment)
  } catch (error) {
    // "Unknown ArrayValue filter: x", "Unknown filter: x": say which filter, plainly.
    if (name !== null && /^Unknown (\w+ )?filter/.test((error as Error).message))
      throw new Error(`the chat template uses the Jinja filter '${name}' on a ${pythonType(operand)}, which pagedllm's template engine does not support`)
    throw error
  }
}

/** Runs a parsed template (Template.parsed) over an environment holding its variables, within a RenderBudget; returns the text. */
export function runTemplate(program: unknown, environment: Environment): string {
  // The package's declarations do not resolve under NodeNext (extensionless relative imports), so the class is typed here.
  const Runner = ParityInterpreter as unknown as new (environment: Environment) => {run(program: unknown): Value; budget: RenderBudget}
  const runner = new Runner(environment)
  runner.budget = new RenderBudget()
  return String(runner.run(program).value)
}
