// Python's unbounded ints in @huggingface/jinja's IntegerValue, whose value is a JavaScript number: an int past 2^53
// (a literal, 2**64, '123456789012345678901234567890'|int, range's bounds) keeps its exact value as a bigint in
// `exact`, beside the nearest double in `value`, so the library's own steps still see a number. Arithmetic, ==,
// ordering, str(), tojson, %d and the int / float filters read `exact`. Bounded as jinja2 is where it refuses (str()
// and int(text) past 4,300 digits, Python's int_max_str_digits) and past it where Python would only grow: an int of
// more than MAX_INT_BITS bits is refused, so `2 ** 2 ** 40` cannot exhaust memory or time.
import {ArrayValue, FloatValue, IntegerValue, pythonType, PRECOMPUTED, type Value, visitNodes} from './jinja-values.js'
import {SANDBOX_MAX_RANGE} from './template-budget.js'

/** The most bits one template int may have (10 ** 19,728): far past what str() can print (4,300 digits). */
export const MAX_INT_BITS = 65_536
/** Python's default sys.get_int_max_str_digits(): str(int) and int(text) refuse more digits (ValueError). */
export const MAX_STR_DIGITS = 4300
let strDigitsLimit: bigint | undefined

type BigIntegerValue = Value & {exact?: bigint}

/** The exact value of an int (or bool, an int in Python); null for any other value. */
export function exactInt(value: Value): bigint | null {
  if (value.type === 'BooleanValue') return value.value ? 1n : 0n
  if (value.type !== 'IntegerValue') return null
  return (value as BigIntegerValue).exact ?? BigInt(value.value as number)
}

/** Whether an int is past what a double holds exactly (2^53), where its number would mislead. */
export const isBigInt = (value: Value) => value.type === 'IntegerValue' && !Number.isSafeInteger(value.value)

/** The number of bits in |n|. */
function bitLength(n: bigint): number {
  if (n === 0n) return 0
  const hex = (n < 0n ? -n : n).toString(16)
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0]!, 16)))
}

/** Python's str(int): decimal digits, refused past MAX_STR_DIGITS as Python refuses them. */
export function intText(n: bigint): string {
  strDigitsLimit ??= 10n ** BigInt(MAX_STR_DIGITS)
  if ((n < 0n ? -n : n) >= strDigitsLimit) throw new Error(`ValueError: Exceeds the limit (${MAX_STR_DIGITS} digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit`)
  return n.toString()
}

/** An IntegerValue holding `n` exactly: a plain one where a double holds it, else one that carries the bigint. */
export function intValue(n: bigint | number): Value {
  if (typeof n === 'number') {
    if (Number.isSafeInteger(n)) return new IntegerValue(n)
    n = BigInt(n)
  }
  const approximate = Number(n)
  if (Number.isSafeInteger(approximate) && BigInt(approximate) === n) return new IntegerValue(approximate)
  if (bitLength(n) > MAX_INT_BITS) throw new RangeError(`the chat template made an int of more than ${MAX_INT_BITS} bits, which pagedllm's template engine does not support`)
  const exact = n
  return Object.assign(new IntegerValue(approximate), {exact, toString: () => intText(exact)})
}

/** Python's float(int): the nearest double (round half to even), OverflowError past the largest. */
export function intToFloat(n: bigint): number {
  const x = Number(n)
  if (!Number.isFinite(x)) throw new RangeError('OverflowError: int too large to convert to float')
  return x
}

const floorDivide = (a: bigint, b: bigint) => (a % b !== 0n && a < 0n !== b < 0n ? a / b - 1n : a / b)

/** Python's int / int: the exact quotient rounded once to a double. */
function trueDivide(a: bigint, b: bigint): number {
  const negative = a < 0n !== b < 0n
  const [x, y] = [a < 0n ? -a : a, b < 0n ? -b : b]
  // The quotient scaled to 66+ bits, its last bit set when inexact: Number() then rounds it as the exact quotient.
  const shift = 66 - (bitLength(x) - bitLength(y))
  const [numerator, denominator] = shift >= 0 ? [x << BigInt(shift), y] : [x, y << BigInt(-shift)]
  let quotient = numerator / denominator
  if (numerator % denominator !== 0n) quotient |= 1n
  // Scaled back by powers of two in two steps, so neither factor overflows on its own.
  const half = Math.trunc(shift / 2)
  const result = Number(quotient) * 2 ** -half * 2 ** -(shift - half)
  if (!Number.isFinite(result)) throw new RangeError('OverflowError: integer division result too large for a float')
  return negative ? -result : result
}

/** Python's int ** int for a non-negative exponent, refused where the result would pass MAX_INT_BITS. */
function power(base: bigint, exponent: bigint): bigint {
  if (base === 0n || base === 1n) return exponent === 0n ? 1n : base
  if (base === -1n) return exponent % 2n === 0n ? 1n : -1n
  // The fewest bits base ** exponent can have: past the limit it is refused before it is computed.
  if (BigInt(bitLength(base) - 1) * exponent + 1n > BigInt(MAX_INT_BITS)) throw new RangeError(`the chat template made an int of more than ${MAX_INT_BITS} bits, which pagedllm's template engine does not support`)
  return base ** exponent
}

/**
 * `left operator right` for two ints (bools as ints) as Python computes it, or null where the library's own step is
 * exact: both operands and the result within 2^53.
 */
export function intArithmetic(operator: string, left: Value, right: Value): Value | null {
  const [a, b] = [exactInt(left), exactInt(right)]
  if (a === null || b === null) return null
  const small = !isBigInt(left) && !isBigInt(right)
  if (small && (operator === '+' || operator === '-' || operator === '*')) {
    const [x, y] = [Number(a), Number(b)]
    const result = operator === '+' ? x + y : operator === '-' ? x - y : x * y
    // An int has no -0 (0 * -7 is 0): the library's step would keep the double's.
    if (Number.isSafeInteger(result)) return result === 0 ? new IntegerValue(0) : null
  }
  switch (operator) {
    case '+':
      return intValue(a + b)
    case '-':
      return intValue(a - b)
    case '*':
      if (bitLength(a) + bitLength(b) - 1 > MAX_INT_BITS) throw new RangeError(`the chat template made an int of more than ${MAX_INT_BITS} bits, which pagedllm's template engine does not support`)
      return intValue(a * b)
    case '//':
      // Small ints too: a double's floor(a / b) can round past the exact quotient.
      if (b === 0n) throw new Error('ZeroDivisionError: integer division or modulo by zero')
      return intValue(floorDivide(a, b))
    case '%': {
      if (b === 0n) throw new Error('ZeroDivisionError: integer modulo by zero')
      const remainder = a % b
      return intValue(remainder !== 0n && remainder < 0n !== b < 0n ? remainder + b : remainder)
    }
    case '/':
      if (b === 0n) throw new Error('ZeroDivisionError: division by zero')
      return small ? null : new FloatValue(trueDivide(a, b))
    case '**':
      if (b < 0n) {
        if (a === 0n) throw new Error('ZeroDivisionError: 0.0 cannot be raised to a negative power')
        return small ? null : new FloatValue(intToFloat(a) ** Number(b))
      }
      if (small && Number.isSafeInteger(Number(a) ** Number(b))) return null
      return intValue(power(a, b))
  }
  return null
}

/** Python's comparison of two numbers (ints, bools, floats) exactly, an int past 2^53 included: -1, 0, 1, or NaN (unordered). */
export function compareNumbers(left: Value, right: Value): number {
  if (!isBigInt(left) && !isBigInt(right)) return Math.sign(Number(left.value) - Number(right.value))
  const [a, b] = [exactInt(left), exactInt(right)]
  if (a !== null && b !== null) return a < b ? -1 : a > b ? 1 : 0
  // An int against a float: the float's exact value where it is finite and whole, else by the double.
  const [int, float, sign] = a !== null ? [a, right.value as number, 1] : [b!, left.value as number, -1]
  if (Number.isNaN(float)) return NaN
  if (!Number.isFinite(float)) return float > 0 ? -sign : sign
  const whole = BigInt(Math.trunc(float))
  const order = int < whole ? -1 : int > whole ? 1 : float === Math.trunc(float) ? 0 : float > 0 ? -1 : 1
  return order * sign
}

/** jinja2's sandboxed range(start, stop, step) as a list: ints only (bounds past 2^53 too), at most SANDBOX_MAX_RANGE items. */
export function pythonRange(args: Value[]): Value {
  if (args.length === 0 || args.length > 3) throw new TypeError(`range expected 1 to 3 arguments, got ${args.length}`)
  const bounds = args.map((arg) => {
    const exact = exactInt(arg)
    if (exact === null) throw new TypeError(`'${pythonType(arg)}' object cannot be interpreted as an integer`)
    return exact
  })
  const [start, stop, step] = bounds.length === 1 ? [0n, bounds[0]!, 1n] : [bounds[0]!, bounds[1]!, bounds[2] ?? 1n]
  if (step === 0n) throw new Error('ValueError: range() arg 3 must not be zero')
  const span = step > 0n ? stop - start : start - stop
  const magnitude = step > 0n ? step : -step
  const count = span <= 0n ? 0n : (span + magnitude - 1n) / magnitude
  if (count > BigInt(SANDBOX_MAX_RANGE))
    throw new RangeError(`range() of ${count} items is more than a chat template may make (OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (${SANDBOX_MAX_RANGE}).)`)
  return new ArrayValue(Array.from({length: Number(count)}, (_, i) => intValue(start + BigInt(i) * step)))
}

type Token = {value: string; type: string}
const BIG_LITERAL = '\u0000int:'

/** Integer literals past 2^53 as marked names, which the library's parser keeps as written (it reads numbers as doubles). */
export function markBigIntLiterals(tokens: Token[]): Token[] {
  return tokens.map((token) => {
    if (token.type !== 'NumericLiteral' || !/^-?\d+$/.test(token.value) || Number.isSafeInteger(Number(token.value))) return token
    // jinja2's lexer runs int() on the literal: past the digit limit that is a ValueError when the template compiles.
    if (token.value.replace('-', '').length > MAX_STR_DIGITS) throw new SyntaxError(`an integer literal of more than ${MAX_STR_DIGITS} digits (Python's int_max_str_digits)`)
    return {type: 'Identifier', value: BIG_LITERAL + token.value}
  })
}

/** Each marked name in the parsed template becomes the int it stands for. */
export function restoreBigIntLiterals(root: unknown): void {
  visitNodes(root, (node) => {
    if (node.type === 'Identifier' && typeof node.value === 'string' && node.value.startsWith(BIG_LITERAL)) {
      node.value = intValue(BigInt(node.value.slice(BIG_LITERAL.length)))
      node.type = PRECOMPUTED
    }
  })
}
