// Reference decoders of ggml's block formats (Q8_0, Q4_0/1, Q5_0/1, IQ4_NL, Q2_K..Q6_K, IQ4_XS, TQ1_0, TQ2_0) written from the format description, in fp32 steps as the native code rounds.
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
  q4_1: {values: 32, bytes: 20},
  q5_0: {values: 32, bytes: 22},
  q5_1: {values: 32, bytes: 24},
  iq4_nl: {values: 32, bytes: 18},
  q2_k: {values: 256, bytes: 84},
  q3_k: {values: 256, bytes: 110},
  q4_k: {values: 256, bytes: 144},
  q5_k: {values: 256, bytes: 176},
  q6_k: {values: 256, bytes: 210},
  iq4_xs: {values: 256, bytes: 136},
  tq1_0: {values: 256, bytes: 54},
  tq2_0: {values: 256, bytes: 66},
}

/** The byte offsets of each format's fp16 fields in a block (d, and dmin / m where there is one). */
export const HALF_FIELDS: Record<QuantizedFormat, number[]> = {
  q8_0: [0], q4_0: [0], q4_1: [0, 2], q5_0: [0], q5_1: [0, 2], iq4_nl: [0], q2_k: [80, 82], q3_k: [108], q4_k: [0, 2], q5_k: [0, 2],
  q6_k: [208], iq4_xs: [0], tq1_0: [52], tq2_0: [64],
}

/** The 16 levels of IQ4_NL / IQ4_XS codes. */
const IQ4_LEVELS = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

/** Code j (0..31) of a 32-value block: low nibble of qs[j] for j < 16, high nibble of qs[j - 16] after; plus bit j of the little-endian u32 qh as bit 4. */
function code32(qs: Uint8Array, j: number, qh?: DataView): number {
  const low = j < 16 ? qs[j] & 0xf : qs[j - 16] >> 4
  return qh ? low | (((qh.getUint32(0, true) >>> j) & 1) << 4) : low
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
    case 'q4_1':
    case 'q5_1': {
      const d = halfToFloat(view.getUint16(0, true))
      const m = halfToFloat(view.getUint16(2, true))
      const five = format === 'q5_1'
      for (let j = 0; j < 32; j++) out[at + j] = f32(f32(d * code32(b.subarray(five ? 8 : 4), j, five ? new DataView(b.buffer, b.byteOffset + 4, 4) : undefined)) + m)
      return
    }
    case 'q5_0': {
      const d = halfToFloat(view.getUint16(0, true))
      for (let j = 0; j < 32; j++) out[at + j] = f32(d * (code32(b.subarray(6), j, new DataView(b.buffer, b.byteOffset + 2, 4)) - 16))
      return
    }
    case 'iq4_nl': {
      const d = halfToFloat(view.getUint16(0, true))
      for (let j = 0; j < 32; j++) out[at + j] = f32(d * IQ4_LEVELS[code32(b.subarray(2), j)])
      return
    }
    case 'q2_k': {
      const d = halfToFloat(view.getUint16(80, true))
      const dmin = halfToFloat(view.getUint16(82, true))
      for (let e = 0; e < 256; e++) {
        const scale = b[e >> 4]
        const q = (b[16 + 32 * (e >> 7) + (e & 31)] >> (2 * ((e & 127) >> 5))) & 3
        out[at + e] = f32(f32(f32(d * (scale & 0xf)) * q) - f32(dmin * (scale >> 4)))
      }
      return
    }
    case 'q3_k': {
      const d = halfToFloat(view.getUint16(108, true))
      const scales = b.subarray(96, 108)
      for (let e = 0; e < 256; e++) {
        const i = e >> 4
        const scale = (((scales[i % 8] >> (4 * (i >> 3))) & 0xf) | (((scales[8 + (i % 4)] >> (2 * (i >> 2))) & 3) << 4)) - 32
        const half = e >> 7, k = (e & 127) >> 5, l = e & 31
        const q = ((b[32 + 32 * half + l] >> (2 * k)) & 3) | (((b[l] >> (4 * half + k)) & 1) << 2)
        out[at + e] = f32(f32(d * scale) * (q - 4))
      }
      return
    }
    case 'q5_k': {
      const d = halfToFloat(view.getUint16(0, true))
      const dmin = halfToFloat(view.getUint16(2, true))
      const scales = b.subarray(4, 16)
      const qh = b.subarray(16, 48)
      const qs = b.subarray(48, 176)
      for (let j = 0; j < 8; j++) {
        const [scale, min] = q4kScaleMin(scales, j)
        for (let l = 0; l < 32; l++) {
          const q = ((qs[32 * (j >> 1) + l] >> (4 * (j & 1))) & 0xf) | (((qh[l] >> j) & 1) << 4)
          out[at + 32 * j + l] = f32(f32(f32(d * scale) * q) - f32(dmin * min))
        }
      }
      return
    }
    case 'iq4_xs': {
      const d = halfToFloat(view.getUint16(0, true))
      const scalesHigh = view.getUint16(2, true)
      for (let j = 0; j < 8; j++) {
        const scale = (((b[4 + (j >> 1)] >> (4 * (j & 1))) & 0xf) | (((scalesHigh >> (2 * j)) & 3) << 4)) - 32
        for (let i = 0; i < 32; i++) out[at + 32 * j + i] = f32(f32(d * scale) * IQ4_LEVELS[code32(b.subarray(8 + 16 * j), i)])
      }
      return
    }
    case 'tq1_0': {
      // Each byte b holds the base-3 number v = floor(b * 243 / 256) (it was stored as ceil(v * 256 / 243)), digits most
      // significant first, digit - 1 the code: qs[m] holds elements m + 32 n, qs[32 + m] 160 + m + 16 n, qh[m] 240 + m + 4 n.
      const d = halfToFloat(view.getUint16(52, true))
      const digit = (byte: number, n: number) => Math.floor(Math.floor((byte * 243) / 256) / 3 ** (4 - n)) % 3
      for (let n = 0; n < 5; n++) {
        for (let m = 0; m < 32; m++) out[at + m + 32 * n] = d * (digit(b[m], n) - 1)
        for (let m = 0; m < 16; m++) out[at + 160 + m + 16 * n] = d * (digit(b[32 + m], n) - 1)
      }
      for (let n = 0; n < 4; n++) for (let m = 0; m < 4; m++) out[at + 240 + m + 4 * n] = d * (digit(b[48 + m], n) - 1)
      return
    }
    case 'tq2_0': {
      // Element 128 h + 32 l + m in bits 2 l of qs[32 h + m], as code + 1 (code 3, never written by ggml, is 2).
      const d = halfToFloat(view.getUint16(64, true))
      for (let e = 0; e < 256; e++) out[at + e] = d * (((b[32 * (e >> 7) + (e & 31)] >> (2 * ((e & 127) >> 5))) & 3) - 1)
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
 * The 8-bit activation rounding of the integer kernels: per `blockSize` values (32 for the 32-value formats, 256 for
 * the K-quants) d = max|x| / 127, q = round-half-even(x * (1 / d)), back to d * q.
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
