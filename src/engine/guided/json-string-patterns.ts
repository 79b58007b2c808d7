// JSON-schema `pattern`s compiled as the content of a JSON string.
//
// xgrammar 0.1.27's schema converter puts a pattern's characters into the string as they are: a `.`, `\s` or negated
// class lets a raw `"`, `\` or newline in (`"a"b"` for `^a.b$`: no JSON at all). Each pattern is therefore swapped for
// a marker before conversion, and its rules (xgrammar's regex converter, `.` without newline as Python's) are written
// back with every such character as its JSON escape: the string's decoded value is what the pattern matched.
import type {JsonSchema} from './guided-spec.js'
import {dotWithoutNewline, regexRules} from './regex-rules.js'
import {closing, complement, hex, parseClass, rangesText, readChar, type Range} from './utf8-classes.js'

const MARKER = (index: number) => `__pagedllm_pattern_${index}__`
const RULE = (index: number) => `json_pattern_${index}`

/** Characters a JSON string cannot hold raw: controls, the quote, the backslash. */
const UNSAFE: Range[] = [[0x00, 0x1f], [0x22, 0x22], [0x5c, 0x5c]]
const SHORT_ESCAPES: Record<number, string> = {0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x09: '\\t', 0x0d: '\\r', 0x08: '\\b', 0x0c: '\\f'}

/** A copy of the schema with each string pattern replaced by a marker, and the JSON-safe rules each marker stands for. */
export async function extractPatterns(schema: unknown): Promise<{schema: unknown; rules: string[]}> {
  const rules: string[] = []
  const visit = async (node: unknown): Promise<unknown> => {
    if (Array.isArray(node)) return Promise.all(node.map(visit))
    if (typeof node !== 'object' || node === null) return node
    const fields = node as JsonSchema
    if (fields.type === 'string' && typeof fields.pattern === 'string' && ['format', 'enum', 'const'].every((key) => fields[key] === undefined)) {
      const index = rules.length
      rules.push('') // the index is taken before the await, so nested visits number on
      rules[index] = jsonSafeRules(await regexRules(dotWithoutNewline(fields.pattern), RULE(index)))
      return {const: MARKER(index)}
    }
    // enum and const values are data, not schemas.
    const entries = await Promise.all(Object.entries(fields).map(async ([key, value]) => [key, key === 'enum' || key === 'const' ? value : await visit(value)]))
    return Object.fromEntries(entries)
  }
  return {schema: await visit(schema), rules}
}

/** Puts each marker's rule, quoted, in place of its string literal in xgrammar's EBNF, and appends the rules. */
export function insertPatterns(ebnf: string, rules: readonly string[]): string {
  const replaced = rules.reduce((text, _, index) => text.split(`"\\"${MARKER(index)}\\""`).join(`("\\"" ${RULE(index)} "\\"")`), ebnf)
  return [replaced.trimEnd(), ...rules].join('\n')
}

/** The regex's rules with every character a JSON string cannot hold raw written as its escape. */
function jsonSafeRules(ebnf: string): string {
  let out = ''
  for (let i = 0; i < ebnf.length; ) {
    const char = ebnf[i]!
    if (char === '"' || char === '[') {
      const end = closing(ebnf, i, char === '"' ? '"' : ']')
      const text = ebnf.slice(i, end + 1)
      out += char === '"' ? safeLiteral(text) : safeClass(text)
      i = end + 1
    } else {
      out += char
      i++
    }
  }
  return out
}

const isUnsafe = (code: number) => UNSAFE.some(([lo, hi]) => code >= lo && code <= hi)
const jsonEscape = (code: number) => SHORT_ESCAPES[code] ?? `\\u${code.toString(16).padStart(4, '0')}`
/** Text as an EBNF string literal, every character outside printable ASCII (and `"`, `\`) escaped. */
const ebnfLiteral = (text: string) => `"${[...text].map((c) => (c === '"' || c === '\\' ? `\\${c}` : c >= ' ' && c <= '~' ? c : hex(c.codePointAt(0)!))).join('')}"`

function safeLiteral(text: string): string {
  const codes: number[] = []
  for (let i = 1; i < text.length - 1; ) {
    const read = readChar(text, i)
    if (read === null) return text
    codes.push(read.code)
    i = read.next
  }
  if (!codes.some(isUnsafe)) return text
  return ebnfLiteral(codes.map((code) => (isUnsafe(code) ? jsonEscape(code) : String.fromCodePoint(code))).join(''))
}

/** The class without unsafe characters, plus the escapes of the common ones it had (others are left out). */
function safeClass(text: string): string {
  const parsed = parseClass(text)
  if (parsed === null) return text
  const members = parsed.negated ? complement(parsed.ranges) : parsed.ranges
  const unsafe = Object.keys(SHORT_ESCAPES).map(Number).filter((code) => members.some(([lo, hi]) => code >= lo && code <= hi))
  if (!members.some(([lo, hi]) => UNSAFE.some(([ulo, uhi]) => lo <= uhi && hi >= ulo))) return text
  // The members minus the unsafe ranges, which all lie below U+0060.
  const safe = complement([...complement(members), ...UNSAFE])
  // Non-ASCII members stay a plain class here: rewriteNonAsciiClasses writes it in a form xgrammar matches exactly.
  const alternatives = safe.length > 0 ? [`[${rangesText(safe)}]`] : []
  alternatives.push(...unsafe.map((code) => ebnfLiteral(jsonEscape(code))))
  return `(${alternatives.join(' | ')})`
}
