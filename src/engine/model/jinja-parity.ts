// An @huggingface/jinja interpreter that behaves as Python's jinja2 where real chat templates meet the differences:
// value equality of dicts and lists, `in` by ==, `+` of a string and a container as an error, values printed as
// Python's str() prints them (None, True, {'a': [1]}), loops over strings and Undefined, Python's list and str
// methods, and jinja2's filters and tests (jinja-filters.ts, jinja-tests.ts).
import {Environment, Interpreter} from '@huggingface/jinja'
import {evaluateChain, isChainLink} from './jinja-comparison-chains.js'
import {exactInt, intArithmetic, intToFloat, intValue, isBigInt} from './jinja-big-ints.js'
import {extraFilter} from './jinja-filters.js'
import {passesTest} from './jinja-tests.js'
import {pythonPercentFormat} from './python-percent-format.js'
import {
  ArrayValue,
  BooleanValue,
  FloatValue,
  FunctionValue,
  IntegerValue,
  isContainer,
  isMapping,
  isNumber,
  isSequence,
  library,
  type InterpreterSteps,
  type Node,
  ObjectValue,
  PRECOMPUTED,
  precomputed,
  PY_VALUES,
  pythonContains,
  pythonEquals,
  pythonFloatFloorDivide,
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
import {PYTHON_STR_METHODS} from './python-str-methods.js'
import {MAX_TEMPLATE_STRING, RenderBudget} from './template-budget.js'

export {addParityTests} from './jinja-tests.js'
export {pythonStr} from './jinja-values.js'

class ParityInterpreter extends Interpreter {}
const parity = ParityInterpreter.prototype as unknown as InterpreterSteps

/** The render's limits (template-budget.ts), kept on the interpreter that runs it. */
const budgetOf = (interpreter: InterpreterSteps) => (interpreter as unknown as {budget: RenderBudget}).budget

/** Python's list methods templates call (sandboxed jinja2 allows no mutation): index and count, by ==. */
function listMethod(items: Value[], name: string): Value | undefined {
  if (name === 'index')
    return new FunctionValue(([wanted]) => {
      const at = items.findIndex((item) => pythonEquals(item, wanted!))
      if (at < 0) throw new Error(`ValueError: ${pythonStr(wanted!, true)} is not in list`)
      return new IntegerValue(at)
    })
  if (name === 'count') return new FunctionValue(([wanted]) => new IntegerValue(items.filter((item) => pythonEquals(item, wanted!)).length))
  return undefined
}

/** jinja2's globals the library lacks: dict(**kwargs) (set on the environment as a value, not a converted JS function). */
export function addParityGlobals(environment: Environment): void {
  const dict = new FunctionValue((args) => {
    const keywords = args.at(-1)?.type === 'KeywordArgumentsValue' ? (args.pop()!.value as Map<string, Value>) : new Map<string, Value>()
    const [source] = args
    const entries = new Map<string, Value>(source !== undefined && isMapping(source) ? (source.value as Map<string, Value>) : [])
    for (const [key, value] of keywords) entries.set(key, value)
    return new ObjectValue(entries)
  })
  ;(environment as unknown as {variables: Map<string, Value>}).variables.set('dict', dict)
}

/** One pass of a for loop's body: jinja2 runs each in a scope of its own, so a `set` there does not reach the next pass. */
const ITERATION = 'PagedllmIteration'

parity.evaluate = function (node, environment) {
  if (node?.type === PRECOMPUTED) return node.value as Value
  if (node?.type === ITERATION) {
    addLoopCycle(environment)
    return this.evaluateBlock((node as Node & {body: Node[]}).body, new Environment(environment))
  }
  const budget = budgetOf(this)
  budget.tick()
  budget.enter()
  let value: Value
  try {
    value = library.evaluate.call(this, node, environment)
  } finally {
    budget.leave()
  }
  if (value.type === 'StringValue') budget.checkSize((value.value as string).length, 'string')
  else if (value.type === 'ArrayValue') budget.checkSize((value.value as Value[]).length, 'list')
  return value
}

// "text".lstrip('\n'), .find(...), [1, 2].index(2), d.items(): Python's methods, where the library lacks them or differs.
// A lookup that finds nothing is Undefined (jinja2's getitem/getattr), but looking into Undefined itself is an error.
parity.evaluateMemberExpression = function (node, environment) {
  const object = this.evaluate(node.object!, environment)
  if (object.type === 'UndefinedValue') {
    const what = node.object!.type === 'Identifier' ? `'${String(node.object!.value)}'` : 'a value'
    throw new Error(`UndefinedError: ${what} is undefined, so it has no member to read`)
  }
  const name = !node.computed && node.property?.type === 'Identifier' ? String(node.property.value) : undefined
  const method = name !== undefined && object.type === 'StringValue' ? PYTHON_STR_METHODS[name] : undefined
  if (method !== undefined) return new FunctionValue((args) => method(object.value as string, args, PY_VALUES) as Value)
  const field = name !== undefined ? tupleField(object, name) : undefined
  if (field !== undefined) return field
  const listed = name !== undefined && isSequence(object) ? listMethod(object.value as Value[], name) : undefined
  if (listed !== undefined) return listed
  // dict.items() yields (key, value) tuples, which print as Python prints them; it and keys() / values() are dict
  // views, which [] cannot read.
  if ((name === 'items' || name === 'keys' || name === 'values') && isMapping(object) && !(object.value as Map<string, Value>).has(name)) {
    const entries = [...(object.value as Map<string, Value>)]
    const items = name === 'items' ? entries.map(([key, value]) => new TupleValue([new StringValue(key), value])) : entries.map(([key, value]) => (name === 'keys' ? new StringValue(key) : value))
    return new FunctionValue(() => Object.assign(new ArrayValue(items), {dictView: `dict_${name}`}))
  }
  const view = (object as Value & {dictView?: string}).dictView
  if (view !== undefined && node.computed) {
    // jinja2's getitem: an index finds nothing (Undefined); a slice is Python's TypeError.
    if (node.property!.type === 'SliceExpression') throw new TypeError(`'${view}' object is not subscriptable`)
    return new UndefinedValue()
  }
  if (node.computed && node.property!.type !== 'SliceExpression') {
    const key = this.evaluate(node.property!, environment)
    const indexable = isMapping(object) ? key.type === 'StringValue' : (isSequence(object) || object.type === 'StringValue') && ['IntegerValue', 'StringValue'].includes(key.type)
    if (!indexable) return new UndefinedValue()
    return library.evaluateMemberExpression.call(this, {...node, object: precomputed(object), property: precomputed(key)}, environment)
  }
  const member = library.evaluateMemberExpression.call(this, {...node, object: precomputed(object)}, environment)
  // A tuple's slice is a tuple: (1, 2)[1:] prints (2,).
  return object.type === 'TupleValue' && node.property?.type === 'SliceExpression' && member.type === 'ArrayValue' ? new TupleValue(member.value as Value[]) : member
}

// `x is test`: jinja2's tests (jinja-tests.ts); the library would read its own table from each inner scope.
parity.evaluateTestExpression = function (node, environment) {
  const operand = this.evaluate((node as Node & {operand: Node}).operand, environment)
  // args: a test's argument (`is divisibleby(2)`, `is equalto 'x'`), put on the node by jinja-test-arguments.ts.
  const {negate, test, args} = node as Node & {negate: boolean; test: Node; args?: Node[]}
  const values = (args ?? []).map((arg) => this.evaluate(arg, environment))
  return new BooleanValue(passesTest(operand, String(test.value), values) !== negate)
}

const ARITHMETIC = new Set(['+', '-', '*', '/', '//', '%', '**'])
parity.evaluateBinaryExpression = function (node, environment) {
  if (isChainLink(node)) return evaluateChain(this, node, environment)
  const operator = node.operator!.value
  if (!['==', '!=', '+', '-', '~', '*', '%', '/', '//', '**', 'in', 'not in', '<', '>', '<=', '>='].includes(operator)) return library.evaluateBinaryExpression.call(this, node, environment)
  let left = this.evaluate(node.left!, environment)
  let right = this.evaluate(node.right!, environment)
  // Python's bool is an int in arithmetic (1 + True == 2, 'ab' * True == 'ab'); the library refuses it.
  if (ARITHMETIC.has(operator) && (left.type === 'BooleanValue' || right.type === 'BooleanValue') && ((isNumber(left) && isNumber(right)) || operator === '*'))
    [left, right] = [left, right].map((value) => (value.type === 'BooleanValue' ? new IntegerValue(value.value ? 1 : 0) : value)) as [Value, Value]
  if (ARITHMETIC.has(operator)) {
    // Ints as Python's, unbounded (jinja-big-ints.ts); a big int meeting a float becomes one (OverflowError past the largest).
    const exact = intArithmetic(operator, left, right)
    if (exact !== null) return exact
    for (const side of [left, right]) if (isBigInt(side) && isNumber(left) && isNumber(right)) intToFloat(exactInt(side)!)
  }
  // Python's ordering: strings by code point ('a' < 'b'), bools as numbers (True < 3), lists item by item; the library compares only numbers.
  if (['<', '>', '<=', '>='].includes(operator)) {
    const order = pythonOrder(left, right, operator)
    return new BooleanValue(operator === '<' ? order < 0 : operator === '>' ? order > 0 : operator === '<=' ? order <= 0 : order >= 0)
  }
  // 'text %s' % value: Python's printf-style formatting (a tuple gives the values, a dict the %(name)s fields).
  if (operator === '%' && left.type === 'StringValue')
    return new StringValue(pythonPercentFormat(left.value as string, right.type === 'TupleValue' ? (right.value as Value[]) : isMapping(right) ? (right.value as Map<string, Value>) : [right]))
  // Python's % on numbers takes the divisor's sign (-7 % 3 == 2); JavaScript's takes the dividend's.
  if (operator === '%' && ['IntegerValue', 'FloatValue'].includes(left.type) && ['IntegerValue', 'FloatValue'].includes(right.type)) {
    const [a, b] = [left.value as number, right.value as number]
    if (b === 0) throw new Error('ZeroDivisionError: modulo by zero')
    // From fmod (JavaScript's %), as CPython does: a - b * floor(a / b) loses 1e16 % 3 to rounding.
    let remainder = a % b
    if (remainder !== 0 && b < 0 !== remainder < 0) remainder += b
    else if (remainder === 0) remainder = b < 0 ? -0 : 0
    return left.type === 'FloatValue' || right.type === 'FloatValue' ? new FloatValue(remainder) : new IntegerValue(remainder)
  }
  // Python refuses to divide by zero (the library gives inf), and floors a float quotient from fmod.
  if ((operator === '/' || operator === '//') && ['IntegerValue', 'FloatValue'].includes(left.type) && ['IntegerValue', 'FloatValue'].includes(right.type)) {
    const [a, b] = [left.value as number, right.value as number]
    const float = left.type === 'FloatValue' || right.type === 'FloatValue'
    if (b === 0) throw new Error(`ZeroDivisionError: ${operator === '/' ? (float ? 'float division by zero' : 'division by zero') : float ? 'float floor division by zero' : 'integer division or modulo by zero'}`)
    if (operator === '//' && float) return new FloatValue(pythonFloatFloorDivide(a, b))
  }
  if (operator === 'in' || operator === 'not in') return new BooleanValue(pythonContains(right, left) === (operator === 'in'))
  if (operator === '~') return new StringValue(pythonStr(left) + pythonStr(right))
  // A tuple joins only a tuple (and a list only a list): Python's TypeError otherwise.
  if (operator === '+' && isSequence(left) && isSequence(right)) {
    if (left.type !== right.type) throw new TypeError(`can only concatenate ${pythonType(left)} (not "${pythonType(right)}") to ${pythonType(left)}`)
    if (left.type === 'TupleValue') return new TupleValue([...(left.value as Value[]), ...(right.value as Value[])])
  }
  if (operator === '*') {
    // Python repeats a string, a list or a tuple by an int ('-' * 20); numbers multiply as the library does.
    const [sequence, count] = right.type === 'IntegerValue' ? [left, right] : [right, left]
    const size = (sequence.value as {length?: number}).length ?? 0
    if (count.type === 'IntegerValue' && size * (count.value as number) > MAX_TEMPLATE_STRING) throw new RangeError(`'*' would build ${size} x ${String(count.value)} items`)
    if (count.type === 'IntegerValue' && sequence.type === 'StringValue') return new StringValue((sequence.value as string).repeat(Math.max(0, count.value as number)))
    if (count.type === 'IntegerValue' && isSequence(sequence)) {
      const repeated = Array.from({length: Math.max(0, count.value as number)}, () => sequence.value as Value[]).flat()
      return sequence.type === 'TupleValue' ? new TupleValue(repeated) : new ArrayValue(repeated)
    }
  }
  if (operator === '==' || operator === '!=') return new BooleanValue(pythonEquals(left, right) === (operator === '=='))
  // Python refuses str + dict (or list) where the library would print "[object Map]" into the prompt.
  if (operator === '+' && ((left.type === 'StringValue' && isContainer(right)) || (right.type === 'StringValue' && isContainer(left))))
    throw new TypeError(`can only concatenate ${pythonType(left)} (not "${pythonType(right)}") to ${pythonType(left)}`)
  // ... and str + int (or int + str), which the library joins as text ('n' + 1 == 'n1').
  if (operator === '+' && (left.type === 'StringValue') !== (right.type === 'StringValue') && left.type !== 'UndefinedValue' && right.type !== 'UndefinedValue')
    throw new TypeError(left.type === 'StringValue' ? `can only concatenate str (not "${pythonType(right)}") to str` : `unsupported operand type(s) for +: '${pythonType(left)}' and 'str'`)
  return library.evaluateBinaryExpression.call(this, {...node, left: precomputed(left), right: precomputed(right)}, environment)
}

// -x and +x of an int past 2^53 keep it exact (the library negates the double).
parity.evaluateUnaryExpression = function (node, environment) {
  const operator = (node as Node & {operator: {value: string}}).operator.value
  if (operator !== '-' && operator !== '+') return library.evaluateUnaryExpression.call(this, node, environment)
  const argument = this.evaluate((node as Node & {argument: Node}).argument, environment)
  if (isBigInt(argument)) return intValue(operator === '-' ? -exactInt(argument)! : exactInt(argument)!)
  return library.evaluateUnaryExpression.call(this, {...node, argument: precomputed(argument)} as Node, environment)
}

// Statements print what they render; an expression's value prints as Python's str() (None, True, [1, 'a']).
const STATEMENTS = new Set([ITERATION, 'Set', 'If', 'For', 'Macro', 'CallStatement', 'FilterStatement', 'Break', 'Continue', 'Comment', 'Program'])
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

/** jinja2's loop.cycle('odd', 'even') and loop.depth, added to the loop variable of the iteration this block runs in. */
function addLoopCycle(environment: Environment): void {
  const loop = (environment as unknown as {variables: Map<string, Value>}).variables.get('loop')
  if (loop?.type !== 'ObjectValue' || (loop.value as Map<string, Value>).has('cycle')) return
  const index = (loop.value as Map<string, Value>).get('index0')
  if (index?.type !== 'IntegerValue') return
  // A loop that is not `recursive` (which the library cannot parse) is always at depth 1.
  ;(loop.value as Map<string, Value>).set('depth', new IntegerValue(1)).set('depth0', new IntegerValue(0))
  ;(loop.value as Map<string, Value>).set('cycle', new FunctionValue((args) => {
    if (args.length === 0) throw new TypeError('no items for cycling given')
    return args[(index.value as number) % args.length]!
  }))
}

// A for loop walks what Python's iter() walks: a string's characters, a dict's keys, nothing for Undefined.
parity.evaluateFor = function (node, environment) {
  const selecting = node.iterable!.type === 'SelectExpression'
  const source = selecting ? node.iterable!.lhs! : node.iterable!
  const value = this.evaluate(source, environment)
  const loopvar = (node as Node & {loopvar: Node}).loopvar
  // Targets unpack (`for key, value in d.items()`) only from the library's lists: each item becomes the list of what
  // Python's iter() walks in it (a tuple's items, a string's characters, a dict's keys).
  const unpacking = loopvar.type === 'TupleLiteral'
  const iterable = isMapping(value) && !unpacking ? value : new ArrayValue(pythonIterable(value).map((item) => (unpacking ? new ArrayValue(unpackable(item)) : item)))
  const walked = selecting ? {...node.iterable!, lhs: precomputed(iterable)} : precomputed(iterable)
  // A nested target (`for a, (b, c) in ...`): the inner tuple is a stand-in name, unpacked by a set at the pass's start.
  const nested = unpacking ? (loopvar.value as Node[]).map((target, i) => (target.type === 'TupleLiteral' ? {target, name: `\u0000unpack${i}`} : null)) : []
  const flat = unpacking ? {...loopvar, value: (loopvar.value as Node[]).map((target, i) => (nested[i] ? {type: 'Identifier', value: nested[i].name} : target))} : loopvar
  const unpacks = nested.filter((entry) => entry !== null).map(({target, name}) => ({type: 'Set', assignee: target, value: {type: 'Identifier', value: name}, body: []}))
  const body = [{type: ITERATION, body: [...unpacks, ...(node as Node & {body: Node[]}).body]}]
  return library.evaluateFor.call(this, {...node, loopvar: flat, iterable: walked, body} as Node, environment)
}

/** What unpacking takes from a value, as Python's iter(): a non-iterable is Python's TypeError. */
function unpackable(value: Value): Value[] {
  if (!(isSequence(value) || isMapping(value) || value.type === 'StringValue' || value.type === 'UndefinedValue')) throw new TypeError(`cannot unpack non-iterable ${pythonType(value)} object`)
  return pythonIterable(value)
}

/** `{% set a, (b, c) = value %}`: each name bound to its item, nested tuples in turn, counts checked as Python's. */
function unpackInto(target: Node, value: Value, environment: Environment): void {
  const names = target.value as Node[]
  const items = unpackable(value)
  if (items.length !== names.length)
    throw new Error(`ValueError: ${items.length > names.length ? `too many values to unpack (expected ${names.length})` : `not enough values to unpack (expected ${names.length}, got ${items.length})`}`)
  names.forEach((name, i) => {
    if (name.type === 'TupleLiteral') unpackInto(name, items[i]!, environment)
    else if (name.type === 'Identifier') environment.setVariable(String(name.value), items[i]!)
    else throw new SyntaxError(`cannot assign to ${name.type}`)
  })
}

parity.evaluateSet = function (node, environment) {
  const {assignee, value} = node as Node & {assignee: Node; value: Node | null}
  if (assignee.type !== 'TupleLiteral' || value === null) return library.evaluateSet.call(this, node, environment)
  unpackInto(assignee, this.evaluate(value, environment), environment)
  return new UndefinedValue()
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
