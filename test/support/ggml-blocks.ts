// Reference decoders of ggml's block formats (Q8_0, Q4_0, Q4_K, Q6_K) written from the format description, in fp32 steps as the native code rounds.
import type {QuantizedFormat} from '../../src/engine/native.js'

const f32 = Math.fround

/** IEEE half to number. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const mantissa = bits & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 31) return mantissa ? NaN : sign * Infinity
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
}

/** Values per block and bytes per block. */
export const BLOCK_SHAPES: Record<QuantizedFormat, {values: number; bytes: number}> = {
  q8_0: {values: 32, bytes: 34},
  q4_0: {values: 32, bytes: 18},
  q4_k: {values: 256, bytes: 144},
  q6_k: {values: 256, bytes: 210},
}

/** The 6-bit scale and min of sub-block j of a Q4_K block (12 packed bytes: j < 4 low 6 bits; j >= 4 split over nibbles and top bits). */
function q4kScaleMin(scales: Uint8Array, j: number): [number, number] {
  if (j < 4) return [scales[j] & 63, scales[j + 4] & 63]
  return [(scales[j + 4] & 0xf) | ((scales[j - 4] >> 6) << 4), (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4)]
}

function decodeBlock(format: QuantizedFormat, b: Uint8Array, out: Float32Array, at: number): void {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  switch (format) {
    case 'q8_0': {
      const d = halfToFloat(view.getUint16(0, true))
      for (let i = 0; i < 32; i++) out[at + i] = f32(d * view.getInt8(2 + i))
      return
    }
    case 'q4_0': {
      const d = halfToFloat(view.getUint16(0, true))
      for (let i = 0; i < 16; i++) {
        out[at + i] = f32(d * ((b[2 + i] & 0xf) - 8))
        out[at + i + 16] = f32(d * ((b[2 + i] >> 4) - 8))
      }
      return
    }
    case 'q4_k': {
      const d = halfToFloat(view.getUint16(0, true))
      const dmin = halfToFloat(view.getUint16(2, true))
      const scales = b.subarray(4, 16)
      const qs = b.subarray(16, 144)
      for (let j = 0; j < 8; j++) {
        const [scale, min] = q4kScaleMin(scales, j)
        for (let l = 0; l < 32; l++) {
          const byte = qs[32 * (j >> 1) + l]
          const q = (j & 1 ? byte >> 4 : byte) & 0xf
          out[at + 32 * j + l] = f32(f32(f32(d * scale) * q) - f32(dmin * min))
        }
      }
      return
    }
    case 'q6_k': {
      const ql = b.subarray(0, 128)
      const qh = b.subarray(128, 192)
      const d = halfToFloat(view.getUint16(208, true))
      for (let e = 0; e < 256; e++) {
        const half = e >> 7
        const k = (e & 127) >> 5
        const l = e & 31
        const low = (ql[64 * half + (k & 1) * 32 + l] >> (4 * (k >> 1))) & 0xf
        const high = (qh[32 * half + l] >> (2 * k)) & 3
        out[at + e] = f32(f32(d * view.getInt8(192 + (e >> 4))) * ((low | (high << 4)) - 32))
      }
      return
    }
  }
}

/** Decodes [rows, cols] values stored row by row in `format`. */
export function dequantizeReference(format: QuantizedFormat, raw: Uint8Array, rows: number, cols: number): Float32Array {
  const {values, bytes} = BLOCK_SHAPES[format]
  if (cols % values !== 0) throw new Error(`${format}: cols ${cols} is not a multiple of ${values}`)
  const blocks = (rows * cols) / values
  if (raw.length !== blocks * bytes) throw new Error(`${format}: ${raw.length} bytes, expected ${blocks * bytes}`)
  const out = new Float32Array(rows * cols)
  for (let i = 0; i < blocks; i++) decodeBlock(format, raw.subarray(i * bytes, (i + 1) * bytes), out, i * values)
  return out
}

/**
 * The 8-bit activation rounding of the integer kernels: per `blockSize` values (32 for Q8_0 / Q4_0, 256 for the
 * K-quants) d = max|x| / 127, q = round-half-even(x * (1 / d)), back to d * q.
 */
export function roundActivationsReference(x: Float32Array, blockSize: 32 | 256): Float32Array {
  const out = new Float32Array(x.length)
  for (let b = 0; b < x.length; b += blockSize) {
    let amax = 0
    for (let i = b; i < b + blockSize; i++) amax = Math.max(amax, Math.abs(x[i]))
    const d = f32(amax / 127)
    const inverse = d > 0 ? f32(1 / d) : 0
    for (let i = b; i < b + blockSize; i++) {
      const scaled = f32(x[i] * inverse)
      const floor = Math.floor(scaled)
      const diff = scaled - floor
      const rounded = diff > 0.5 || (diff === 0.5 && floor % 2 !== 0) ? floor + 1 : floor
      out[i] = d * Math.max(-127, Math.min(127, rounded))
    }
  }
  return out
}
