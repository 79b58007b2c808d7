// TQ1_0 / TQ2_0 blocks (llama.cpp's ternary BitNet formats) as ggml's reference quantizer writes them, from the layouts
// (native/cpu/quant_formats.h), and the same values as Q8_0 blocks: for ternary-valued test matrices.
import {float32ToF16Bits} from '../../src/engine/model/float-formats.js'

export type TernaryFormat = 'tq1_0' | 'tq2_0'
/** ggml type ids (ggml.h). */
export const TERNARY_TYPE_IDS: Record<TernaryFormat, number> = {tq1_0: 34, tq2_0: 35}
const BLOCK_BYTES: Record<TernaryFormat, number> = {tq1_0: 54, tq2_0: 66}

/** One 256-value block as ggml quantizes it: d = max|x| (kept as fp16), codes round(x / d) (lroundf: half away from zero). */
function ternaryBlock(x: Float32Array): {dBits: number; codes: number[]} {
  const d = x.reduce((max, v) => Math.max(max, Math.abs(v)), 0)
  const inverse = d > 0 ? Math.fround(1 / d) : 0
  const codes = Array.from(x, (v) => {
    const scaled = Math.fround(v * inverse)
    return Math.sign(scaled) * Math.round(Math.abs(scaled))
  })
  return {dBits: float32ToF16Bits(d), codes}
}

/** Five (or four, then a zero) codes c in {-1, 0, 1} as one byte: the base-3 number of c + 1, first code most significant, stored as ceil(v * 256 / 243). */
function base3Byte(codes: number[]): number {
  const v = [...codes, ...Array(5 - codes.length).fill(-1)].reduce((acc, c) => acc * 3 + c + 1, 0)
  return Math.ceil((v * 256) / 243)
}

function writeBlock(format: TernaryFormat, codes: number[], dBits: number, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  if (format === 'tq1_0') {
    // qs[m]: elements m + 32 n; qs[32 + m]: 160 + m + 16 n; qh[m]: 240 + m + 4 n.
    for (let m = 0; m < 32; m++) out[m] = base3Byte([0, 1, 2, 3, 4].map((n) => codes[m + 32 * n]!))
    for (let m = 0; m < 16; m++) out[32 + m] = base3Byte([0, 1, 2, 3, 4].map((n) => codes[160 + m + 16 * n]!))
    for (let m = 0; m < 4; m++) out[48 + m] = base3Byte([0, 1, 2, 3].map((n) => codes[240 + m + 4 * n]!))
    view.setUint16(52, dBits, true)
  } else {
    // qs[32 h + m], bits 2 l: element 128 h + 32 l + m, as c + 1.
    for (let h = 0; h < 2; h++) {
      for (let m = 0; m < 32; m++) out[32 * h + m] = [0, 1, 2, 3].reduce((byte, l) => byte | ((codes[128 * h + 32 * l + m]! + 1) << (2 * l)), 0)
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
