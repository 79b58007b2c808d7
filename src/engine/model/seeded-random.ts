// Seeded pseudo-random numbers for generated test models: the engine's xoshiro128** seeded by splitmix32, normals by Box-Muller.
import {Xoshiro128StarStar} from '../random.js'

export class SeededRandom {
  private readonly generator: Xoshiro128StarStar
  private spareNormal: number | null = null

  constructor(seed: number) {
    // splitmix32 spreads any seed (0 included) over the four state words.
    let x = seed >>> 0
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0
      let z = x
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.generator = new Xoshiro128StarStar([next(), next(), next(), next()])
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    return this.generator.nextUint32()
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n)
  }

  /** Standard normal. */
  nextNormal(): number {
    if (this.spareNormal !== null) {
      const spare = this.spareNormal
      this.spareNormal = null
      return spare
    }
    const u1 = 1 - this.nextFloat() // (0, 1], so the log is finite
    const u2 = this.nextFloat()
    const radius = Math.sqrt(-2 * Math.log(u1))
    this.spareNormal = radius * Math.sin(2 * Math.PI * u2)
    return radius * Math.cos(2 * Math.PI * u2)
  }

  /** Fills a new array with normals of the given mean and standard deviation. */
  normals(count: number, mean: number, std: number): Float32Array {
    const out = new Float32Array(count)
    for (let i = 0; i < count; i++) out[i] = mean + std * this.nextNormal()
    return out
  }
}

