// Counted repetitions (`x{m,n}`: a string's minLength/maxLength, a pattern's `[a-z]{300,400}`) written so that masks stay
// cheap. xgrammar checks its own `x{m,n}` token by token at run time, and its regex converter writes long ones with a
// lookahead as long as the run: at 50k tokens a mask inside `[^"]{0,400}` took over a second, and every request in the
// engine's step waited for it. A run written as plain rules (a sequence for the required part, a chain of optional
// steps for the rest) is what xgrammar's precomputed per-rule masks handle best; long runs go by blocks of blocks, so
// the rule count grows with the logarithm of the count, not the count.

/** Up to this count a run is written as one alternative per count (xgrammar's cache answers those directly). */
export const MAX_UNROLLED_RUN = 16
/**
 * Runs go by units of BLOCK^k atoms, so a run of n atoms takes about BLOCK x log_BLOCK(n) rules, not n. A larger block
 * means fewer paths for the parser to follow (masks inside `[^"]{0,400}` at 50k tokens: 0.5 ms with 64, 7-10 ms with
 * 8) but more rules to precompute (its compile: 4 s and 66 s for 10,000 with 64; 1.5-2 s whatever the count with 8).
 */
const BLOCK = 8
/**
 * The longest count written out (JSON Schema's lengths in practice: `maxLength: 2^31-1` is how schemas say "no real
 * limit"); rules grow with log n, so even this compiles in seconds. A longer run is refused at once.
 */
export const MAX_COUNTED_RUN = 2 ** 31 - 1

/** A counted run's bounds; max null: unbounded (`{m,}`). */
export interface RunBounds {
  min: number
  max: number | null
}

/**
 * The rules for `atom{min,max}` as rule `name` (plus helpers named `name_...`). `atom` is an EBNF element (a class, a
 * string, a rule name or a parenthesized group). A plain Error when the count is too large: the compile makes it a 400.
 */
export function countedRunRules(name: string, atom: string, {min, max}: RunBounds): string[] {
  const count = Math.max(min, max ?? 0)
  if (count > MAX_COUNTED_RUN) throw new Error(`a counted repetition of ${count} (a length, or {m,n} in a pattern) is above the ${MAX_COUNTED_RUN} that guided decoding supports`)
  const rules = new Map<string, string>([[name, '']])
  const largestUnit = (n: number) => {
    let size = 1
    while (size * BLOCK <= n) size *= BLOCK
    return size
  }
  // Exactly `size` atoms, `size` a power of BLOCK.
  const unit = (size: number): string => {
    if (size === 1) return atom
    const rule = `${name}_x${size}`
    if (!rules.has(rule)) rules.set(rule, Array(BLOCK).fill(unit(size / BLOCK)).join(' '))
    return rule
  }
  // Exactly n atoms: a sequence of units, the largest first.
  const exactly = (n: number): string[] => {
    const parts: string[] = []
    for (let size = largestUnit(n); n > 0; size /= BLOCK) {
      const times = Math.floor(n / size)
      parts.push(...Array<string>(times).fill(unit(size)))
      n -= times * size
    }
    return parts
  }
  // 0 to n atoms (n > 0): fewer than the largest unit, or that unit and up to n - unit more. The lengths of the two
  // alternatives do not overlap, so the parser follows only as many paths as there are unit sizes.
  const upTo = (n: number): string => {
    const rule = `${name}_upto${n}`
    if (rules.has(rule)) return rule
    rules.set(rule, '')
    const size = largestUnit(n)
    const rest = n - size > 0 ? ` ${upTo(n - size)}` : ''
    rules.set(rule, size === 1 ? `"" | ${atom}${rest}` : `${upTo(size - 1)} | ${unit(size)}${rest}`)
    return rule
  }
  let rest: string[] = []
  if (max === null) {
    rest = [`${name}_more`]
    rules.set(rest[0]!, `"" | ${atom} ${rest[0]}`)
  } else if (max > min) rest = [upTo(max - min)]
  const body = [...exactly(min), ...rest]
  rules.set(name, body.length === 0 ? '""' : body.join(' '))
  return [...rules].map(([rule, definition]) => `${rule} ::= ${definition}`)
}

/** An atom's count written as alternatives, one per count (short runs only). */
function unrolledRun(atom: string, min: number, max: number): string {
  const counts = Array.from({length: max - min + 1}, (_, i) => min + i)
  return `(${counts.map((count) => (count === 0 ? '""' : Array(count).fill(atom).join(' '))).join(' | ')})`
}

const QUANTIFIER = /^\{\s*(\d+)\s*(?:(,)\s*(\d*)\s*)?\}/

/**
 * The EBNF with each counted run of a class or a string (outside strings, classes and comments) written out: short
 * ones unrolled, longer ones as rules of a name the grammar does not use yet, appended to it.
 */
export function writeOutCountedRuns(ebnf: string): string {
  let prefix = 'counted_run'
  while (ebnf.includes(prefix)) prefix += '_'
  const added: string[] = []
  let runs = 0
  const rewrite = (text: string): string => {
    let out = ''
    for (let i = 0; i < text.length; ) {
      const char = text[i]!
      let end: number
      if (char === '"' || char === '[') end = closing(text, i)
      else if (char === '(') end = groupEnd(text, i)
      else if (/[A-Za-z_]/.test(char)) end = i + /^[A-Za-z_][A-Za-z0-9_-]*/.exec(text.slice(i))![0].length
      else {
        // A comment runs to the end of its line.
        end = char === '#' ? (text.indexOf('\n', i) + 1 || text.length) : i + 1
        out += text.slice(i, end)
        i = end
        continue
      }
      // A group's inside may hold runs of its own; a group's or a rule's own repetition stays xgrammar's (their masks
      // were never the problem: a repeated array item or rule is no single character long).
      const atom = char === '(' ? `(${rewrite(text.slice(i + 1, end - 1))})` : text.slice(i, end)
      const quantifier = char === '"' || char === '[' ? QUANTIFIER.exec(text.slice(end)) : null
      i = end + (quantifier?.[0].length ?? 0)
      if (!quantifier) {
        out += atom
        continue
      }
      const min = Number(quantifier[1])
      const max = quantifier[2] === undefined ? min : quantifier[3] === '' ? null : Number(quantifier[3])
      if (max !== null && max < min) throw new Error(`the repetition {${min},${max}} has its bounds the wrong way round`)
      if (max !== null && max <= MAX_UNROLLED_RUN) out += unrolledRun(atom, min, max)
      else {
        const name = `${prefix}_${runs++}`
        added.push(...countedRunRules(name, atom, {min, max}))
        out += name
      }
    }
    return out
  }
  const out = rewrite(ebnf)
  return added.length === 0 ? out : `${out.replace(/\n*$/, '')}\n${added.join('\n')}\n`
}

/** The index after the string or class that opens at `start`. */
function closing(text: string, start: number): number {
  const close = text[start] === '"' ? '"' : ']'
  let end = start + 1
  while (end < text.length && text[end] !== close) end += text[end] === '\\' ? 2 : 1
  return end + 1
}

/** The index after the group that opens at `start` (strings and classes inside skipped). */
function groupEnd(text: string, start: number): number {
  let depth = 0
  for (let i = start; i < text.length; ) {
    const char = text[i]!
    if (char === '"' || char === '[') {
      i = closing(text, i)
      continue
    }
    if (char === '(') depth++
    else if (char === ')' && --depth === 0) return i + 1
    i++
  }
  return text.length
}
