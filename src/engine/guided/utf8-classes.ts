// Rewrites EBNF character classes that name non-ASCII characters as UTF-8 byte sequences.
//
// xgrammar 0.1.27 (web build) matches a character class byte by byte: `[\xc0-\xff]` (a JSON-schema pattern
// `[\u00C0-\u00FF]`) takes one raw byte C0..FF, so the output is not UTF-8, and `[\u4e00-\u9fff]` never takes 中.
// Negated classes with non-ASCII members (`[^é]`) exclude a byte, not the character. A class of ASCII members only, or
// a negated one of them, is exact (a negated one takes any whole non-ASCII character), so only the others change: each
// becomes an alternation of its ASCII part and the byte-range sequences that spell exactly its non-ASCII characters.

export type Range = [number, number]

const MAX_CODE_POINT = 0x10ffff
const SURROGATES: Range = [0xd800, 0xdfff]

/** The EBNF with every character class that has a member at or above U+0080 spelled as UTF-8 byte sequences. */
export function rewriteNonAsciiClasses(ebnf: string): string {
  let out = ''
  for (let i = 0; i < ebnf.length; ) {
    const char = ebnf[i]!
    if (char === '"') {
      const end = closing(ebnf, i, '"')
      out += ebnf.slice(i, end + 1)
      i = end + 1
    } else if (char === '[') {
      const end = closing(ebnf, i, ']')
      out += classAsUtf8(ebnf.slice(i, end + 1))
      i = end + 1
    } else if (char === '#') {
      // A comment runs to the end of the line (quotes and brackets in it mean nothing).
      const end = ebnf.indexOf('\n', i)
      const stop = end < 0 ? ebnf.length : end
      out += ebnf.slice(i, stop)
      i = stop
    } else {
      out += char
      i++
    }
  }
  return out
}

export function closing(text: string, start: number, close: string): number {
  let end = start + 1
  while (end < text.length && text[end] !== close) end += text[end] === '\\' ? 2 : 1
  return end
}

/** One class `[...]` unchanged, or as `(ascii-class | bytes bytes ... | ...)` when it names non-ASCII characters. */
function classAsUtf8(text: string): string {
  const parsed = parseClass(text)
  if (parsed === null || parsed.ranges.every(([, hi]) => hi < 0x80)) return text
  const members = parsed.negated ? complement(parsed.ranges) : parsed.ranges
  // All of non-ASCII but some ASCII (`[^"\\]` written out): a negated ASCII class, which xgrammar matches exactly.
  const excluded = complement(members)
  if (excluded.length > 0 && excluded.every(([, hi]) => hi < 0x80)) return `[^${rangesText(excluded)}]`
  const alternatives: string[] = []
  const ascii = members.filter(([lo]) => lo < 0x80).map(([lo, hi]): Range => [lo, Math.min(hi, 0x7f)])
  if (ascii.length > 0) alternatives.push(`[${rangesText(ascii)}]`)
  for (const [lo, hi] of members) {
    if (hi < 0x80) continue
    for (const sequence of utf8Sequences(Math.max(lo, 0x80), hi)) alternatives.push(sequence.map(byteClass).join(' '))
  }
  // A class of no character ([^\s\S]) is refused: written as it is, xgrammar took any non-ASCII character ([^\s\S] wrote
  // '갪'), and its empty class [] is a dead end it does not prune (a|b[^\d\D] wrote "b", then had no token to go on).
  if (alternatives.length === 0) throw new Error(`the character class ${text} matches no character`)
  return `(${alternatives.join(' | ')})`
}

/** The code points an EBNF class `[...]` lists and whether it is negated, or null when it has an escape not read here. */
export function parseClass(text: string): {negated: boolean; ranges: Range[]} | null {
  const negated = text[1] === '^'
  const ranges = classRanges(text.slice(negated ? 2 : 1, -1))
  return ranges === null ? null : {negated, ranges}
}

export const rangesText = (ranges: Range[]) => ranges.map(([lo, hi]) => (lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`)).join('')

export const hex = (code: number) => (code > 0xffff ? `\\U${code.toString(16).padStart(8, '0')}` : code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`)

/** A class of one byte range. A single byte is written twice: xgrammar turns `[\xc3]` into the character U+00C3. */
function byteClass([lo, hi]: Range): string {
  return lo === hi ? `[${hex(lo)}${hex(lo)}]` : `[${hex(lo)}-${hex(hi)}]`
}

const SIMPLE_ESCAPES: Record<string, number> = {n: 10, r: 13, t: 9, f: 12, v: 11, b: 8, a: 7, e: 27, '0': 0}

/** The code-point ranges a class body lists (sorted, merged), or null when it uses an escape this reader does not know. */
function classRanges(body: string): Range[] | null {
  const ranges: Range[] = []
  for (let i = 0; i < body.length; ) {
    const first = readChar(body, i)
    if (first === null) return null
    i = first.next
    // A dash between two members makes a range; first or last it is itself.
    if (body[i] === '-' && i + 1 < body.length) {
      const last = readChar(body, i + 1)
      if (last === null) return null
      ranges.push([first.code, last.code])
      i = last.next
    } else ranges.push([first.code, first.code])
  }
  return merge(ranges)
}

export function readChar(body: string, i: number): {code: number; next: number} | null {
  if (body[i] !== '\\') {
    const code = body.codePointAt(i)!
    return {code, next: i + (code > 0xffff ? 2 : 1)}
  }
  const kind = body[i + 1]
  if (kind === undefined) return null
  const width = kind === 'x' ? 2 : kind === 'u' ? 4 : kind === 'U' ? 8 : 0
  if (width > 0) {
    const digits = body.slice(i + 2, i + 2 + width)
    return /^[0-9a-fA-F]+$/.test(digits) && digits.length === width ? {code: parseInt(digits, 16), next: i + 2 + width} : null
  }
  if (kind in SIMPLE_ESCAPES) return {code: SIMPLE_ESCAPES[kind]!, next: i + 2}
  return /[\\\]\[\-^"'/]/.test(kind) ? {code: kind.charCodeAt(0), next: i + 2} : null
}

function merge(ranges: Range[]): Range[] {
  const sorted = ranges.map(([lo, hi]): Range => [Math.min(lo, hi), Math.max(lo, hi)]).sort((a, b) => a[0] - b[0])
  const merged: Range[] = []
  for (const range of sorted) {
    const last = merged.at(-1)
    if (last && range[0] <= last[1] + 1) last[1] = Math.max(last[1], range[1])
    else merged.push([...range])
  }
  return merged
}

/** Every Unicode scalar value (surrogates excluded) not in the ranges. */
export function complement(ranges: Range[]): Range[] {
  const out: Range[] = []
  let next = 0
  for (const [lo, hi] of merge([...ranges, SURROGATES])) {
    if (lo > next) out.push([next, lo - 1])
    next = hi + 1
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT])
  return out
}

/** UTF-8 byte-range sequences that together spell exactly the code points lo..hi (lo >= 0x80; surrogates skipped). */
function utf8Sequences(lo: number, hi: number): Range[][] {
  const out: Range[][] = []
  const stack: Range[] = [[lo, hi]]
  while (stack.length > 0) {
    let [start, end] = stack.pop()!
    if (start > end) continue
    // Surrogates are no characters; a range across them splits around them.
    if (start <= SURROGATES[1] && end >= SURROGATES[0]) {
      stack.push([SURROGATES[1] + 1, end], [start, SURROGATES[0] - 1])
      continue
    }
    // One encoded length per piece: 2 bytes up to U+07FF, 3 up to U+FFFF, 4 above.
    const lengthEnd = [0x7ff, 0xffff].find((limit) => start <= limit && end > limit)
    if (lengthEnd !== undefined) {
      stack.push([lengthEnd + 1, end], [start, lengthEnd])
      continue
    }
    // Split until every byte below the first varies over its whole range, so each byte is an independent range.
    let split = false
    for (let bits = 6; bits < 21 && !split; bits += 6) {
      const low = (1 << bits) - 1
      if ((start & ~low) === (end & ~low)) continue
      if ((start & low) !== 0) {
        stack.push([(start | low) + 1, end], [start, start | low])
        split = true
      } else if ((end & low) !== low) {
        stack.push([end & ~low, end], [start, (end & ~low) - 1])
        split = true
      }
    }
    if (split) continue
    const a = encode(start)
    const b = encode(end)
    out.push(a.map((byte, k): Range => [byte, b[k]!]))
  }
  return out
}

function encode(code: number): number[] {
  return [...Buffer.from(String.fromCodePoint(code), 'utf8')]
}
