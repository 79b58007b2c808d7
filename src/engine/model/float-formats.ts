// Conversions between float32 and the 16-bit weight formats (IEEE half and bfloat16), in both directions.

const scratch = new DataView(new ArrayBuffer(4))

/** bfloat16 keeps the top 16 bits of a float32; round to nearest even, as PyTorch does. */
export function float32ToBf16Bits(value: number): number {
  scratch.setFloat32(0, value, true)
  const bits = scratch.getUint32(0, true)
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return 0x7fc0 // NaN stays a quiet NaN
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1)
  return (rounded >>> 16) & 0xffff
}

export function bf16BitsToFloat32(bits: number): number {
  scratch.setUint32(0, (bits & 0xffff) << 16, true)
  return scratch.getFloat32(0, true)
}

/** IEEE 754 binary16, round to nearest even, with subnormals and overflow to infinity. */
export function float32ToF16Bits(value: number): number {
  scratch.setFloat32(0, value, true)
  const bits = scratch.getUint32(0, true)
  const sign = (bits >>> 16) & 0x8000
  const exponent = (bits >>> 23) & 0xff
  let mantissa = bits & 0x7fffff
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0)
  let halfExponent = exponent - 127 + 15
  if (halfExponent >= 0x1f) return sign | 0x7c00
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign
    mantissa |= 0x800000 // implicit leading one becomes explicit in a subnormal
    const shift = 14 - halfExponent
    const half = mantissa >>> shift
    const remainder = mantissa & ((1 << shift) - 1)
    const midpoint = 1 << (shift - 1)
    const roundUp = remainder > midpoint || (remainder === midpoint && (half & 1) === 1)
    return sign | (half + (roundUp ? 1 : 0))
  }
  let half = mantissa >>> 13
  const remainder = mantissa & 0x1fff
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) {
    half += 1
    if (half === 0x400) {
      half = 0
      halfExponent += 1
      if (halfExponent >= 0x1f) return sign | 0x7c00
    }
  }
  return sign | (halfExponent << 10) | half
}

export function f16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >>> 10) & 0x1f
  const mantissa = bits & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
}
