// TQ1_0 / TQ2_0 blocks (llama.cpp's ternary BitNet formats) as ggml's reference quantizer writes them, from the layouts
// (native/cpu/quant_formats.h), and the same values as Q8_0 blocks: for ternary-valued test matrices.
import {float32ToF16Bits} from '../../src/engine/model/float-formats.js'

export type TernaryFormat = 'tq1_0' | 'tq2_0'
/** ggml type ids (ggml.h). */
export const TERNARY_TYPE_IDS: Record<TernaryFormat, number> = {tq1_0: 34, tq2_0: 35}
const BLOCK_BYTES: Record<TernaryFormat, number> = {tq1_0: 54, tq2_0: 66}

/**
 * One 256-value block as ggml quantizes it: d = max|x| (kept as fp16), codes round(x / d) (lroundf: half away from zero).
 * Loops rather than array callbacks: the small preset's projections are ~50,000 blocks, quantized four times a run.
 */
function ternaryBlock(x: Float32Array): {dBits: number; codes: Int8Array} {
  let d = 0
  for (const v of x) d = Math.max(d, Math.abs(v))
  const inverse = d > 0 ? Math.fround(1 / d) : 0
  const codes = new Int8Array(x.length)
  for (let i = 0; i < x.length; i++) {
    const scaled = Math.fround(x[i]! * inverse)
    codes[i] = Math.sign(scaled) * Math.round(Math.abs(scaled))
  }
  return {dBits: float32ToF16Bits(d), codes}
}

/**
 * Five (or four, then a zero) codes c in {-1, 0, 1} as one byte: the base-3 number of c + 1, first code most significant,
 * stored as ceil(v * 256 / 243). The codes: `count` of them from `first`, `stride` apart.
 */
function base3Byte(codes: Int8Array, first: number, stride: number, count: number): number {
  let v = 0
  for (let n = 0; n < 5; n++) v = v * 3 + (n < count ? codes[first + stride * n]! + 1 : 0)
  return Math.ceil((v * 256) / 243)
}

function writeBlock(format: TernaryFormat, codes: Int8Array, dBits: number, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  if (format === 'tq1_0') {
    // qs[m]: elements m + 32 n; qs[32 + m]: 160 + m + 16 n; qh[m]: 240 + m + 4 n.
    for (let m = 0; m < 32; m++) out[m] = base3Byte(codes, m, 32, 5)
    for (let m = 0; m < 16; m++) out[32 + m] = base3Byte(codes, 160 + m, 16, 5)
    for (let m = 0; m < 4; m++) out[48 + m] = base3Byte(codes, 240 + m, 4, 4)
    view.setUint16(52, dBits, true)
  } else {
    // qs[32 h + m], bits 2 l: element 128 h + 32 l + m, as c + 1.
    for (let h = 0; h < 2; h++) {
      for (let m = 0; m < 32; m++) {
        let byte = 0
        for (let l = 0; l < 4; l++) byte |= (codes[128 * h + 32 * l + m]! + 1) << (2 * l)
        out[32 * h + m] = byte
      }
    }
    view.setUint16(64, dBits, true)
  }
}

/** A [rows, cols] matrix (cols a multiple of 256) as TQ1_0 or TQ2_0 blocks, row by row. */
export function ternaryBlocks(format: TernaryFormat, values: Float32Array, rows: number, cols: number): Buffer {
  if (cols % 256 !== 0) throw new Error(`${format}: rows of ${cols} values are not whole 256-value blocks`)
  const blocks = (rows * cols) / 256
  const out = Buffer.alloc(blocks * BLOCK_BYTES[format])
  for (let b = 0; b < blocks; b++) {
    const {dBits, codes} = ternaryBlock(values.subarray(256 * b, 256 * (b + 1)))
    writeBlock(format, codes, dBits, out.subarray(b * BLOCK_BYTES[format], (b + 1) * BLOCK_BYTES[format]))
  }
  return out
}

/** The same matrix as Q8_0 blocks holding what the ternary blocks hold: each 32 values the 256-value block's fp16 d and codes. */
export function ternaryAsQ8_0(values: Float32Array, rows: number, cols: number): Buffer {
  if (cols % 256 !== 0) throw new Error(`rows of ${cols} values are not whole 256-value blocks`)
  const out = Buffer.alloc(((rows * cols) / 32) * 34)
  for (let b = 0; b < (rows * cols) / 256; b++) {
    const {dBits, codes} = ternaryBlock(values.subarray(256 * b, 256 * (b + 1)))
    for (let j = 0; j < 8; j++) {
      const at = (8 * b + j) * 34
      out.writeUInt16LE(dBits, at)
      for (let i = 0; i < 32; i++) out.writeInt8(codes[32 * j + i]!, at + 2 + i)
    }
  }
  return out
}
