// Seeded draws for benchmarks (exponential gaps, shuffles) on the project's one seeded generator.
import {SeededRandom} from '../engine/model/seeded-random.js'

/** The same seed gives the same trace sample, prompts and arrival times. */
export class BenchRandom {
  private readonly generator: SeededRandom

  constructor(seed: number) {
    this.generator = new SeededRandom(seed)
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return this.generator.nextInt(n)
  }

  /** Exponentially distributed with the given mean (inverse CDF; 1 - u keeps the log finite). */
  exponential(mean: number): number {
    return -Math.log(1 - this.generator.nextFloat()) * mean
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
