// jinja2 syntax @huggingface/jinja's lexer does not read, rewritten into forms it reads the same way before it sees
// the template: {% raw %}...{% endraw %} (its text as a string literal), the `+` that turns lstrip_blocks or
// trim_blocks off for one tag ({%+ ... +%}, {#+ ... +#}, {{+ ... }}), and number literals with exponents, underscores
// or a 0x / 0o / 0b base (1e3, 1_000, 0x1F), written as plain decimals; \r\n and \r line breaks as \n. A recursive
// for loop is refused by name.

/** An ASCII character the library reads in a string literal as written; the other ASCII ones are written as \xHH. */
const PLAIN = /[A-Za-z0-9 _.,:;!?()[\]<>=*/@&^$|`~]/

/** `text` as a string literal the library reads back exactly, with no character its whitespace regexes or tag search react to. */
function stringLiteral(text: string): string {
  let body = ''
  for (const char of text) {
    if (PLAIN.test(char) || char.charCodeAt(0) > 0x7f) body += char
    else body += '\\x' + char.charCodeAt(0).toString(16).padStart(2, '0')
  }
  return `'${body}'`
}

/** An empty output the library's lstrip_blocks / trim_blocks regexes do not see through (what a `+` keeps). */
const NOTHING = "{{''}}"

/** Whether only spaces and tabs stand between the last line break (or the start) and `at`: where lstrip_blocks strips. */
function atLineStart(source: string, at: number): boolean {
  // Walked back over the blanks only: a long line of tags would make a look at the whole line quadratic.
  let before = at - 1
  while (before >= 0 && (source[before] === ' ' || source[before] === '\t')) before--
  return before < 0 || source[before] === '\n'
}

const RAW_BEGIN = /\{%([-+]?)\s*raw\s*(-?)%\}/y
const RAW_END = /\{%([-+]?)\s*endraw\s*([-+]?)%\}/g

/** {% raw %}...{% endraw %} at `at` as a string literal between comments that strip whitespace as the raw tags do; null when not a raw block. */
function rawBlock(source: string, at: number): {end: number; text: string} | null {
  RAW_BEGIN.lastIndex = at
  const begin = RAW_BEGIN.exec(source)
  if (begin === null) return null
  RAW_END.lastIndex = RAW_BEGIN.lastIndex
  const end = RAW_END.exec(source)
  if (end === null) throw new SyntaxError('Missing end of raw directive')
  const [, beginSign, afterBegin] = begin
  const [, beforeEnd, endSign] = end
  const contentStart = RAW_BEGIN.lastIndex
  let content = source.slice(contentStart, end.index)
  if (afterBegin === '-') content = content.trimStart()
  if (beforeEnd === '-') content = content.trimEnd()
  else if (beforeEnd === '' && (content.includes('\n') || source[contentStart - 1] === '\n')) {
    // lstrip_blocks on {% endraw %}: the content's last line, when it is only whitespace.
    const lastLine = content.slice(content.lastIndexOf('\n') + 1)
    if (/^\s+$/.test(lastLine)) content = content.slice(0, content.length - lastLine.length)
  }
  // The comments carry the tags' effects on the text around them: `-` strips it, no sign lets lstrip_blocks and
  // trim_blocks act, `+` keeps it (no comment for the library to strip at).
  const opening = beginSign === '-' ? '{#- #}' : beginSign === '+' ? '' : '{# #}'
  const closing = endSign === '-' ? '{# -#}' : endSign === '+' ? '' : '{# #}'
  return {end: RAW_END.lastIndex, text: opening + `{{ ${stringLiteral(content)} }}` + closing}
}

const FLOAT = /(?:\d+_)*\d+(?:(?:\.(?:\d+_)*\d+)?e[+-]?(?:\d+_)*\d+|\.(?:\d+_)*\d+)/iy
const INTEGER = /0b(?:_?[01])+|0o(?:_?[0-7])+|0x(?:_?[\da-f])+|[1-9](?:_?\d)*|0(?:_?0)*/iy

/** A float written without an exponent (the library's lexer reads digits, a point, digits), exactly the same double. */
function plainFloat(value: number, literal: string): string {
  // jinja2 folds 1e400 to inf where it can and fails (NameError: inf) where it cannot: refused, never rendered differently.
  if (!Number.isFinite(value)) throw new SyntaxError(`the number literal ${literal} overflows a float, which pagedllm's template engine does not support`)
  // A literal has no sign: the value is never negative.
  const [digits, exponentText] = value.toExponential().split('e') as [string, string]
  const mantissa = digits.replace('.', '')
  const point = Number(exponentText) + 1 // where the point goes in the mantissa's digits
  if (point <= 0) return `0.${'0'.repeat(-point)}${mantissa}`
  if (point >= mantissa.length) return `${mantissa}${'0'.repeat(point - mantissa.length)}.0`
  return `${mantissa.slice(0, point)}.${mantissa.slice(point)}`
}

/** The number literal at `at` as jinja2's lexer reads it (a float first, then an int), in the library's terms; null where none starts. */
function numberLiteral(source: string, at: number): {end: number; text: string} | null {
  const before = source[at - 1] ?? ''
  if (/[\w.]/.test(before)) return null // part of a name, or an index after a dot (x.0)
  FLOAT.lastIndex = at
  const float = FLOAT.exec(source)
  if (float !== null) return {end: FLOAT.lastIndex, text: plainFloat(Number(float[0].replace(/_/g, '')), float[0])}
  INTEGER.lastIndex = at
  const integer = INTEGER.exec(source)
  if (integer === null) return null
  const digits = integer[0].replace(/_/g, '')
  const value = /^0[box]/i.test(digits) ? BigInt(digits.toLowerCase()) : BigInt(digits)
  // jinja2 reads 012 as two numbers, a syntax error; the library would read twelve.
  if (/\d/.test(source[INTEGER.lastIndex] ?? '')) throw new SyntaxError(`unexpected number after ${integer[0]}`)
  return {end: INTEGER.lastIndex, text: value.toString()}
}

/** Where a tag's body may need a look: a string, a brace, a number, the closing. */
const NOTABLE = /['"{}%0-9]/g
const STRING: Record<string, RegExp> = {"'": /'(?:[^'\\]|\\[\s\S])*'/y, '"': /"(?:[^"\\]|\\[\s\S])*"/y}

/** The tag body from `at` (past its {{ or {% and any sign) to its closing, its number literals rewritten; its strings copied. */
function tagBody(source: string, at: number, close: '}}' | '%}'): {end: number; text: string} {
  let text = ''
  let copied = at
  let braces = 0
  NOTABLE.lastIndex = at
  for (let found = NOTABLE.exec(source); found !== null; found = NOTABLE.exec(source)) {
    const cursor = found.index
    const char = found[0]
    if (braces === 0 && source.startsWith(close, cursor)) return {end: cursor, text: text + source.slice(copied, cursor)}
    if (char === "'" || char === '"') {
      const string = STRING[char]!
      string.lastIndex = cursor
      NOTABLE.lastIndex = string.test(source) ? string.lastIndex : source.length // unclosed: the library reports it
    } else if (char === '{') braces++
    else if (char === '}') braces = Math.max(0, braces - 1)
    else if (char !== '%') {
      const number = numberLiteral(source, cursor)
      if (number === null) continue
      text += source.slice(copied, cursor) + number.text
      copied = NOTABLE.lastIndex = number.end
    }
  }
  return {end: source.length, text: text + source.slice(copied)}
}

/**
 * The template with raw blocks, `+` signs and jinja2's number literals in forms @huggingface/jinja reads as jinja2
 * reads these. A template with none of them comes back unchanged.
 */
export function withJinja2Forms(template: string): string {
  // jinja2's lexer reads every line break (\r\n, \r, \n) as \n first: in text, tags, strings and raw blocks alike.
  const source = template.replace(/\r\n?/g, '\n')
  let out = ''
  let at = 0
  for (let open = source.indexOf('{', at); open >= 0 && open + 1 < source.length; open = source.indexOf('{', at)) {
    const kind = source[open + 1]
    if (kind !== '#' && kind !== '{' && kind !== '%') {
      out += source.slice(at, open + 1)
      at = open + 1
      continue
    }
    out += source.slice(at, open)
    const keepsLine = source[open + 2] === '+'
    // A `+` after the opening turns lstrip_blocks off for this tag: an empty output before it hides the line start.
    const opening = (keepsLine && kind !== '{' && atLineStart(source, open) ? NOTHING : '') + source.slice(open, open + 2)
    const raw = kind === '%' ? rawBlock(source, open) : null
    if (raw !== null) {
      out += raw.text
      at = raw.end
      continue
    }
    const bodyStart = open + (keepsLine ? 3 : 2)
    let end: number
    let body: string
    if (kind === '#') {
      const close = source.indexOf('#}', bodyStart)
      end = close < 0 ? source.length : close
      body = source.slice(bodyStart, end)
    } else ({end, text: body} = tagBody(source, bodyStart, kind === '{' ? '}}' : '%}'))
    // The library cannot parse one, and would say only that it expected the end of the tag.
    if (kind === '%' && /^[-\s]*for\b/.test(body) && /\brecursive[-+\s]*$/.test(body))
      throw new SyntaxError("a recursive for loop ({% for ... recursive %}), which pagedllm's template engine does not support")
    const closeMark = kind === '#' ? '#}' : kind === '{' ? '}}' : '%}'
    // A `+` before the closing turns trim_blocks off for this tag: an empty output after it keeps the line break.
    const keepsBreak = kind !== '{' && body.endsWith('+') && source.startsWith(closeMark, end)
    if (keepsBreak) body = body.slice(0, -1)
    const closed = source.startsWith(closeMark, end)
    out += opening + body + (closed ? closeMark : '') + (keepsBreak && source[end + 2] === '\n' ? NOTHING : '')
    at = closed ? end + 2 : end
  }
  return out + source.slice(at)
}
