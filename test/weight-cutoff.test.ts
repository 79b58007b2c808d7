// Radix-select and threshold cuts of a weight row against a brute-force sort, with many ties and exactly representable masses.
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {makeRng} from '../src/engine/random.js'
import {KEEP_ALL, WeightCutFinder, shorterCut, type WeightCut} from '../src/engine/weight-cutoff.js'

/** Ids kept by a cut, in id order. */
function keptIds(weights: Float32Array, cut: WeightCut): number[] {
  const bits = new Int32Array(weights.buffer)
  const kept: number[] = []
  let tiesSeen = 0
  for (let i = 0; i < weights.length; i++) {
    if (bits[i]! > cut.thresholdBits || (bits[i] === cut.thresholdBits && tiesSeen++ < cut.tieTake)) kept.push(i)
  }
  return kept
}

/** Ranking by weight descending, ties by id ascending. */
function ranking(weights: Float32Array): number[] {
  return Array.from(weights, (_, id) => id).sort((a, b) => weights[b]! - weights[a]! || a - b)
}

/**
 * Weights in [1/8, 1) built from 4 choices each of the high, middle and low bit fields the radix levels look at, so
 * every level sees ties and differences. Three octaves of 24-bit mantissas sum exactly in float64 in any order.
 */
function tiedWeights(size: number, seed: number): Float32Array {
  const rng = makeRng(seed, 0)
  const pick = (choices: number[]) => choices[Math.floor(rng.nextFloat() * choices.length)]!
  const bits = Int32Array.from({length: size}, () => {
    const high = pick([0x3e0, 0x3e8, 0x3f0, 0x3f4]) << 20
    const middle = pick([0x000, 0x001, 0x2a0, 0x7ff]) << 9
    const low = pick([0x000, 0x001, 0x0f0, 0x1ff])
    return high | middle | low
  })
  return new Float32Array(bits.buffer)
}

describe('WeightCutFinder', () => {
  const finder = new WeightCutFinder()

  it('top-k keeps the k first of the ranking and every token tied with the k-th (vLLM masks only weights below it)', () => {
    for (let seed = 0; seed < 20; seed++) {
      const weights = seed % 2 === 0 ? tiedWeights(500, seed) : Float32Array.from({length: 700}, (_, i) => Math.exp(-((i * 7919) % 700) / 50))
      const k = 1 + ((seed * 37) % weights.length)
      const cut = finder.topCount(weights, new Int32Array(weights.buffer), k)
      const kth = weights[ranking(weights)[k - 1]!]!
      const expected = ranking(weights).filter((id) => weights[id]! >= kth)
      assert.deepEqual(keptIds(weights, cut), expected.sort((a, b) => a - b), `seed ${seed}, k ${k}`)
      assert.equal(cut.keptMass, expected.reduce((sum, id) => sum + weights[id]!, 0))
    }
  })

  it('atLeast (min-p) keeps exactly the tokens whose weight is >= the bound, the bound compared in float64', () => {
    for (let seed = 0; seed < 20; seed++) {
      const weights = tiedWeights(300, 100 + seed)
      const order = ranking(weights)
      // On a weight (kept inclusively), just above and just below one, and a bound no float32 equals.
      const pivot = weights[order[(seed * 29) % weights.length]!]!
      for (const bound of [pivot, pivot * (1 + 1e-12), pivot * (1 - 1e-12), 0.3]) {
        const cut = finder.atLeast(weights, new Int32Array(weights.buffer), bound)
        const expected = order.filter((id) => weights[id]! >= bound)
        assert.deepEqual(keptIds(weights, cut), expected.sort((a, b) => a - b), `seed ${seed}, bound ${bound}`)
        assert.equal(cut.keptMass, expected.reduce((sum, id) => sum + weights[id]!, 0))
      }
    }
  })

  it('top-p keeps a token while the mass ranked above it is below the target', () => {
    for (let seed = 0; seed < 20; seed++) {
      const weights = tiedWeights(400, 50 + seed)
      // Targets that equal the exact mass of a prefix of the ranking test the boundary: the next token must go.
      const order = ranking(weights)
      const prefixLength = 1 + ((seed * 53) % weights.length)
      const exactPrefixMass = order.slice(0, prefixLength).reduce((sum, id) => sum + weights[id]!, 0)
      const target = seed % 2 === 0 ? exactPrefixMass : exactPrefixMass - weights[order[prefixLength - 1]!]! / 3
      const cut = finder.topMass(weights, new Int32Array(weights.buffer), target)
      const expected: number[] = []
      let above = 0
      for (const id of order) {
        if (above >= target) break
        expected.push(id)
        above += weights[id]!
      }
      assert.deepEqual(keptIds(weights, cut), expected.sort((a, b) => a - b), `seed ${seed}`)
      assert.equal(cut.keptMass, above)
    }
  })

  it('keeps everything when the budget is the whole row or more', () => {
    const weights = tiedWeights(50, 1)
    assert.equal(keptIds(weights, finder.topCount(weights, new Int32Array(weights.buffer), 50)).length, 50)
    assert.equal(finder.topMass(weights, new Int32Array(weights.buffer), 1e9), KEEP_ALL)
  })

  it('shorterCut picks the intersection of two cuts of one ranking', () => {
    const weights = tiedWeights(300, 9)
    const bits = new Int32Array(weights.buffer)
    const small = finder.topCount(weights, bits, 10)
    const large = finder.topCount(weights, bits, 120)
    assert.deepEqual(keptIds(weights, shorterCut(small, large)), keptIds(weights, small))
    assert.deepEqual(keptIds(weights, shorterCut(large, small)), keptIds(weights, small))
    assert.equal(shorterCut(KEEP_ALL, large), large)
  })
})
