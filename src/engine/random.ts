// Seeded pseudo-random streams for synthetic weights and test data (sampling draws come from philox.ts instead).

export interface Rng {
  /** A uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number
}

/** 32-bit finalizer of MurmurHash3: spreads every input bit over the whole word, so nearby seeds give unrelated states. */
function mix32(value: number): number {
  let h = value | 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** xoshiro128** (Blackman and Vigna): tiny state, fast on 32-bit integer math, passes BigCrush. */
export class Xoshiro128StarStar implements Rng {
  private s0: number
  private s1: number
  private s2: number
  private s3: number

  constructor(words: readonly [number, number, number, number]) {
    ;[this.s0, this.s1, this.s2, this.s3] = words
    // The all-zero state is the one state that never leaves itself.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1
  }

  nextUint32(): number {
    const result = Math.imul(rotateLeft(Math.imul(this.s1, 5), 7), 9) >>> 0
    const shifted = this.s1 << 9
    this.s2 ^= this.s0
    this.s3 ^= this.s1
    this.s1 ^= this.s2
    this.s0 ^= this.s3
    this.s2 ^= shifted
    this.s3 = rotateLeft(this.s3, 11)
    return result
  }

  nextFloat(): number {
    // 27 + 26 bits: a float64 with full mantissa precision, so even tokens of probability 1e-12 are drawn fairly.
    const high = this.nextUint32() >>> 5
    const low = this.nextUint32() >>> 6
    return (high * 67108864 + low) / 9007199254740992
  }
}

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits))
}

/**
 * The generator for stream `stream` (the sequence index within a request) of a request seed.
 * Any integer seed is accepted, negative or beyond 32 bits: its two's-complement 64-bit pattern is used.
 */
export function makeRng(seed: number, stream: number): Rng {
  const bits = BigInt.asUintN(64, BigInt(Math.trunc(seed)))
  const seedLow = Number(bits & 0xffffffffn)
  const seedHigh = Number(bits >> 32n)
  // Each state word hashes all inputs with a different salt, so stream k of seed s never aliases stream j of seed t.
  const word = (salt: number) => mix32(mix32(mix32(seedLow ^ salt) ^ seedHigh) ^ Math.imul(stream + 1, 0x9e3779b9))
  return new Xoshiro128StarStar([word(0x243f6a88), word(0x85a308d3), word(0x13198a2e), word(0x03707344)])
}
