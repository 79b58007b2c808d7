// Seeded pseudo-random numbers for benchmarks: the same seed gives the same trace, prompts and arrival times.

/** A small, fast 32-bit generator (SplitMix32-style mixing of a Weyl sequence); not for cryptography. */
export class SeededRandom {
  private state: number

  constructor(seed: number) {
    // Mix the seed once so that nearby seeds (0, 1, 2) start far apart.
    this.state = (Math.imul(seed | 0, 0x9e3779b9) ^ 0x85ebca6b) >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0
    let z = this.state
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad)
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97)
    z = (z ^ (z >>> 15)) >>> 0
    return z / 4294967296
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** Exponentially distributed with the given mean (inverse-CDF; 1 - u keeps log away from 0). */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffled<T>(items: readonly T[]): T[] {
    const copy = items.slice()
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      ;[copy[i], copy[j]] = [copy[j], copy[i]]
    }
    return copy
  }
}
