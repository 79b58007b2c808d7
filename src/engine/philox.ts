// Counter-based draws for sampling: Philox4x32-10 keyed by the request seed, counted by (output position, sequence
// index), so a draw never depends on the batch or on step boundaries. native/include/pagedllm/sampling.h is the twin.

/** High 32 bits of the 64-bit product of two uint32 (16-bit limbs keep every partial product exact in a double). */
function mulHigh(a: number, b: number): number {
  const aHigh = a >>> 16
  const aLow = a & 0xffff
  const bHigh = b >>> 16
  const bLow = b & 0xffff
  const lowLow = aLow * bLow
  const lowHigh = aLow * bHigh
  const highLow = aHigh * bLow
  const middle = (lowLow >>> 16) + (lowHigh & 0xffff) + (highLow & 0xffff)
  return (aHigh * bHigh + (lowHigh >>> 16) + (highLow >>> 16) + (middle >>> 16)) >>> 0
}

/** Philox4x32-10 of counter (c0..c3) under key (k0, k1): four uint32 words. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): [number, number, number, number] {
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + 0x9e3779b9) >>> 0
      k1 = (k1 + 0xbb67ae85) >>> 0
    }
    const high0 = mulHigh(0xd2511f53, c0)
    const low0 = Math.imul(0xd2511f53, c0) >>> 0
    const high1 = mulHigh(0xcd9e8d57, c2)
    const low1 = Math.imul(0xcd9e8d57, c2) >>> 0
    ;[c0, c1, c2, c3] = [(high1 ^ c1 ^ k0) >>> 0, low1, (high0 ^ c3 ^ k1) >>> 0, low0]
  }
  return [c0, c1, c2, c3]
}

/** A request seed as the two 32-bit words of its two's-complement 64-bit pattern (any integer is accepted). */
export function seedWords(seed: number): [number, number] {
  const bits = BigInt.asUintN(64, BigInt(Math.trunc(seed)))
  return [Number(bits & 0xffffffffn), Number(bits >> 32n)]
}

/**
 * What a draw is for: counter word 2, so each purpose has its own independent uniform at every position. The
 * backends sample with Sample (0); speculative decoding also draws the draft's token (Draft) and its acceptance test
 * (Accept) at the same position, and a rejected draft's replacement uses that position's Sample draw.
 */
export const DrawPurpose = {Sample: 0, Accept: 1, Draft: 2} as const
export type DrawPurpose = (typeof DrawPurpose)[keyof typeof DrawPurpose]

/** The uniform in [0, 1) (53 bits) for output position `position` of sequence `stream` of a request seed. */
export function sampleUniform(seed: number, stream: number, position: number, purpose: DrawPurpose = DrawPurpose.Sample): number {
  const [low, high] = seedWords(seed)
  const [w0, w1] = philox4x32(position >>> 0, stream >>> 0, purpose, 0, low, high)
  return ((w0 >>> 5) * 67108864 + (w1 >>> 6)) / 9007199254740992
}
