// jinja2's tuple forms @huggingface/jinja's parser refuses, rewritten on the tokens into forms it reads: `()`, `(x,)`
// and `(x, y,)`, and a bare tuple where jinja2 reads one (`{{ 1, 2 }}`, `{% set x = 1, %}`, `{% for x in 1, 2 %}`,
// `{% if a, b %}`), put in parentheses. The library cannot make an empty or one-item tuple, so such a tuple gets
// placeholder items that restoreTuples takes out of the parsed TupleLiteral. A macro's parameters may not end in a
// comma (jinja2's syntax error; the library would accept it).

import {visitNodes} from './jinja-values.js'

type Token = {value: string; type: string}

/** A name no template can write (the lexer reads no NUL), standing for "no item" in a tuple. */
const PLACEHOLDER = '\u0000no-item'
const placeholder = (): Token => ({type: 'Identifier', value: PLACEHOLDER})
const comma = (): Token => ({type: 'Comma', value: ','})

const OPENERS = new Set(['OpenParen', 'OpenSquareBracket', 'OpenCurlyBracket'])
const CLOSERS = new Set(['CloseParen', 'CloseSquareBracket', 'CloseCurlyBracket'])
/** Names after which `(` opens a group rather than a call's arguments. */
const KEYWORDS = new Set(['in', 'if', 'else', 'elif', 'and', 'or', 'not', 'is', 'for', 'set', 'recursive'])

/** The index of the bracket closing the one at `at` (tokens.length when unclosed: the library reports it). */
function closingOf(tokens: Token[], at: number): number {
  let depth = 0
  for (let i = at; i < tokens.length; i++) {
    if (OPENERS.has(tokens[i]!.type)) depth++
    else if (CLOSERS.has(tokens[i]!.type) && --depth === 0) return i
  }
  return tokens.length
}

/** Whether `(` at `at` groups (a tuple or a parenthesized expression) rather than opens a call. */
function isGroup(tokens: Token[], at: number): boolean {
  const before = tokens[at - 1]
  if (before === undefined) return true
  if (before.type === 'Identifier') return KEYWORDS.has(before.value)
  return !CLOSERS.has(before.type) && before.type !== 'StringLiteral'
}

/** Indexes of the commas in tokens[from, to) outside any bracket. */
function topLevelCommas(tokens: Token[], from: number, to: number): number[] {
  const commas: number[] = []
  let depth = 0
  for (let i = from; i < to; i++) {
    const type = tokens[i]!.type
    if (OPENERS.has(type)) depth++
    else if (CLOSERS.has(type)) depth--
    else if (type === 'Comma' && depth === 0) commas.push(i)
  }
  return commas
}

/**
 * Every grouping `( ... )` in `tokens` with its trailing comma resolved: `()` and `(x,)` get placeholders, `(x, y,)`
 * loses the comma. One pass finds each group's commas with a stack, one more writes the tokens: nesting thousands
 * deep stays linear.
 */
function resolveGroups(tokens: Token[]): Token[] {
  const dropped = new Set<number>()
  const placeholdersBefore = new Map<number, number>()
  const open: Array<{at: number; group: boolean; commas: number}> = []
  tokens.forEach((token, i) => {
    if (OPENERS.has(token.type)) open.push({at: i, group: token.type === 'OpenParen' && isGroup(tokens, i), commas: 0})
    else if (token.type === 'Comma' && open.length > 0) open.at(-1)!.commas++
    else if (CLOSERS.has(token.type)) {
      const frame = open.pop()
      if (frame === undefined || !frame.group || token.type !== 'CloseParen') return
      if (frame.at === i - 1) placeholdersBefore.set(i, 2)
      else if (tokens[i - 1]!.type === 'Comma') {
        if (frame.commas === 1) placeholdersBefore.set(i, 1)
        else dropped.add(i - 1)
      }
    }
  })
  const out: Token[] = []
  tokens.forEach((token, i) => {
    const placeholders = placeholdersBefore.get(i) ?? 0
    if (placeholders === 2) out.push(placeholder(), comma(), placeholder())
    else if (placeholders === 1) out.push(placeholder())
    if (!dropped.has(i)) out.push(token)
  })
  return out
}

/** tokens[from, to) in parentheses where a comma outside brackets makes them a tuple. */
function parenthesizeTuple(tokens: Token[], from: number, to: number): Token[] {
  const part = tokens.slice(from, to)
  if (topLevelCommas(tokens, from, to).length === 0) return part
  return [{type: 'OpenParen', value: '('}, ...part, {type: 'CloseParen', value: ')'}]
}

/** One tag's tokens (from its opening to its closing, both included) with a bare tuple put in parentheses. */
function tagWithTuples(tag: Token[]): Token[] {
  const [open, keyword] = tag
  const end = tag.length - 1
  if (open!.type === 'OpenExpression') return [open!, ...parenthesizeTuple(tag, 1, end), tag[end]!]
  if (keyword?.type !== 'Identifier') return tag
  const depthZero = (type: string, value?: string) => {
    let depth = 0
    for (let i = 2; i < end; i++) {
      const token = tag[i]!
      if (OPENERS.has(token.type)) depth++
      else if (CLOSERS.has(token.type)) depth--
      else if (depth === 0 && token.type === type && (value === undefined || token.value === value)) return i
    }
    return -1
  }
  switch (keyword.value) {
    case 'if':
    case 'elif':
      return [open!, keyword, ...parenthesizeTuple(tag, 2, end), tag[end]!]
    case 'set': {
      const equals = depthZero('Equals')
      return equals < 0 ? tag : [...tag.slice(0, equals + 1), ...parenthesizeTuple(tag, equals + 1, end), tag[end]!]
    }
    case 'for': {
      const within = depthZero('Identifier', 'in')
      if (within < 0) return tag
      // The iterable ends at the loop's filter (`if`): jinja2 reads no conditional expression there.
      let stop = end
      for (let i = within + 1, depth = 0; i < end; i++) {
        const token = tag[i]!
        if (OPENERS.has(token.type)) depth++
        else if (CLOSERS.has(token.type)) depth--
        else if (depth === 0 && token.type === 'Identifier' && (token.value === 'if' || token.value === 'recursive')) {
          stop = i
          break
        }
      }
      return [...tag.slice(0, within + 1), ...parenthesizeTuple(tag, within + 1, stop), ...tag.slice(stop)]
    }
    case 'macro': {
      const close = tag[3]?.type === 'OpenParen' ? closingOf(tag, 3) : -1
      if (close > 0 && tag[close - 1]?.type === 'Comma') throw new SyntaxError("a macro's parameters end in a comma (jinja2: expected token 'name', got ')')")
      return tag
    }
  }
  return tag
}

/** The template's tokens with jinja2's tuple forms in forms the library parses (see the top of this file). */
export function withTupleForms(tokens: Token[]): Token[] {
  const out: Token[] = []
  for (let i = 0; i < tokens.length; i++) {
    const type = tokens[i]!.type
    if (type !== 'OpenExpression' && type !== 'OpenStatement') {
      out.push(tokens[i]!)
      continue
    }
    const closeType = type === 'OpenExpression' ? 'CloseExpression' : 'CloseStatement'
    let end = i + 1
    while (end < tokens.length && tokens[end]!.type !== closeType) end++
    if (end === tokens.length) {
      out.push(...tokens.slice(i))
      break
    }
    out.push(...tagWithTuples(tokens.slice(i, end + 1)))
    i = end
  }
  return resolveGroups(out)
}

/** Takes the placeholders out of every parsed TupleLiteral (a one-item or empty tuple). */
export function restoreTuples(root: unknown): void {
  visitNodes(root, (node) => {
    if (node.type === 'TupleLiteral' && Array.isArray(node.value))
      node.value = (node.value as Array<{type: string; value: unknown}>).filter((item) => !(item.type === 'Identifier' && item.value === PLACEHOLDER))
  })
}
