// Bounded JSON numbers, which xgrammar 0.1.27 leaves unbounded: each {type: "number"} subschema with a bound is swapped
// for a marker constant before conversion, and the marker's literal in the EBNF for a grammar of exactly the decimals
// in range (no exponent). Bounds may be fractional and exclusive; integer subschemas get their bounds as inclusive
// integers, the form xgrammar enforces.
import {InvalidRequestError} from '../errors.js'
import type {JsonSchema} from './guided-spec.js'

const MARKER = (index: number) => `__pagedllm_number_${index}__`

/** A range of numbers; undefined = unbounded on that side. */
export interface NumberBounds {
  min?: number
  exclusiveMin?: boolean
  max?: number
  exclusiveMax?: boolean
}

/** A copy of the schema with bounded numbers replaced by markers, and the EBNF each marker stands for. */
export function extractBoundedNumbers(schema: JsonSchema, param: string): {schema: JsonSchema; grammars: string[]} {
  const grammars: string[] = []
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit)
    if (typeof node !== 'object' || node === null) return node
    const fields = node as JsonSchema
    const bounds = boundsOf(fields)
    if (bounds && fields.type === 'number' && fields.enum === undefined && fields.const === undefined) {
      const grammar = numberRangeGrammar(bounds)
      if (grammar === null) throw new InvalidRequestError(`'${param}': no number satisfies the bounds ${describe(bounds)}`, {param})
      grammars.push(grammar)
      return {const: MARKER(grammars.length - 1)}
    }
    // enum and const values are data, not schemas.
    const copy = Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, key === 'enum' || key === 'const' ? value : visit(value)]))
    return bounds && fields.type === 'integer' ? withIntegerBounds(copy, bounds, param) : copy
  }
  return {schema: visit(schema) as JsonSchema, grammars}
}

/** Puts each marker's grammar in place of its string literal in xgrammar's EBNF. */
export function insertNumberGrammars(ebnf: string, grammars: readonly string[]): string {
  return grammars.reduce((text, grammar, index) => text.split(`"\\"${MARKER(index)}\\""`).join(`(${grammar})`), ebnf)
}

/** The bounds of a subschema (draft 2020 numeric exclusive bounds, or draft 4 booleans beside minimum/maximum). */
function boundsOf(fields: JsonSchema): NumberBounds | null {
  const bounds: NumberBounds = {}
  const {minimum, maximum, exclusiveMinimum, exclusiveMaximum} = fields
  if (typeof minimum === 'number') bounds.min = minimum
  if (typeof maximum === 'number') bounds.max = maximum
  if (exclusiveMinimum === true) bounds.exclusiveMin = bounds.min !== undefined
  if (exclusiveMaximum === true) bounds.exclusiveMax = bounds.max !== undefined
  // Both forms given: the tighter bound wins.
  if (typeof exclusiveMinimum === 'number' && (bounds.min === undefined || exclusiveMinimum >= bounds.min)) Object.assign(bounds, {min: exclusiveMinimum, exclusiveMin: true})
  if (typeof exclusiveMaximum === 'number' && (bounds.max === undefined || exclusiveMaximum <= bounds.max)) Object.assign(bounds, {max: exclusiveMaximum, exclusiveMax: true})
  return bounds.min === undefined && bounds.max === undefined ? null : bounds
}

/** An integer subschema with its bounds as the inclusive integer minimum/maximum they allow. */
function withIntegerBounds(fields: JsonSchema, {min, exclusiveMin, max, exclusiveMax}: NumberBounds, param: string): JsonSchema {
  const {minimum: _min, maximum: _max, exclusiveMinimum: _emin, exclusiveMaximum: _emax, ...rest} = fields
  const low = min === undefined ? undefined : exclusiveMin ? Math.floor(min) + 1 : Math.ceil(min)
  const high = max === undefined ? undefined : exclusiveMax ? Math.ceil(max) - 1 : Math.floor(max)
  if (low !== undefined && high !== undefined && low > high)
    throw new InvalidRequestError(`'${param}': no integer satisfies the bounds ${describe({min, exclusiveMin, max, exclusiveMax})}`, {param})
  return {...rest, ...(low === undefined ? {} : {minimum: low}), ...(high === undefined ? {} : {maximum: high})}
}

function describe({min, exclusiveMin, max, exclusiveMax}: NumberBounds): string {
  return `${min === undefined ? '(-inf' : `${exclusiveMin ? '(' : '['}${min}`}, ${max === undefined ? 'inf)' : `${max}${exclusiveMax ? ')' : ']'}`}`
}

/**
 * EBNF of the decimals x ("-"? integer part, optional fraction; no exponent) within the bounds, or null if none is.
 * The non-negative and negative sides are magnitude ranges; "-0" is left out (0 is written "0").
 */
export function numberRangeGrammar({min, exclusiveMin = false, max, exclusiveMax = false}: NumberBounds): string | null {
  const alternatives: string[] = []
  if (max === undefined || max > 0 || (max === 0 && !exclusiveMax)) {
    const low = min !== undefined && min >= 0 ? decimal(min) : decimal(0)
    alternatives.push(...magnitudes(low, min !== undefined && min >= 0 && exclusiveMin, max === undefined ? null : decimal(max), exclusiveMax))
  }
  if (min === undefined || min < 0) {
    // -v within the bounds: -max <= v <= -min, and v > 0.
    const low = max !== undefined && max < 0 ? decimal(-max) : decimal(0)
    const lowStrict = max !== undefined && max < 0 ? exclusiveMax : true
    alternatives.push(...magnitudes(low, lowStrict, min === undefined ? null : decimal(-min), exclusiveMin).map((text) => `"-" ${text}`))
  }
  return alternatives.length === 0 ? null : alternatives.map((alternative) => `(${alternative})`).join(' | ')
}

/** A non-negative decimal bound as its integer part and its fraction digits (no trailing zeros). */
interface Decimal {
  whole: number
  fraction: string
}

/** The exact decimal a JSON number literal denotes (its shortest round-trip form, exponent expanded). */
export function decimal(value: number): Decimal {
  const [mantissa, exponentText] = String(Math.abs(value)).split('e')
  const [intDigits, fracDigits = ''] = mantissa!.split('.')
  const exponent = Number(exponentText ?? 0)
  let digits = intDigits! + fracDigits
  let point = intDigits!.length + exponent
  if (point < 0) (digits = '0'.repeat(-point) + digits), (point = 0)
  if (point > digits.length) digits += '0'.repeat(point - digits.length)
  return {whole: Number(digits.slice(0, point) || '0'), fraction: digits.slice(point).replace(/0+$/, '')}
}

/** Sequences for the magnitudes v ("k" or "k.ddd") with low <= v <= high (strict: <), high null = unbounded. */
function magnitudes(low: Decimal, lowStrict: boolean, high: Decimal | null, highStrict: boolean): string[] {
  const out: string[] = []
  const order = high === null ? -1 : compareDecimals(low, high)
  if (order > 0 || (order === 0 && (lowStrict || highStrict))) return out
  const anyFraction = '"." [0-9]+'
  // Whole numbers k.
  const kLow = low.fraction === '' && !lowStrict ? low.whole : low.whole + 1
  const kHigh = high === null ? Infinity : high.fraction === '' && highStrict ? high.whole - 1 : high.whole
  if (kLow <= kHigh) out.push(...intRange(kLow, kHigh))
  // Numbers with a fraction, by integer part: low's, those strictly between, high's.
  if (high !== null && high.whole === low.whole) {
    const fraction = between(low.fraction, lowStrict, high.fraction, highStrict, false)
    if (fraction !== null) out.push(`"${low.whole}" "." (${fraction})`)
    return out
  }
  out.push(`${literal(low.whole)} "." (${atLeast(low.fraction, lowStrict, false)})`)
  const middleHigh = high === null ? Infinity : high.whole - 1
  if (low.whole + 1 <= middleHigh) out.push(...intRange(low.whole + 1, middleHigh).map((digits) => `${digits} ${anyFraction}`))
  const last = high === null ? null : atMost(high.fraction, highStrict, false)
  if (high !== null && last !== null) out.push(`${literal(high.whole)} "." (${last})`)
  return out
}

/** Fractions without trailing zeros compare as digit strings. */
function compareDecimals(a: Decimal, b: Decimal): number {
  if (a.whole !== b.whole) return a.whole - b.whole
  return a.fraction === b.fraction ? 0 : a.fraction < b.fraction ? -1 : 1
}

const literal = (whole: number) => `"${whole}"`
const digitClass = (from: number, to: number) => (from === to ? `"${from}"` : `[${from}-${to}]`)

// Fraction digit strings t (non-empty unless `mayBeEmpty`, where they continue a prefix) compared as 0.t with 0.f.

/** 0.t >= 0.f (> when strict). */
function atLeast(f: string, strict: boolean, mayBeEmpty: boolean): string {
  if (f === '') return strict ? '"0"* [1-9] [0-9]*' : mayBeEmpty ? '[0-9]*' : '[0-9]+'
  const d = Number(f[0])
  const alternatives = [`"${d}" (${atLeast(f.slice(1), strict, true)})`]
  if (d < 9) alternatives.push(`${digitClass(d + 1, 9)} [0-9]*`)
  return alternatives.join(' | ')
}

/** 0.t <= 0.f (< when strict); null when no t is. */
function atMost(f: string, strict: boolean, mayBeEmpty: boolean): string | null {
  if (f === '') return strict ? null : mayBeEmpty ? '"0"*' : '"0"+'
  const d = Number(f[0])
  const alternatives: string[] = []
  if (d > 0) alternatives.push(`${digitClass(0, d - 1)} [0-9]*`)
  const rest = atMost(f.slice(1), strict, true)
  if (rest !== null) alternatives.push(`"${d}" (${rest})`)
  if (mayBeEmpty) alternatives.push('""') // 0 < 0.f: f has a non-zero digit
  return alternatives.length === 0 ? null : alternatives.join(' | ')
}

/** 0.lo <= 0.t <= 0.hi (each side strict or not), given 0.lo <= 0.hi; null when no t is. */
function between(lo: string, loStrict: boolean, hi: string, hiStrict: boolean, mayBeEmpty: boolean): string | null {
  const zeroFits = lo === '' && !loStrict && (hi !== '' || !hiStrict)
  if (hi === '') return zeroFits ? (mayBeEmpty ? '"0"*' : '"0"+') : null
  const a = Number(lo[0] ?? 0)
  const b = Number(hi[0])
  const alternatives: string[] = []
  if (a === b) {
    const rest = between(lo.slice(1), loStrict, hi.slice(1), hiStrict, true)
    if (rest !== null) alternatives.push(`"${a}" (${rest})`)
  } else {
    alternatives.push(`"${a}" (${atLeast(lo.slice(1), loStrict, true)})`)
    if (a + 1 <= b - 1) alternatives.push(`${digitClass(a + 1, b - 1)} [0-9]*`)
    const rest = atMost(hi.slice(1), hiStrict, true)
    if (rest !== null) alternatives.push(`"${b}" (${rest})`)
  }
  if (mayBeEmpty && zeroFits) alternatives.push('""')
  return alternatives.length === 0 ? null : alternatives.join(' | ')
}

/** EBNF sequences for the non-negative integers in [from, to] (to may be Infinity), without leading zeros. */
export function intRange(from: number, to: number): string[] {
  const sequences: string[] = []
  for (let length = String(from).length; ; length++) {
    const bandLow = Math.max(from, length === 1 ? 0 : 10 ** (length - 1))
    const bandHigh = 10 ** length - 1
    if (to === Infinity && bandLow === 10 ** (length - 1) && length > 1) {
      sequences.push(`[1-9] [0-9]{${length - 1},}`) // every longer number too
      break
    }
    sequences.push(...sameLength(String(bandLow), String(Math.min(bandHigh, to))))
    if (to <= bandHigh) break
  }
  return sequences
}

function sameLength(x: string, y: string): string[] {
  if (x.length === 1) return [x === y ? `"${x}"` : `[${x}-${y}]`]
  const rest = x.length - 1
  const any = `[0-9]{${rest}}`
  // Every string of this length: one sequence. Split by first digit instead, 00..0-99..9 recurses twice per digit
  // (2^15 sequences for 15 digits: a bound of 1e15 took xgrammar past its minute).
  if (/^0+$/.test(x) && /^9+$/.test(y)) return [`[0-9]{${x.length}}`]
  if (x[0] === y[0]) return sameLength(x.slice(1), y.slice(1)).map((tail) => `"${x[0]}" ${tail}`)
  const out = sameLength(x.slice(1), '9'.repeat(rest)).map((tail) => `"${x[0]}" ${tail}`)
  const first = Number(x[0]) + 1
  const last = Number(y[0]) - 1
  if (first <= last) out.push(`${first === last ? `"${first}"` : `[${first}-${last}]`} ${any}`)
  out.push(...sameLength('0'.repeat(rest), y.slice(1)).map((tail) => `"${y[0]}" ${tail}`))
  return out
}
