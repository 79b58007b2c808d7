// Python's textwrap.wrap as jinja2's wordwrap filter calls it (expand_tabs and replace_whitespace off, no indents):
// the text cut into chunks by textwrap's word-separator regex, then packed greedily into lines of `width` code points.

export interface WrapOptions {
  width: number
  breakLongWords: boolean
  breakOnHyphens: boolean
}

// textwrap's character classes: its whitespace is ASCII only; \w is Unicode (letters, numbers, underscore).
const WS = '[\\t\\n\\x0b\\x0c\\r ]'
const NOT_WS = '[^\\t\\n\\x0b\\x0c\\r ]'
const WORD = '[\\p{L}\\p{N}_]'
const WORD_PUNCT = `[\\p{L}\\p{N}_!"'&.,?]`
const LETTER = '(?:(?!\\p{Nd})[\\p{L}\\p{N}_])'
/** textwrap.TextWrapper.wordsep_re: whitespace, an em-dash between words, or a word ending at a hyphen, whitespace, the end or an em-dash. */
const WORD_SEPARATOR = new RegExp(
  `${WS}+|(?<=${WORD_PUNCT})-{2,}(?=${WORD})|${NOT_WS}+?(?:-(?:(?<=${LETTER}{2}-)|(?<=${LETTER}-${LETTER}-))(?=${LETTER}-?${LETTER})|(?=${WS}|$)|(?<=${WORD_PUNCT})(?=-{2,}${WORD}))`,
  'gu',
)
const SIMPLE_SEPARATOR = new RegExp(`${WS}+`, 'gu')
/** What Python's str.strip() removes (JavaScript's \s differs: it has U+FEFF and lacks \x1c-\x1f and \x85). */
const PYTHON_BLANK = /^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/

/** A chunk's code points (Python's len() and slices count them), read from `from` on; `lastSolid` is its last non-blank one. */
interface Chunk {
  chars: string[]
  from: number
  lastSolid: number
}

const PYTHON_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/
const lengthOf = (chunk: Chunk) => chunk.chars.length - chunk.from
/** Whether what is left of the chunk is only whitespace (Python's chunk.strip() == ''). */
const isBlank = (chunk: Chunk) => chunk.lastSolid < chunk.from
const textOf = (chunk: Chunk) => chunk.chars.slice(chunk.from).join('')

/** Python's re.split(pattern, text) with the pattern in one group, empty pieces dropped. */
function chunksOf(text: string, pattern: RegExp): Chunk[] {
  const pieces: string[] = []
  let at = 0
  for (const match of text.matchAll(pattern)) {
    pieces.push(text.slice(at, match.index), match[0])
    at = match.index + match[0].length
  }
  pieces.push(text.slice(at))
  return pieces
    .filter((piece) => piece !== '')
    .map((piece) => {
      const chars = [...piece]
      let lastSolid = chars.length - 1
      while (lastSolid >= 0 && PYTHON_SPACE.test(chars[lastSolid]!)) lastSolid--
      return {chars, from: 0, lastSolid}
    })
}

/** textwrap.wrap(text, width, break_long_words, break_on_hyphens) with jinja2's other settings: the lines, without their breaks. */
export function textWrap(text: string, {width, breakLongWords, breakOnHyphens}: WrapOptions): string[] {
  if (!(width > 0)) throw new Error(`ValueError: invalid width ${width} (must be > 0)`)
  const chunks = chunksOf(text, breakOnHyphens ? WORD_SEPARATOR : SIMPLE_SEPARATOR).reverse()
  const lines: string[] = []
  while (chunks.length > 0) {
    const line: string[] = []
    let length = 0
    // Whitespace at the start of any line but the first is dropped.
    if (isBlank(chunks.at(-1)!) && lines.length > 0) chunks.pop()
    while (chunks.length > 0 && length + lengthOf(chunks.at(-1)!) <= width) {
      const chunk = chunks.pop()!
      line.push(textOf(chunk))
      length += lengthOf(chunk)
    }
    let lastBlank = line.length > 0 && PYTHON_BLANK.test(line.at(-1)!)
    if (chunks.length > 0 && lengthOf(chunks.at(-1)!) > width) {
      // textwrap's _handle_long_word: cut the word to the space left (after its last hyphen, where it has one); the
      // rest stays on the stack as the same chunk read from further on, not a copy (a 1M-character word is one chunk).
      const spaceLeft = width < 1 ? 1 : width - length
      if (breakLongWords) {
        const chunk = chunks.at(-1)!
        let end = spaceLeft
        if (breakOnHyphens && lengthOf(chunk) > spaceLeft) {
          const head = chunk.chars.slice(chunk.from, chunk.from + spaceLeft)
          const hyphen = head.lastIndexOf('-')
          if (hyphen > 0 && head.slice(0, hyphen).some((char) => char !== '-')) end = hyphen + 1
        }
        const piece = chunk.chars.slice(chunk.from, chunk.from + end).join('')
        line.push(piece)
        lastBlank = PYTHON_BLANK.test(piece)
        chunk.from += end
      } else if (line.length === 0) {
        const whole = textOf(chunks.pop()!)
        line.push(whole)
        lastBlank = PYTHON_BLANK.test(whole)
      }
    }
    if (lastBlank) line.pop()
    if (line.length > 0) lines.push(line.join(''))
  }
  return lines
}
