// Python's printf-style `format % values`, as jinja2's |format filter runs it ("%s" | format(x), "%(name)s" | format(name=x)).
import {exactInt, intText} from './jinja-big-ints.js'
import {pythonExponent, pythonFixed, pythonGeneral} from './python-float-format.js'
import {isNumber, pythonStr, type Value} from './jinja-values.js'
import {MAX_TEMPLATE_STRING} from './template-budget.js'

const SPEC = /%(?:\(([^)]*)\))?([-+ 0#]*)(\d+|\*)?(?:\.(\d+))?([diouxXeEfFgGcrsa%])/g

/** One conversion of a number, with Python's flags (sign, zero padding) and precision. */
function formatNumber(value: Value, conversion: string, flags: string, precision: number | undefined): string {
  if (!isNumber(value)) throw new TypeError(`%${conversion} format: a real number is required, not ${value.type}`)
  const number = Number(value.value)
  // The integer conversions of an int are exact, one past 2^53 included (jinja-big-ints.ts); a float's is truncated.
  const integer = () => {
    if (!Number.isFinite(number) && exactInt(value) === null) throw new Error(Number.isNaN(number) ? 'ValueError: cannot convert float NaN to integer' : 'OverflowError: cannot convert float infinity to integer')
    const exact = exactInt(value) ?? BigInt(Math.trunc(number))
    return exact < 0n ? -exact : exact
  }
  let body: string
  switch (conversion) {
    case 'd':
    case 'i':
    case 'u':
      // A precision is a minimum count of digits ('%.3d' % 5 is '005').
      body = intText(integer()).padStart(precision ?? 0, '0')
      break
    case 'x':
    case 'X':
      if (value.type === 'FloatValue') throw new TypeError(`%${conversion} format: an integer is required, not float`)
      body = integer().toString(16)
      if (conversion === 'X') body = body.toUpperCase()
      break
    case 'o':
      if (value.type === 'FloatValue') throw new TypeError('%o format: an integer is required, not float')
      body = integer().toString(8)
      break
    case 'e':
    case 'E':
      body = pythonExponent(Math.abs(number), precision ?? 6)
      if (conversion === 'E') body = body.toUpperCase()
      break
    case 'g':
    case 'G':
      body = pythonGeneral(Math.abs(number), precision ?? 6)
      if (conversion === 'G') body = body.toUpperCase()
      break
    default:
      body = pythonFixed(Math.abs(number), precision ?? 6)
  }
  const sign = number < 0 || Object.is(number, -0) ? '-' : flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : ''
  return sign + body
}

/**
 * `format % values`: `values` is the positional list (Python's tuple) or, for %(name)s fields, the keyword map.
 * Too few or too many values is Python's TypeError, not a silent guess.
 */
export function pythonPercentFormat(format: string, values: Value[] | Map<string, Value>): string {
  let next = 0
  const out = format.replace(SPEC, (_whole, key: string | undefined, flags: string, widthText: string | undefined, precisionText: string | undefined, conversion: string) => {
    if (conversion === '%') return '%'
    let value: Value | undefined
    if (key !== undefined) {
      if (Array.isArray(values)) throw new TypeError('format requires a mapping')
      value = values.get(key)
      if (value === undefined) throw new Error(`KeyError: '${key}'`)
    } else {
      if (!Array.isArray(values)) throw new TypeError('not enough arguments for format string')
      value = values[next++]
      if (value === undefined) throw new TypeError('not enough arguments for format string')
    }
    const precision = precisionText === undefined ? undefined : Number(precisionText)
    let body: string
    if (conversion === 's') body = precision === undefined ? pythonStr(value) : pythonStr(value).slice(0, precision)
    else if (conversion === 'r' || conversion === 'a') body = pythonStr(value, true)
    else if (conversion === 'c') body = value.type === 'StringValue' ? (value.value as string) : String.fromCodePoint(Number(value.value))
    else body = formatNumber(value, conversion, flags, precision)
    const width = widthText === undefined || widthText === '*' ? 0 : Number(widthText)
    // Bounded before padding, as every template string is (template-budget.ts).
    if (width > MAX_TEMPLATE_STRING || (precision ?? 0) > MAX_TEMPLATE_STRING) throw new RangeError(`format field %${widthText ?? ''}.${precisionText ?? ''}${conversion} is wider than a template string may be`)
    if (body.length >= width) return body
    if (flags.includes('-')) return body.padEnd(width)
    if (flags.includes('0') && !'srac'.includes(conversion)) {
      const sign = /^[-+ ]/.test(body) ? body[0]! : ''
      return sign + body.slice(sign.length).padStart(width - sign.length, '0')
    }
    return body.padStart(width)
  })
  if (Array.isArray(values) && next < values.length) throw new TypeError('not all arguments converted during string formatting')
  return out
}
