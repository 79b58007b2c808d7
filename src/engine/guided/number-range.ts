// Bounded JSON numbers, which xgrammar 0.1.27 leaves unbounded: each {type: "number", minimum/maximum} subschema is
// swapped for a marker constant before conversion, and the marker's literal in the EBNF for a grammar of exactly the
// decimals in range (no exponent; integer-valued inclusive bounds only, which checkJsonSchema enforces).
import type {JsonSchema} from './guided-spec.js'

const MARKER = (index: number) => `__pagedllm_number_${index}__`

/** A copy of the schema with bounded numbers replaced by markers, and the EBNF each marker stands for. */
export function extractBoundedNumbers(schema: JsonSchema): {schema: JsonSchema; grammars: string[]} {
  const grammars: string[] = []
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit)
    if (typeof node !== 'object' || node === null) return node
    const fields = node as JsonSchema
    if (isBoundedNumber(fields)) {
      grammars.push(numberRangeGrammar(bound(fields.minimum), bound(fields.maximum)))
      return {const: MARKER(grammars.length - 1)}
    }
    // enum and const values are data, not schemas.
    return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, key === 'enum' || key === 'const' ? value : visit(value)]))
  }
  return {schema: visit(schema) as JsonSchema, grammars}
}

/** Puts each marker's grammar in place of its string literal in xgrammar's EBNF. */
export function insertNumberGrammars(ebnf: string, grammars: readonly string[]): string {
  return grammars.reduce((text, grammar, index) => text.split(`"\\"${MARKER(index)}\\""`).join(`(${grammar})`), ebnf)
}

export function isBoundedNumber(fields: JsonSchema): boolean {
  return fields.type === 'number' && (fields.minimum !== undefined || fields.maximum !== undefined) && fields.enum === undefined && fields.const === undefined
}

function bound(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined
}

/**
 * Decimals x with lo <= x <= hi (integers; undefined = unbounded). "k" and "k.ddd" (k >= 0) cover [k, k + 1);
 * "-m" and "-m.ddd" cover (-(m + 1), -m]; a fraction is left out where it could pass the bound.
 */
export function numberRangeGrammar(lo: number | undefined, hi: number | undefined): string {
  const low = lo ?? -Infinity
  const high = hi ?? Infinity
  const fraction = '"." [0-9]+'
  const alternatives: string[] = []
  const positive = (from: number, to: number, suffix: string) => {
    if (from <= to) alternatives.push(...intRange(from, to).map((digits) => `${digits}${suffix}`))
  }
  positive(Math.max(low, 0), high, '')
  positive(Math.max(low, 0), high - 1, ` ${fraction}`)
  const negative = (from: number, to: number, suffix: string) => {
    if (from <= to) alternatives.push(...intRange(from, to).map((digits) => `"-" ${digits}${suffix}`))
  }
  negative(Math.max(-high, 1), -low, '')
  negative(Math.max(-high, 0), -low - 1, ` ${fraction}`)
  return alternatives.map((alternative) => `(${alternative})`).join(' | ')
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
  if (x[0] === y[0]) return sameLength(x.slice(1), y.slice(1)).map((tail) => `"${x[0]}" ${tail}`)
  const out = sameLength(x.slice(1), '9'.repeat(rest)).map((tail) => `"${x[0]}" ${tail}`)
  const first = Number(x[0]) + 1
  const last = Number(y[0]) - 1
  if (first <= last) out.push(`${first === last ? `"${first}"` : `[${first}-${last}]`} ${any}`)
  out.push(...sameLength('0'.repeat(rest), y.slice(1)).map((tail) => `"${y[0]}" ${tail}`))
  return out
}
