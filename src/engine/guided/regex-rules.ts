// A regex as EBNF rules of a given name, by xgrammar's own regex converter (its EBNF has no regex syntax).
import {countedRunRules, MAX_UNROLLED_RUN, type RunBounds} from './counted-runs.js'
import {xgrammar} from './xgrammar.js'

/**
 * xgrammar's EBNF for `pattern`, its rules (root, root_1, root_repeat_1, ...) renamed to `name`, `name_1`, ... Long
 * counted runs (`[a-z]{300,400}`) are written as counted-runs.ts rules named `name_runN`: the converter's own form
 * for them made each mask cost tens of milliseconds at 50k tokens.
 */
export async function regexRules(pattern: string, name: string): Promise<string> {
  const unsupported = unsupportedRegex(pattern)
  if (unsupported !== null) throw new Error(unsupported)
  const {marked, runs} = markLongRuns(pattern)
  if (runs.length === 0) return convertRegex(pattern, name)
  const ebnf = await convertRegex(marked, name)
  // Each marker must have come out as string literals of its own (once, or once per repeat of a group around it);
  // else the pattern goes to the converter as written.
  if (runs.some((_, k) => !ebnf.includes(markerLiteral(k)))) return convertRegex(pattern, name)
  const rules = [runs.reduce((text, _, k) => text.replaceAll(markerLiteral(k), `${name}_run${k}`), ebnf).trim()]
  for (const [k, run] of runs.entries()) {
    rules.push((await regexRules(run.atom, `${name}_run${k}_atom`)).trim())
    rules.push(...countedRunRules(`${name}_run${k}`, `${name}_run${k}_atom`, run))
  }
  return `${rules.join('\n')}\n`
}

async function convertRegex(pattern: string, name: string): Promise<string> {
  // The web build converts a regex only inside a structural tag; its grammar prints as plain EBNF.
  const grammar = await xgrammar().Grammar.fromStructuralTag({type: 'structural_tag', format: {type: 'regex', pattern: emptyAlternativesLast(pattern)}})
  try {
    return renameRootRules(grammar.toString(), name)
  } finally {
    grammar.dispose()
  }
}

/** Markers are code points of Supplementary Private Use Area-A, which a pattern using none of them cannot mean. */
const MARKER_BASE = 0xf0000
const MARKER_RANGE = /[\u{F0000}-\u{FFFFF}]/u
/** How xgrammar prints marker `k` as an EBNF string. */
const markerLiteral = (k: number) => `"\\U${(MARKER_BASE + k).toString(16).padStart(8, '0')}"`

/** A quantifier `{m}`, `{m,}` or `{m,n}` (with its lazy `?`): elsewhere a `{` is a literal, as in Python. */
const REGEX_QUANTIFIER = /^\{(\d+)(?:(,)(\d*))?\}\??/

/**
 * The pattern with each long counted run of an atom (a class, an escape, a character or a group) replaced by a marker
 * character, and the runs in marker order.
 */
export function markLongRuns(pattern: string): {marked: string; runs: (RunBounds & {atom: string})[]} {
  const runs: (RunBounds & {atom: string})[] = []
  if (MARKER_RANGE.test(pattern)) return {marked: pattern, runs}
  const mark = (text: string): string => {
    let marked = ''
    for (let i = 0; i < text.length; ) {
      const end = atomEnd(text, i)
      if (end === null) {
        marked += text[i]
        i++
        continue
      }
      const atom = text.slice(i, end)
      const quantifier = REGEX_QUANTIFIER.exec(text.slice(end))
      const min = Number(quantifier?.[1])
      const max = quantifier?.[2] === undefined ? min : quantifier[3] === '' ? null : Number(quantifier[3])
      if (quantifier && (max === null || max >= min) && Math.max(min, max ?? 0) > MAX_UNROLLED_RUN) {
        marked += String.fromCodePoint(MARKER_BASE + runs.length)
        runs.push({atom, min, max})
        i = end + quantifier[0].length
      } else {
        // A group's inside may hold long runs of its own.
        const opener = atom.startsWith('(') ? /^\((\?(:|P?<[A-Za-z_]\w*>))?/.exec(atom)![0] : null
        marked += opener === null ? atom : `${opener}${mark(atom.slice(opener.length, -1))})`
        i = end
      }
    }
    return marked
  }
  return {marked: mark(pattern), runs}
}

/** The end of the atom starting at `i` (an escape, a class, a group other than a lookaround, a character), or null. */
function atomEnd(pattern: string, i: number): number | null {
  const char = pattern[i]!
  if (char === '\\') {
    const escape = /^\\(u\{[0-9A-Fa-f]+\}|u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|[\s\S])/u.exec(pattern.slice(i))
    return escape === null ? null : i + escape[0].length
  }
  if (char === '[') return classEnd(pattern, i) + 1
  if (char === '(') return /^\(\?(<?[=!])/.test(pattern.slice(i)) ? null : groupEnd(pattern, i)
  if ('^$|)*+?{'.includes(char)) return null
  return i + String.fromCodePoint(pattern.codePointAt(i)!).length
}

/** The index after the group opening at `start` (escapes and classes inside skipped). */
function groupEnd(pattern: string, start: number): number {
  let depth = 0
  for (let i = start; i < pattern.length; i++) {
    const char = pattern[i]!
    if (char === '\\') i++
    else if (char === '[') i = classEnd(pattern, i)
    else if (char === '(') depth++
    else if (char === ')' && --depth === 0) return i + 1
  }
  return pattern.length
}

/** Replaces the identifiers root and root_... outside quoted strings and character classes. */
export function renameRootRules(ebnf: string, name: string): string {
  let out = ''
  for (let i = 0; i < ebnf.length; ) {
    const char = ebnf[i]!
    if (char === '"' || char === '[') {
      const close = char === '"' ? '"' : ']'
      let end = i + 1
      while (end < ebnf.length && ebnf[end] !== close) end += ebnf[end] === '\\' ? 2 : 1
      out += ebnf.slice(i, end + 1)
      i = end + 1
    } else if (/[A-Za-z_]/.test(char)) {
      const word = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(ebnf.slice(i))![0]
      out += /^root(_[A-Za-z0-9_]+)?$/.test(word) ? name + word.slice(4) : word
      i += word.length
    } else {
      out += char
      i++
    }
  }
  return out
}

/** The regex with each `.` outside a class as `[^\n]`: Python's (and JavaScript's) meaning; xgrammar's `.` takes newlines. */
export function dotWithoutNewline(pattern: string): string {
  let out = ''
  let inClass = false
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!
    if (char === '\\') {
      out += char + (pattern[i + 1] ?? '')
      i++
    } else if (inClass) {
      if (char === ']') inClass = false
      out += char
    } else if (char === '[') {
      inClass = true
      out += char
      // A ']' first in a class is a literal.
      if (pattern[i + 1] === '^') out += pattern[++i]
      if (pattern[i + 1] === ']') out += pattern[++i]
    } else out += char === '.' ? '[^\\n]' : char
  }
  return out
}

/**
 * The regex with each group's empty alternatives as one, last (`(|a)` as `(a|)`, top-level `a|` as `(?:a|)`): the same
 * strings, in the only place xgrammar's converter takes an empty one (elsewhere it wrote EBNF its own parser refused).
 */
export function emptyAlternativesLast(pattern: string): string {
  let i = 0
  const alternation = (): {text: string; hadEmpty: boolean} => {
    const branches = ['']
    while (i < pattern.length && pattern[i] !== ')') {
      const char = pattern[i]!
      if (char === '\\') {
        branches[branches.length - 1] += pattern.slice(i, i + 2)
        i += 2
      } else if (char === '[') {
        const end = classEnd(pattern, i)
        branches[branches.length - 1] += pattern.slice(i, end + 1)
        i = end + 1
      } else if (char === '(') {
        const opener = /^\((\?(:|P?<[A-Za-z_]\w*>|[=!]|<[=!]))?/.exec(pattern.slice(i))![0]
        i += opener.length
        const inner = alternation().text
        branches[branches.length - 1] += `${opener}${inner}${pattern[i] ?? ''}`
        i++
      } else {
        if (char === '|') branches.push('')
        else branches[branches.length - 1] += char
        i++
      }
    }
    const kept = branches.filter((branch) => branch !== '')
    const hadEmpty = kept.length < branches.length && branches.length > 1
    return {text: hadEmpty ? [...kept, ''].join('|') : branches.join('|'), hadEmpty}
  }
  const {text, hadEmpty} = alternation()
  return hadEmpty ? `(?:${text})${pattern.slice(i)}` : text + pattern.slice(i)
}

/** The index of the `]` closing the class that opens at `start` (a `]` first in it, or after `^`, is a member). */
function classEnd(pattern: string, start: number): number {
  let end = start + 1
  if (pattern[end] === '^') end++
  if (pattern[end] === ']') end++
  while (end < pattern.length && pattern[end] !== ']') end += pattern[end] === '\\' ? 2 : 1
  return end
}

/** Why xgrammar cannot take the regex as written, for what its converter would misread without a word; or null. */
export function unsupportedRegex(pattern: string): string | null {
  if (/\\[pP]\{/.test(pattern.replace(/\\\\/g, ''))) return 'Unicode property escapes (\\p{...}) are not supported: list the characters as a class'
  const anchor = innerAnchor(pattern)
  if (anchor !== null) return `the anchor '${anchor}' has text beyond it, which nothing can match; xgrammar would drop it (a$b took "ab")`
  return null
}

/** A ^ after text or a $ before text (outside classes; a branch's or group's edge is fine), or null. */
function innerAnchor(pattern: string): string | null {
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!
    if (char === '\\') i++
    else if (char === '[') i = classEnd(pattern, i)
    else if (char === '^' && i > 0 && !/(\((\?:)?|\|)$/.test(pattern.slice(0, i))) return '^'
    else if (char === '$' && i < pattern.length - 1 && !/^[)|]/.test(pattern.slice(i + 1))) return '$'
  }
  return null
}

/** What JavaScript's u-mode RegExp lets a backslash escape besides letters and digits (its syntax characters and '/'). */
const JS_ESCAPABLE = new Set('^$\\.*+?()[]{}|/')

/**
 * A RegExp to check `pattern` with, read as Python (vLLM's clients) and xgrammar read it: a backslash before any other
 * character (`\ `, `\#`, `\:`, a newline: what Python's re.escape writes) is that character, where JavaScript's u mode
 * throws. Only the check reads this; xgrammar gets the pattern as written.
 */
export function regexForCheck(pattern: string): RegExp {
  let out = ''
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== '\\' || i + 1 >= pattern.length) {
      out += pattern[i]
      continue
    }
    const next = pattern.codePointAt(i + 1)!
    const char = String.fromCodePoint(next)
    out += /[A-Za-z0-9]/.test(char) || JS_ESCAPABLE.has(char) ? `\\${char}` : `\\u{${next.toString(16)}}`
    i += char.length
  }
  return new RegExp(out, 'u')
}
