// jinja2's int, float and round filters: the library refuses None, lists and dicts in int / float (jinja2 gives the
// default) and has no round at all (`{{ x | round }}` was a 400 on any number).
import {exactInt, intToFloat, intValue, isBigInt, MAX_STR_DIGITS} from './jinja-big-ints.js'
import {FloatValue, isNumber, pythonType, type Value} from './jinja-values.js'

/** Python's int(text, base) for the forms templates meet: whitespace, a sign, underscores between digits, 0x / 0o / 0b where the base allows. */
function parsePythonInt(text: string, base: number): bigint | null {
  const match = /^\s*([+-]?)(?:0([xob]))?((?:[0-9a-z]_?)*[0-9a-z])\s*$/i.exec(text)
  if (match === null) return null
  const [, sign, prefix, digits] = match
  const prefixBase = prefix === undefined ? base : {x: 16, o: 8, b: 2}[prefix.toLowerCase() as 'x' | 'o' | 'b']
  if (prefix !== undefined && base !== 0 && base !== prefixBase) return null
  const radix = base === 0 ? (prefixBase === 0 ? 10 : prefixBase) : base
  const plain = digits!.replace(/_/g, '')
  const digitValues = [...plain.toLowerCase()].map((char) => parseInt(char, 36))
  if (!digitValues.every((digit) => digit < radix)) return null
  // Python's int_max_str_digits: past it, a base that is not a power of two is a ValueError.
  if (digitValues.length > MAX_STR_DIGITS && (radix & (radix - 1)) !== 0) return null
  let value = 0n
  for (const digit of digitValues) value = value * BigInt(radix) + BigInt(digit)
  return sign === '-' ? -value : value
}

/** Python's float(text): decimal or exponent forms, inf / infinity / nan, surrounding whitespace. */
function parsePythonFloat(text: string): number | null {
  const trimmed = text.trim().replace(/(\d)_(?=\d)/g, '$1')
  if (/^[+-]?(inf|infinity)$/i.test(trimmed)) return trimmed.startsWith('-') ? -Infinity : Infinity
  if (/^[+-]?nan$/i.test(trimmed)) return NaN
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(trimmed) ? Number(trimmed) : null
}

/** A number from Python's float() of a value, or null where it raises TypeError / ValueError. */
/** Undefined's __int__ / __float__ raise UndefinedError, which the int and float filters do not catch. */
const undefinedNumber = () => new Error('UndefinedError: an undefined value cannot be converted to a number')

function floatOf(value: Value): number | null {
  if (value.type === 'UndefinedValue') throw undefinedNumber()
  if (isBigInt(value)) return intToFloat(exactInt(value)!)
  if (isNumber(value)) return Number(value.value)
  return value.type === 'StringValue' ? parsePythonFloat(value.value as string) : null
}

/** jinja2's do_int: int(value) (a string in `base`), else int(float(value)), else the default. */
export function intFilter(value: Value, fallback: Value | undefined, base: Value | undefined): Value {
  if (value.type === 'UndefinedValue') throw undefinedNumber()
  const direct = value.type === 'StringValue' ? parsePythonInt(value.value as string, Number(base?.value ?? 10)) : exactInt(value)
  if (direct !== null) return intValue(direct)
  // A string's int(float(text)) failing in any way (OverflowError for 'inf' too) gives the default; a float's int() failing is an error.
  const number = floatOf(value)
  if (number === null || Number.isNaN(number) || (value.type === 'StringValue' && !Number.isFinite(number))) return fallback ?? intValue(0)
  if (!Number.isFinite(number)) throw new RangeError('OverflowError: cannot convert float infinity to integer')
  return intValue(BigInt(Math.trunc(number)))
}

/** Python's float(value) where a filter needs one (filesizeformat): numbers, numeric strings; ValueError / TypeError otherwise. */
export function floatOfValue(value: Value): number {
  const number = floatOf(value)
  if (number !== null) return number
  throw value.type === 'StringValue' ? new Error(`ValueError: could not convert string to float: ${JSON.stringify(value.value)}`) : new TypeError(`float() argument must be a string or a real number, not '${pythonType(value)}'`)
}

/** jinja2's do_float: float(value), else the default (0.0). */
export function floatFilter(value: Value, fallback: Value | undefined): Value {
  const number = floatOf(value)
  return number === null ? (fallback ?? new FloatValue(0)) : new FloatValue(number)
}

/** Python's round(x, digits): the nearest, ties to even on the exact binary value (round(2.5) is 2, round(2.675, 2) 2.67). */
function pythonRound(x: number, digits: number): number {
  if (!Number.isFinite(x) || Math.abs(x) >= 1e21) return x
  if (digits < 0) {
    const scale = 10 ** -digits
    const [floor, rest] = [Math.floor(x / scale), x / scale - Math.floor(x / scale)]
    const rounded = (rest > 0.5 || (rest === 0.5 && floor % 2 !== 0) ? floor + 1 : floor) * scale
    return rounded === 0 && (x < 0 || Object.is(x, -0)) ? -0 : rounded // Python keeps the sign of a zero
  }
  // toFixed(100) is the exact decimal of the double (to 100 places): a tie only where every digit after the kept ones is 5 then 0s.
  const exact = Math.abs(x).toFixed(100)
  const cut = exact.indexOf('.') + 1 + Math.min(digits, 99)
  if (!/^50*$/.test(exact.slice(cut))) return Number(x.toFixed(Math.min(digits, 100)))
  const kept = exact.slice(0, cut).replace(/\.$/, '')
  const lastDigit = Number(kept.replace('.', '').at(-1))
  const down = Number(kept)
  const up = Number((down + 10 ** -digits).toFixed(digits))
  return Math.sign(x) * (lastDigit % 2 === 0 ? down : up) || (x < 0 ? -0 : 0)
}

/** Python's round(int, digits): the int itself, or rounded to 10^-digits, ties to the even multiple. */
function roundInt(n: bigint, digits: number): Value {
  if (digits >= 0) return intValue(n)
  // A template int has under 20,000 digits (MAX_INT_BITS): rounded to a larger power of ten it is 0.
  if (-digits > 20_000) return intValue(0)
  const scale = 10n ** BigInt(-digits)
  let quotient = n / scale
  if (n % scale !== 0n && n < 0n) quotient -= 1n
  const twice = 2n * (n - quotient * scale)
  if (twice > scale || (twice === scale && quotient % 2n !== 0n)) quotient += 1n
  return intValue(quotient * scale)
}

/** jinja2's do_round(value, precision=0, method='common'|'ceil'|'floor'): an int stays an int under 'common' (Python's round). */
export function roundFilter(value: Value, precision: Value | undefined, method: Value | undefined): Value {
  if (!isNumber(value)) throw new TypeError(`type ${pythonType(value)} doesn't define __round__ method`)
  if (precision !== undefined && precision.type !== 'IntegerValue' && precision.type !== 'BooleanValue') throw new TypeError(`'${pythonType(precision)}' object cannot be interpreted as an integer`)
  const digits = Number(precision?.value ?? 0)
  const how = String(method?.value ?? 'common')
  const x = Number(value.value)
  if (how === 'common' && value.type !== 'FloatValue') return roundInt(exactInt(value)!, digits)
  if (how === 'common') return new FloatValue(pythonRound(x, digits))
  if (how !== 'ceil' && how !== 'floor') throw new Error('method must be common, ceil or floor')
  const scale = 10 ** digits
  return new FloatValue((how === 'ceil' ? Math.ceil(x * scale) : Math.floor(x * scale)) / scale)
}
