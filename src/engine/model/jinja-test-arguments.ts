// jinja2's tests with an argument (`loop.index is divisibleby(2)`, `x is divisibleby 3`, `role is equalto 'user'`,
// `x is sameas none`), which @huggingface/jinja's parser refuses: it reads only `is [not] name`. The argument's tokens
// are taken out before the library parses, its name marked with their index, and put back on the TestExpression
// node after (as `args`), where jinja-parity.ts's evaluateTestExpression evaluates them.
import {parse, tokenize} from '@huggingface/jinja'
import {markComparisonChains} from './jinja-comparison-chains.js'
import {groupConcatenations} from './jinja-concat-precedence.js'
import {restoreTuples, withTupleForms} from './jinja-tuple-forms.js'
import {markBigIntLiterals, restoreBigIntLiterals} from './jinja-big-ints.js'

type Token = {value: string; type: string}
type Node = {type: string} & Record<string, unknown>

const MARK = '\u0000'
const OPEN: Record<string, string> = {OpenParen: 'CloseParen', OpenSquareBracket: 'CloseSquareBracket', OpenCurlyBracket: 'CloseCurlyBracket'}
/** Names that end a test rather than give its argument (jinja2's parse_test). */
const NOT_ARGUMENT = new Set(['else', 'or', 'and', 'is'])

/** The index past the bracket group opening at `at`. */
function pastGroup(tokens: Token[], at: number): number {
  let depth = 0
  for (let i = at; i < tokens.length; i++) {
    if (OPEN[tokens[i]!.type] !== undefined) depth++
    else if (Object.values(OPEN).includes(tokens[i]!.type) && --depth === 0) return i + 1
  }
  return tokens.length
}

/** The index past a no-parenthesis argument starting at `at` (jinja2: a primary and its postfixes), or `at` where none starts. */
function pastBareArgument(tokens: Token[], at: number): number {
  const first = tokens[at]
  if (first === undefined) return at
  let end: number
  if (first.type === 'Identifier' && !NOT_ARGUMENT.has(first.value)) end = at + 1
  else if (first.type === 'NumericLiteral' || first.type === 'StringLiteral') end = at + 1
  else if (OPEN[first.type] !== undefined && first.type !== 'OpenParen') end = pastGroup(tokens, at)
  else return at
  while (end < tokens.length) {
    const next = tokens[end]!
    if (next.type === 'Dot' && tokens[end + 1]?.type === 'Identifier') end += 2
    else if (next.type === 'OpenSquareBracket' || next.type === 'OpenParen') end = pastGroup(tokens, end)
    else if (next.type === 'StringLiteral' && first.type === 'StringLiteral') end++ // adjacent literals join
    else break
  }
  return end
}

/** The tokens with each test's argument taken out into `args` (an expression's tokens, or a call's `( ... )`). */
function extractArguments(tokens: Token[], args: {tokens: Token[]; call: boolean}[]): Token[] {
  const out: Token[] = []
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    out.push(token)
    if (token.type !== 'Identifier' || token.value !== 'is') continue
    let at = i + 1
    if (tokens[at]?.type === 'Identifier' && tokens[at]!.value === 'not') out.push(tokens[at++]!)
    const name = tokens[at]
    if (name?.type !== 'Identifier') continue
    const call = tokens[at + 1]?.type === 'OpenParen'
    const end = call ? pastGroup(tokens, at + 1) : pastBareArgument(tokens, at + 1)
    i = at
    if (end === at + 1) {
      out.push(name)
      continue
    }
    const inner = extractArguments(tokens.slice(at + 1, end), args)
    out.push({type: name.type, value: `${name.value}${MARK}${args.length}`})
    args.push({tokens: inner, call})
    i = end - 1
  }
  return out
}

/** An argument's tokens as expressions: a call's arguments (keywords included), or the one bare expression. */
function argumentNodes(argument: {tokens: Token[]; call: boolean}, args: {tokens: Token[]; call: boolean}[]): Node[] {
  const open = {type: 'OpenExpression', value: '{{'}
  const close = {type: 'CloseExpression', value: '}}'}
  const callee = argument.call ? [{type: 'Identifier', value: 'test'}] : []
  const program = parse([open, ...callee, ...argument.tokens, close] as never) as unknown as {body: Node[]}
  restoreArguments(program, args)
  const expression = program.body[0]!
  return argument.call ? (expression.args as Node[]) : [expression]
}

/** Every TestExpression whose name was marked gets its name back and its arguments as `args`. */
function restoreArguments(root: unknown, args: {tokens: Token[]; call: boolean}[]): void {
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const value = stack.pop()
    if (Array.isArray(value)) stack.push(...value)
    else if (value instanceof Map) stack.push(...value.keys(), ...value.values())
    else if (value !== null && typeof value === 'object') {
      const node = value as Node
      const test = node.type === 'TestExpression' ? (node.test as {value: string}) : undefined
      if (test !== undefined && test.value.includes(MARK)) {
        const [name, index] = test.value.split(MARK)
        test.value = name!
        node.args = argumentNodes(args[Number(index)]!, args)
      }
      for (const field of Object.values(node)) if (field !== null && typeof field === 'object') stack.push(field)
    }
  }
}

/** The library's parse of a template (as Template does it: trim_blocks, lstrip_blocks), tests' arguments, jinja2's tuple forms and ints past 2^53 included. */
export function parseTemplate(source: string): unknown {
  const tokens = markComparisonChains(groupConcatenations(withTupleForms(markBigIntLiterals(tokenize(source, {lstrip_blocks: true, trim_blocks: true}) as unknown as Token[]))))
  const args: {tokens: Token[]; call: boolean}[] = []
  const program = parse(extractArguments(tokens, args) as never)
  restoreArguments(program, args)
  restoreTuples(program)
  restoreBigIntLiterals(program)
  return program
}
