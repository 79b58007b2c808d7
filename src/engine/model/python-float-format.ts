// Python's fixed (%f), exponent (%e) and general (%g) float formats, rounded as Python rounds them: half to even on
// the double's exact binary value. JavaScript's toFixed / toExponential round ties away from zero (0.25 -> '0.3'
// where Python writes '0.2'), and a rounded double cannot be printed again (2126764793255865.25 to one place).

/** |x| exactly: |x| = BigInt(digits) / 10^scale (a double's value always has a finite decimal expansion). */
function exactDecimal(x: number): {digits: string; scale: number} {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, Math.abs(x))
  const bits = view.getBigUint64(0)
  const biased = Number((bits >> 52n) & 0x7ffn)
  let mantissa = bits & ((1n << 52n) - 1n)
  if (biased !== 0) mantissa |= 1n << 52n
  const power = (biased === 0 ? 1 : biased) - 1075
  if (power >= 0) return {digits: (mantissa << BigInt(power)).toString(), scale: 0}
  return {digits: (mantissa * 5n ** BigInt(-power)).toString(), scale: -power}
}

/** `digits` (an integer's) with its last `drop` digits rounded away, half to even; the digits kept as a string. */
function roundAway(digits: string, drop: number): string {
  if (drop <= 0) return digits + '0'.repeat(-drop)
  if (drop > digits.length) return '0'
  const unit = 10n ** BigInt(drop)
  const value = BigInt(digits)
  let kept = value / unit
  const twice = 2n * (value % unit)
  if (twice > unit || (twice === unit && kept % 2n === 1n)) kept += 1n
  return kept.toString()
}

const special = (x: number) => (Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf')
const signOf = (x: number) => (x < 0 || Object.is(x, -0) ? '-' : '')

/** Python's f'{x:.{places}f}'. */
export function pythonFixed(x: number, places: number): string {
  if (!Number.isFinite(x)) return special(x)
  const {digits, scale} = exactDecimal(x)
  const kept = roundAway(digits, scale - places).padStart(places + 1, '0')
  return signOf(x) + (places > 0 ? `${kept.slice(0, -places)}.${kept.slice(-places)}` : kept)
}

/** |x| to `significant` digits: the digits and the power of ten of the first (x = d.ddd x 10^exponent). */
function significantDigits(x: number, significant: number): {mantissa: string; exponent: number} {
  if (x === 0) return {mantissa: '0'.repeat(significant), exponent: 0}
  const {digits, scale} = exactDecimal(x)
  let mantissa = roundAway(digits, digits.length - significant)
  let exponent = digits.length - scale - 1
  if (mantissa.length > significant) {
    // Rounded up to the next power of ten (9.99 -> 10.0).
    mantissa = mantissa.slice(0, significant)
    exponent++
  }
  return {mantissa, exponent}
}

const exponentText = (exponent: number) => `e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`

/** Python's f'{x:.{places}e}'. */
export function pythonExponent(x: number, places: number): string {
  if (!Number.isFinite(x)) return special(x)
  const {mantissa, exponent} = significantDigits(x, places + 1)
  return signOf(x) + mantissa[0]! + (places > 0 ? '.' + mantissa.slice(1) : '') + exponentText(exponent)
}

/** Python's f'{x:.{precision}g}': fixed where the exponent is from -4 to under the precision, else exponent form; trailing zeros dropped. */
export function pythonGeneral(x: number, precision: number): string {
  if (!Number.isFinite(x)) return special(x)
  const significant = precision === 0 ? 1 : precision
  const {exponent} = significantDigits(x, significant)
  const text = exponent >= -4 && exponent < significant ? pythonFixed(x, significant - 1 - exponent) : pythonExponent(x, significant - 1)
  return text.replace(/\.?0+(?=e|$)/, (zeros) => (zeros.startsWith('.') || text.includes('.') ? '' : zeros))
}
