// Whether a grammar's root can finish: some finite text derives from it.
//
// xgrammar compiles `root ::= "a" root`, or a JSON schema whose object requires a property that refers back to the
// object, without a word: every mask then allows tokens, no mask ever allows EOS, and the request runs to max_tokens
// with output that can never parse. Such a grammar is refused up front (400) instead. The check reads xgrammar's own
// printed form of the grammar (one rule per line, every element in a fixed syntax) and finds, as a fixed point, the
// rules that can derive finite text.
import {InvalidRequestError} from '../errors.js'
import {closing} from './utf8-classes.js'
import {xgrammar} from './xgrammar.js'

type Expr =
  | {kind: 'terminal'}
  | {kind: 'rule'; name: string}
  | {kind: 'seq' | 'alt'; items: Expr[]}
  | {kind: 'repeat'; min: number; item: Expr}

/** Refuses (400) a grammar whose root can never finish. */
export async function checkGrammarEnds(ebnf: string, param: string): Promise<void> {
  const grammar = await xgrammar().Grammar.fromEBNF(ebnf)
  let printed: string
  try {
    printed = grammar.toString()
  } finally {
    grammar.dispose()
  }
  const rule = unendingRule(printed)
  if (rule === null) return
  const where = rule === 'root' ? 'every way through it' : `its rule '${rule}' (a branch an output can enter)`
  throw new InvalidRequestError(
    `'${param}' admits no output that ends: ${where} leads back into itself (a rule or a required property that refers back to where it is), so no generation could finish`,
    {param, code: 'empty_grammar'},
  )
}

/**
 * The first rule reachable from `root` in xgrammar's printed grammar that derives no finite text, or null. A reachable
 * one is a trap even when others end: an output that enters it can never finish.
 */
export function unendingRule(printed: string): string | null {
  const rules = new Map<string, Expr>()
  for (const line of printed.split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_-]*) ::= (.*)$/.exec(line)
    if (match) rules.set(match[1]!, parseBody(match[2]!))
  }
  if (!rules.has('root')) return null // not a form this reads: leave the judgement to the grammar engine
  const ends = endingRules(rules)
  const reached = ['root']
  for (let i = 0; i < reached.length; i++) {
    const name = reached[i]!
    if (!ends.has(name)) return name
    for (const next of referencedRules(rules.get(name))) if (!reached.includes(next)) reached.push(next)
  }
  return null
}

function referencedRules(expr: Expr | undefined): string[] {
  if (expr === undefined || expr.kind === 'terminal') return []
  if (expr.kind === 'rule') return [expr.name]
  if (expr.kind === 'repeat') return referencedRules(expr.item)
  return expr.items.flatMap(referencedRules)
}

/** The rules that derive some finite text: a fixed point from the terminals up. */
function endingRules(rules: ReadonlyMap<string, Expr>): Set<string> {
  const ends = new Set<string>()
  for (let changed = true; changed; ) {
    changed = false
    for (const [name, expr] of rules) {
      if (!ends.has(name) && derivesFinite(expr, ends)) {
        ends.add(name)
        changed = true
      }
    }
  }
  return ends
}

function derivesFinite(expr: Expr, ends: ReadonlySet<string>): boolean {
  switch (expr.kind) {
    case 'terminal':
      return true
    case 'rule':
      return ends.has(expr.name)
    case 'seq':
      return expr.items.every((item) => derivesFinite(item, ends))
    case 'alt':
      return expr.items.some((item) => derivesFinite(item, ends))
    case 'repeat':
      return expr.min === 0 || derivesFinite(expr.item, ends)
  }
}

/** One rule's body: alternatives of sequences of elements, each maybe quantified; a lookahead `(= ...)` is skipped. */
function parseBody(body: string): Expr {
  let at = 0
  const skipSpaces = () => {
    while (body[at] === ' ') at++
  }
  const parseAlt = (): Expr => {
    const items = [parseSeq()]
    while (body[at] === '|') {
      at++
      items.push(parseSeq())
    }
    return {kind: 'alt', items}
  }
  const parseSeq = (): Expr => {
    const items: Expr[] = []
    for (skipSpaces(); at < body.length && body[at] !== '|' && body[at] !== ')'; skipSpaces()) {
      if (body.startsWith('(=', at)) {
        at += 2
        parseAlt()
        at++ // ')'
        continue
      }
      items.push(quantified(parseElement()))
    }
    return {kind: 'seq', items}
  }
  const parseElement = (): Expr => {
    const char = body[at]!
    if (char === '"' || char === '[') {
      at = closing(body, at, char === '"' ? '"' : ']') + 1
      return {kind: 'terminal'}
    }
    if (char === '(') {
      at++
      const inner = parseAlt()
      at++ // ')'
      return inner
    }
    const name = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(body.slice(at))?.[0]
    if (name === undefined) throw new Error(`unexpected ${JSON.stringify(body.slice(at, at + 10))}`)
    at += name.length
    return {kind: 'rule', name}
  }
  const quantified = (item: Expr): Expr => {
    const char = body[at]
    if (char === '*' || char === '?') {
      at++
      return {kind: 'repeat', min: 0, item}
    }
    if (char === '+') {
      at++
      return {kind: 'repeat', min: 1, item}
    }
    const bound = /^\{(\d+)(?:,(\d*))?\}/.exec(body.slice(at))
    if (bound === null) return item
    at += bound[0].length
    return {kind: 'repeat', min: Number(bound[1]), item}
  }
  try {
    return parseAlt()
  } catch {
    // A form this reader does not know: count the rule as able to end (the check then refuses nothing wrongly).
    return {kind: 'terminal'}
  }
}
