// A template's string literals rewritten so @huggingface/jinja reads them as jinja2 does (Python's unicode-escape):
// a backslash-newline continues the line, \a \U \ooo are characters, and an unknown escape such as \d keeps its backslash.

/** The escapes the library reads itself; the rest are rewritten before it sees them. */
const LIBRARY_ESCAPES = new Set(['n', 't', 'r', 'b', 'f', 'v', "'", '"', '\\', 'x', 'u'])

/** `\xHH` for a character the library must not see raw (a quote or a backslash), the character itself otherwise. */
const literal = (char: string) => (char === "'" || char === '"' || char === '\\' ? '\\x' + char.charCodeAt(0).toString(16).padStart(2, '0') : char)

/** One string literal's body (between its quotes), its escapes in the library's terms. */
function rewriteBody(body: string): string {
  return body.replace(/\\(\r\n|U[0-9a-fA-F]{8}|[0-7]{1,3}|[\s\S])/g, (whole, escaped: string) => {
    if (escaped === '\n' || escaped === '\r\n' || escaped === '\r') return '' // Python's line continuation
    if (escaped.length > 1 && escaped[0] === 'U') return literal(String.fromCodePoint(parseInt(escaped.slice(1), 16)))
    if (/^[0-7]/.test(escaped)) return literal(String.fromCharCode(parseInt(escaped, 8)))
    if (LIBRARY_ESCAPES.has(escaped)) return whole
    if (escaped === 'a') return '\\x07'
    return '\\\\' + escaped // Python keeps an unknown escape as written
  })
}

/** Where the tag opening at `start` ends (past its close), walking its strings, which may hold '}}' or '%}'; its strings rewritten. */
function rewriteTag(source: string, start: number): {end: number; text: string} {
  const close = source.startsWith('{{', start) ? '}}' : '%}'
  let cursor = start + 2
  let text = source.slice(start, cursor)
  while (cursor < source.length && !source.startsWith(close, cursor)) {
    const char = source[cursor]!
    const string = char === "'" || char === '"' ? new RegExp(`${char}((?:[^${char}\\\\]|\\\\[\\s\\S])*)${char}`, 'y') : null
    if (string !== null) string.lastIndex = cursor
    const match = string?.exec(source) ?? null
    if (match === null) {
      text += char // not a string, or an unclosed one (the library reports it)
      cursor++
      continue
    }
    text += char + rewriteBody(match[1]!) + char
    cursor = string!.lastIndex
  }
  const end = Math.min(source.length, cursor + close.length)
  return {end, text: text + source.slice(cursor, end)}
}

/**
 * The template with every string literal inside {{ }} and {% %} rewritten (text and {# comments #} untouched). A
 * template without a backslash is returned as it is.
 */
export function withLibraryEscapes(source: string): string {
  if (!source.includes('\\')) return source
  let out = ''
  let at = 0
  for (let open = source.indexOf('{', at); open >= 0 && open + 1 < source.length; open = source.indexOf('{', at)) {
    const kind = source[open + 1]
    if (kind === '#') {
      const end = source.indexOf('#}', open + 2)
      out += source.slice(at, end < 0 ? source.length : end + 2)
      at = end < 0 ? source.length : end + 2
    } else if (kind === '{' || kind === '%') {
      const tag = rewriteTag(source, open)
      out += source.slice(at, open) + tag.text
      at = tag.end
    } else {
      out += source.slice(at, open + 1)
      at = open + 1
    }
  }
  return out + source.slice(at)
}
