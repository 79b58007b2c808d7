// Allowed-token bitmasks (bit t of word t>>5 set = token t may be sampled): building, combining, applying to a logits row.
import {nativeOps} from '../native.js'

/** A bitmask allowing exactly `tokenIds` (ids outside [0, vocabSize) are ignored). */
export function bitmaskOf(tokenIds: readonly number[], vocabSize: number): Int32Array {
  const mask = new Int32Array(Math.ceil(vocabSize / 32))
  for (const id of tokenIds) if (id >= 0 && id < vocabSize) mask[id >>> 5]! |= 1 << (id & 31)
  return mask
}

/** Tokens allowed by both; a fresh array. */
export function intersectMasks(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length)
  for (let w = 0; w < a.length; w++) out[w] = a[w]! & (b[w] ?? 0)
  return out
}

/** Writes `row` masked by `mask` into `out`: allowed tokens keep their logit, the rest get -Infinity (native, AVX2). */
export function maskRowInto(row: Float32Array, mask: Int32Array, out: Float32Array): void {
  nativeOps().applyTokenMask(row, mask, out)
}

/** The first allowed token, or -1 when the mask allows none. */
export function firstAllowed(mask: Int32Array, vocabSize: number): number {
  for (let w = 0; w < mask.length; w++) {
    const bits = mask[w]!
    if (bits === 0) continue
    const id = (w << 5) + 31 - Math.clz32(bits & -bits)
    return id < vocabSize ? id : -1
  }
  return -1
}
