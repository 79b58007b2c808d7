// jinja2's chained comparisons (`1 < x < 3`, `a == b == c`, `x in xs == true`), which Python reads as
// `1 < x and x < 3` with x evaluated once. @huggingface/jinja parses them as ((1 < x) < 3) and drops parentheses, so
// a chain is told apart from `(1 < x) < 3` on the tokens: each comparison after the first of one chain is marked
// there, and jinja-parity.ts evaluates a marked comparison's whole chain.

import type {Environment} from '@huggingface/jinja'
import {type InterpreterSteps, type Node, precomputed, type Value} from './jinja-values.js'

type Token = {value: string; type: string; chained?: boolean}

/** Names that end a comparison's operand (a comparison after one starts a new chain). */
const ENDS_OPERAND = new Set(['and', 'or', 'not', 'if', 'elif', 'else', 'for', 'recursive', 'set', 'with'])
const OPENS = new Set(['OpenParen', 'OpenSquareBracket', 'OpenCurlyBracket'])
const CLOSES = new Set(['CloseParen', 'CloseSquareBracket', 'CloseCurlyBracket'])
const SEPARATES = new Set(['Comma', 'Colon', 'Equals', 'OpenStatement', 'CloseStatement', 'OpenExpression', 'CloseExpression', 'Text', 'Comment'])

/** Whether the token at `at` is `is` or the `not` of `is not`: what follows names a test (`x is in xs`), no operator. */
function endsTestKeyword(tokens: Token[], at: number): boolean {
  const token = tokens[at]
  return token?.type === 'Identifier' && (token.value === 'is' || (token.value === 'not' && tokens[at - 1]?.value === 'is'))
}

/**
 * The tokens with each chained comparison's operator marked `chained`; a chained `not in` becomes one operator token
 * (the library's parser makes a new, unmarked token of the pair otherwise).
 */
export function markComparisonChains(tokens: Token[]): Token[] {
  const out: Token[] = []
  // Per bracket depth: comparisons seen in the current chain, and whether a for's `in` is still to come.
  const depths: Array<{seen: number; forIn: boolean}> = [{seen: 0, forIn: false}]
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    const here = depths.at(-1)!
    const name = token.type === 'Identifier' ? token.value : null
    const isTest = (at: number) => endsTestKeyword(tokens, at)
    const notIn = name === 'not' && tokens[i + 1]?.type === 'Identifier' && tokens[i + 1]!.value === 'in' && !isTest(i - 1)
    const comparison = token.type === 'ComparisonBinaryOperator' || (name === 'in' && !isTest(i - 1)) || notIn
    if (name === 'not' && isTest(i - 1)) {
      out.push(token) // `is not`: part of the operand's test
      continue
    }
    if (comparison && here.forIn && name === 'in') {
      here.forIn = false // `for x in items`: not a comparison
      here.seen = 0
    } else if (comparison) {
      here.seen++
      if (here.seen > 1 && notIn) {
        out.push({type: 'ComparisonBinaryOperator', value: 'not in', chained: true})
        i++
        continue
      }
      if (here.seen > 1) token.chained = true
      if (notIn) {
        out.push(token, tokens[++i]!)
        continue
      }
    } else if (OPENS.has(token.type)) depths.push({seen: 0, forIn: false})
    else if (CLOSES.has(token.type) && depths.length > 1) depths.pop()
    else if (SEPARATES.has(token.type) || (name !== null && ENDS_OPERAND.has(name))) {
      if (token.type === 'OpenStatement' || token.type === 'OpenExpression') depths.splice(0, depths.length, {seen: 0, forIn: false})
      else here.seen = 0
      if (name === 'for') depths.at(-1)!.forIn = true
    }
    out.push(token)
  }
  return out
}

/** Whether a BinaryExpression is a marked link of a chain (not its first comparison). */
export const isChainLink = (node: Node) => (node.operator as {chained?: boolean} | undefined)?.chained === true

/**
 * A chain ending at `node` (`a < b < c` parsed as ((a < b) < c)) as Python runs it: each comparison of neighbouring
 * operands, each operand evaluated once, stopping at the first false one, whose value is the result.
 */
export function evaluateChain(interpreter: InterpreterSteps, node: Node, environment: Environment): Value {
  const links: Array<{operator: string; right: Node}> = []
  let first = node
  while (isChainLink(first)) {
    links.unshift({operator: first.operator!.value, right: first.right!})
    first = first.left!
  }
  if (first.type !== 'BinaryExpression' || first.operator === undefined) throw new SyntaxError('a chained comparison that pagedllm\'s template engine cannot read here')
  links.unshift({operator: first.operator.value, right: first.right!})
  let left = interpreter.evaluate(first.left!, environment)
  let result: Value | undefined
  for (const {operator, right: rightNode} of links) {
    const right = interpreter.evaluate(rightNode, environment)
    result = interpreter.evaluateBinaryExpression({type: 'BinaryExpression', operator: {value: operator}, left: precomputed(left), right: precomputed(right)}, environment)
    if (!result.__bool__().value) return result
    left = right
  }
  return result!
}
