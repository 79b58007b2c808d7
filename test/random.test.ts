// Seeded generator: range, rough uniformity, reproducibility, and independence of seeds and streams.
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {makeRng} from '../src/engine/random.js'

const draws = (seed: number, stream: number, count: number) => {
  const rng = makeRng(seed, stream)
  return Array.from({length: count}, () => rng.nextFloat())
}

describe('makeRng', () => {
  it('draws in [0, 1) with mean 1/2 and variance 1/12 (5-sigma bounds over 20000 draws)', () => {
    const values = draws(123, 0, 20000)
    assert.ok(values.every((value) => value >= 0 && value < 1))
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length
    assert.ok(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / values.length), `mean ${mean}`)
    assert.ok(Math.abs(variance - 1 / 12) < 0.003, `variance ${variance}`)
    // Ten equal bins: chi-square with 9 dof below its 99.99th percentile (33.7).
    const bins = new Array<number>(10).fill(0)
    for (const value of values) bins[Math.floor(value * 10)]!++
    assert.ok(bins.reduce((sum, count) => sum + (count - 2000) ** 2 / 2000, 0) < 33.7)
  })

  it('is reproducible for one (seed, stream) and differs across seeds, streams, high seed bits and signs', () => {
    assert.deepEqual(draws(5, 2, 10), draws(5, 2, 10))
    const variants = [draws(5, 2, 4), draws(6, 2, 4), draws(5, 3, 4), draws(5 + 2 ** 32, 2, 4), draws(-5, 2, 4), draws(0, 0, 4)]
    assert.equal(new Set(variants.map((values) => values.join())).size, variants.length)
  })
})
