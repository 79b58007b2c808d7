// Sampler: logprobs against float64 log-softmax, greedy ties, seeded reproducibility, sampled frequencies, filters, penalties, suppression.
import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {makeRng} from '../src/engine/random.js'
import {editedTopLogprobs, logprobsOfTokens, sampleRows, type SampleRequest} from '../src/engine/sampler.js'
import {tokensOf} from './support/sample-requests.js'
import {topValuesOf} from '../src/engine/logprobs.js'

function randomLogits(numRows: number, vocabSize: number, seed: number, scale = 3): Float32Array {
  const rng = makeRng(seed, 0)
  const logits = new Float32Array(numRows * vocabSize)
  for (let i = 0; i < logits.length; i++) logits[i] = (rng.nextFloat() * 2 - 1) * scale
  return logits
}

function request(params: Partial<SamplingParams>, extra: Partial<SampleRequest> = {}): SampleRequest {
  return {row: 0, params: makeSamplingParams(params), tokenIds: [], promptLength: 0, seed: 1, stream: 0, suppressTokenIds: [], ...extra}
}

/** float64 log_softmax of one row. */
function logSoftmax64(row: ArrayLike<number>): number[] {
  let max = -Infinity
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!)
  let sum = 0
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max)
  const lse = max + Math.log(sum)
  return Array.from(row, (value) => value - lse)
}

/** Draws `draws` tokens from one row (draw i on stream i of one seed) and counts them. */
function sampleCounts(logits: Float32Array, params: Partial<SamplingParams>, draws: number, seed = 7): number[] {
  const counts = new Array<number>(logits.length).fill(0)
  for (let i = 0; i < draws; i++) counts[sampleRows(logits, logits.length, [request(params, {seed, stream: i})])[0]!.tokenId]!++
  return counts
}

/** Pearson chi-square statistic of observed counts against expected probabilities (cells with p = 0 must be empty). */
function chiSquare(counts: number[], probabilities: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0)
  let statistic = 0
  probabilities.forEach((p, i) => {
    if (p === 0) assert.equal(counts[i], 0, `token ${i} has probability 0 but was drawn ${counts[i]} times`)
    else statistic += (counts[i]! - total * p) ** 2 / (total * p)
  })
  return statistic
}

const normalize = (weights: number[]) => weights.map((w) => w / weights.reduce((a, b) => a + b, 0))
const PROBABILITIES = [0.5, 0.3, 0.1, 0.06, 0.04]
const LOG_PROBABILITIES = Float32Array.from(PROBABILITIES, Math.log)
// chi-square 99.99th percentiles: 4 dof 23.5, 2 dof 18.4, 1 dof 15.1. A fixed seed keeps the test deterministic.
const CHI2_4DOF = 23.5
const CHI2_2DOF = 18.4
const CHI2_1DOF = 15.1

describe('sampler logprobs', () => {
  it('reports the raw float64 log-softmax of the chosen token and of the top tokens', () => {
    const vocab = 5000
    const logits = randomLogits(2, vocab, 3, 8)
    const results = sampleRows(logits, vocab, [request({temperature: 0.7, logprobs: 5}), request({temperature: 0, logprobs: 3}, {row: 1})])
    results.forEach((result, row) => {
      const expected = logSoftmax64(logits.subarray(row * vocab, (row + 1) * vocab))
      assert.ok(Math.abs(result.logprob - expected[result.tokenId]!) < 1e-5)
      const sortedIds = expected.map((_, id) => id).sort((a, b) => expected[b]! - expected[a]!)
      const k = row === 0 ? 5 : 3
      const topIds = [...result.topLogprobs!.keys()].slice(0, k)
      assert.deepEqual(topIds, sortedIds.slice(0, k))
      for (const [id, logprob] of result.topLogprobs!) assert.ok(Math.abs(logprob - expected[id]!) < 1e-5)
      assert.ok(result.topLogprobs!.has(result.tokenId))
    })
  })

  it('logprobs ignore penalties and temperature, and logprobs: 0 returns only the chosen token', () => {
    const logits = Float32Array.from([2, 1.9, -0.5, 0.1])
    const [result] = sampleRows(logits, 4, [request({temperature: 0, repetitionPenalty: 1.5, logprobs: 0}, tokensOf([0], []))])
    assert.equal(result!.tokenId, 1)
    assert.ok(Math.abs(result!.logprob - logSoftmax64(logits)[1]!) < 1e-6)
    assert.deepEqual([...result!.topLogprobs!.keys()], [1])
  })

  it('sampled logprobs stay raw with penalties and suppression, at temperature 1 and 0.6', () => {
    const vocab = 3000
    const logits = randomLogits(1, vocab, 21, 6)
    const expected = logSoftmax64(logits)
    const best = expected.indexOf(Math.max(...expected))
    for (let i = 0; i < 20; i++) {
      const [result] = sampleRows(logits, vocab, [
        request(
          {temperature: i % 2 === 0 ? 1 : 0.6, repetitionPenalty: 1.8, presencePenalty: 1.5, logprobs: 1},
          {seed: 4, stream: i, ...tokensOf([best, 5, 6], [7, 7, 8]), suppressTokenIds: [9, 10]},
        ),
      ])
      assert.ok(Math.abs(result!.logprob - expected[result!.tokenId]!) < 1e-5)
      assert.ok(Math.abs(result!.topLogprobs!.get(best)! - expected[best]!) < 1e-5)
    }
  })

  it('editedTopLogprobs (no edits) and logprobsOfTokens match float64 log-softmax', () => {
    const vocab = 1000
    const logits = randomLogits(3, vocab, 11, 5)
    const expected = logSoftmax64(logits.subarray(2 * vocab))
    const top = editedTopLogprobs(logits, vocab, request({temperature: 0}, {row: 2}), 8)
    const sortedIds = expected.map((_, id) => id).sort((a, b) => expected[b]! - expected[a]!)
    assert.deepEqual(top.tokenIds, sortedIds.slice(0, 8))
    top.logprobs.forEach((logprob, i) => assert.ok(Math.abs(logprob - expected[top.tokenIds[i]!]!) < 1e-5))
    const some = [0, 17, 999]
    logprobsOfTokens(logits, 2, vocab, some).forEach((logprob, i) => assert.ok(Math.abs(logprob - expected[some[i]!]!) < 1e-5))
  })
})

describe('top values of a row', () => {
  it('match a full sort (value descending, lower id first on ties) for any k, with ties, -Infinity and NaN', () => {
    const random = makeRng(11, 0)
    const rng = () => random.nextFloat()
    for (const vocab of [1, 7, 300, 5000]) {
      // Few distinct values make many ties; masked (-Infinity) and NaN entries never outrank a number.
      const row = Float32Array.from({length: vocab}, () => {
        const u = rng()
        return u < 0.1 ? -Infinity : u < 0.12 ? NaN : Math.floor(rng() * 40) / 4
      })
      const ranked = [...row.keys()].filter((i) => !Number.isNaN(row[i]!)).sort((a, b) => (row[b]! === row[a]! ? a - b : row[b]! > row[a]! ? 1 : -1))
      for (const k of [1, 2, 5, 64, 600, vocab - 1, vocab, vocab + 5]) {
        const top = topValuesOf(row, k)
        const expected = ranked.slice(0, Math.max(0, k))
        assert.deepEqual(top.tokenIds, expected, `vocab ${vocab}, k ${k}`)
        assert.deepEqual(top.values, expected.map((i) => row[i]))
      }
    }
  })
})

describe('greedy', () => {
  it('takes the argmax, ties to the lowest id, whatever the seed', () => {
    const logits = Float32Array.from([0, 3, 1, 3, 2])
    for (const seed of [1, 2, 3]) {
      assert.equal(sampleRows(logits, 5, [request({temperature: 0}, {seed})])[0]!.tokenId, 1)
      assert.equal(sampleRows(logits, 5, [request({temperature: 1, topK: 1}, {seed})])[0]!.tokenId, 1)
    }
  })
})

describe('seeded sampling', () => {
  const vocab = 2000
  const logits = randomLogits(1, vocab, 5, 1)
  // Draw i is the one at output position i.
  const run = (seed: number, stream: number) =>
    Array.from({length: 40}, (_, i) => sampleRows(logits, vocab, [request({topP: 0.95}, {seed, stream, ...tokensOf([], new Array<number>(i).fill(0))})])[0]!.tokenId)

  it('the same seed and stream give the same tokens; other seeds or streams give others', () => {
    assert.deepEqual(run(42, 0), run(42, 0))
    assert.notDeepEqual(run(42, 0), run(43, 0))
    assert.notDeepEqual(run(42, 0), run(42, 1))
  })

  it('a row samples the same token alone or batched with other rows', () => {
    const batchLogits = randomLogits(4, vocab, 9, 2)
    const params = {temperature: 0.8, topK: 100}
    const alone = sampleRows(batchLogits.slice(2 * vocab, 3 * vocab), vocab, [request(params, {seed: 5, stream: 0})])[0]!.tokenId
    const batched = sampleRows(batchLogits, vocab, [
      request({temperature: 1.3}, {row: 0, seed: 1, stream: 0}),
      request({topP: 0.5}, {row: 1, seed: 2, stream: 0}),
      request(params, {row: 2, seed: 5, stream: 0}),
      request({temperature: 0}, {row: 3}),
    ])[2]!.tokenId
    assert.equal(batched, alone)
  })
})

describe('sampled frequencies (chi-square at the 99.99th percentile, fixed seed)', () => {
  const draws = 20000

  it('temperature 1 follows softmax(logits)', () => {
    assert.ok(chiSquare(sampleCounts(LOG_PROBABILITIES, {}, draws), PROBABILITIES) < CHI2_4DOF)
  })

  it('temperature 0.5 follows p^2 renormalized', () => {
    const expected = normalize(PROBABILITIES.map((p) => p ** 2))
    assert.ok(chiSquare(sampleCounts(LOG_PROBABILITIES, {temperature: 0.5}, draws), expected) < CHI2_4DOF)
  })

  it('top-k 2 keeps the two best, renormalized', () => {
    assert.ok(chiSquare(sampleCounts(LOG_PROBABILITIES, {topK: 2}, draws), normalize([0.5, 0.3, 0, 0, 0])) < CHI2_1DOF)
  })

  it('top-p 0.85 keeps the three best (the mass above the fourth is 0.9)', () => {
    assert.ok(chiSquare(sampleCounts(LOG_PROBABILITIES, {topP: 0.85}, draws), normalize([0.5, 0.3, 0.1, 0, 0])) < CHI2_2DOF)
  })

  it('top-p applies to the top-k renormalized distribution', () => {
    // After top-k 3: [0.555, 0.333, 0.111]; top-p 0.85 then stops after the second (mass above the third is 0.889).
    assert.ok(chiSquare(sampleCounts(LOG_PROBABILITIES, {topK: 3, topP: 0.85}, draws), normalize([0.5, 0.3, 0, 0, 0])) < CHI2_1DOF)
  })

  it('min-p 0.15 drops tokens below 0.15 x the best probability', () => {
    assert.ok(chiSquare(sampleCounts(LOG_PROBABILITIES, {minP: 0.15}, draws), normalize([0.5, 0.3, 0.1, 0, 0])) < CHI2_2DOF)
  })
})

describe('filters never return excluded tokens', () => {
  it('top-p cuts through tied weights by token id (0.3 of the mass takes two of four equal best tokens: the lowest ids, 1 and 2)', () => {
    const counts = sampleCounts(Float32Array.from([0, 1, 1, 1, 1, -1]), {topP: 0.3}, 300)
    assert.deepEqual(counts.map((count) => count > 0), [false, true, true, false, false, false])
  })

  it('matches a brute-force sort of the filtered set on random rows', () => {
    const vocab = 3000
    const settings: Array<Partial<SamplingParams>> = [
      {topK: 7},
      {topP: 0.3},
      {topP: 0.9, temperature: 0.5},
      {minP: 0.2},
      {topK: 50, topP: 0.6, minP: 0.05, temperature: 1.5},
    ]
    settings.forEach((params, caseIndex) => {
      const logits = randomLogits(1, vocab, 100 + caseIndex, 4)
      const allowed = bruteForceAllowed(logits, makeSamplingParams(params))
      const counts = sampleCounts(logits, params, 400, caseIndex)
      counts.forEach((count, id) => {
        if (count > 0) assert.ok(allowed.has(id), `case ${caseIndex}: token ${id} is outside the filtered set`)
      })
      if (params.topK) assert.equal(allowed.size <= params.topK, true) // no exact ties in these rows
    })
  })
})

/** The filtered set by vLLM V1's definitions (min-p, then top-k keeping ties, then top-p), float64, full sort. */
function bruteForceAllowed(logits: Float32Array, params: SamplingParams): Set<number> {
  const max = Math.max(...logits)
  const weights = Array.from(logits, (x) => Math.exp((x - max) / params.temperature))
  let order = weights.map((_, id) => id).sort((a, b) => weights[b]! - weights[a]! || a - b)
  order = order.filter((id) => weights[id]! >= params.minP)
  if (params.topK > 0 && order.length > params.topK) order = order.filter((id) => weights[id]! >= weights[order[params.topK - 1]!]!)
  const total = order.reduce((sum, id) => sum + weights[id]!, 0)
  let above = 0
  const kept: number[] = []
  for (const id of order) {
    if (above >= params.topP * total) break
    kept.push(id)
    above += weights[id]!
  }
  return new Set(kept)
}

describe('penalties', () => {
  const logits = Float32Array.from([2, 1.9, -0.5, 0.1, 1.5])
  const greedy = (params: Partial<SamplingParams>, promptTokenIds: number[], outputTokenIds: number[]) =>
    sampleRows(logits, 5, [request({temperature: 0, ...params}, tokensOf(promptTokenIds, outputTokenIds))])[0]!.tokenId

  it('repetition penalty divides positive logits and multiplies negative ones, over prompt and output', () => {
    // token 0: 2 / 1.25 = 1.6 < 1.9, so token 1 wins when 0 was seen (in the prompt or the output).
    assert.equal(greedy({repetitionPenalty: 1.25}, [0], []), 1)
    assert.equal(greedy({repetitionPenalty: 1.25}, [], [0, 0, 0]), 1)
    // tokens 0 and 1 seen: 1.6 and 1.52 against token 4 at 1.5, so token 0 wins.
    assert.equal(greedy({repetitionPenalty: 1.25}, [1], [0]), 0)
    // penalty < 1 rewards repeats: token 4 at 1.5 / 0.7 = 2.14 beats 2.
    assert.equal(greedy({repetitionPenalty: 0.7}, [4], []), 4)
  })

  it('frequency penalty scales with the output count; presence penalty counts once; the prompt does not count', () => {
    // token 0 twice in the output: 2 - 2 x 0.1 = 1.8 < 1.9.
    assert.equal(greedy({frequencyPenalty: 0.1}, [], [0, 0]), 1)
    assert.equal(greedy({frequencyPenalty: 0.05}, [], [0]), 0) // 1.95 > 1.9
    assert.equal(greedy({frequencyPenalty: 0.1}, [0, 0, 0], []), 0)
    // presence: 2 - 0.2 = 1.8 whatever the count; token 1 also present: 1.7; token 4 at 1.5 stays below.
    assert.equal(greedy({presencePenalty: 0.2}, [], [0, 0, 0, 0]), 1)
    assert.equal(greedy({presencePenalty: 0.2}, [], [0, 1, 1]), 0)
    // a negative presence penalty encourages: token 4 at 1.5 + 0.6 = 2.1.
    assert.equal(greedy({presencePenalty: -0.6}, [], [4]), 4)
  })

  it('repetition applies before frequency/presence (order matters for positive logits)', () => {
    // token 4, repetition then presence: 1.5 / 2 - 1 = -0.25 < 0.1 (token 3 wins); the other order would give
    // (1.5 - 1) / 2 = 0.25 > 0.1 (token 4 would win).
    const promptTokenIds = [0, 1, 2]
    const row = Float32Array.from([-5, -5, -5, 0.1, 1.5])
    const [result] = sampleRows(row, 5, [request({temperature: 0, repetitionPenalty: 2, presencePenalty: 1}, tokensOf(promptTokenIds, [4]))])
    assert.equal(result!.tokenId, 3)
  })

  it('leaves the logits array exactly as given', () => {
    const row = randomLogits(1, 64, 8)
    const before = row.slice()
    sampleRows(row, 64, [
      request(
        {repetitionPenalty: 1.3, frequencyPenalty: 0.5, presencePenalty: 0.5, topP: 0.5},
        {...tokensOf([1, 2, 3, 3], [3, 4, 4, 63]), suppressTokenIds: [5, 6, 4]},
      ),
    ])
    assert.deepEqual(row, before)
  })
})

describe('suppression', () => {
  it('never returns a suppressed token, greedy or sampled', () => {
    const logits = Float32Array.from([5, 0, 4.9, 0, 0])
    const [greedyResult] = sampleRows(logits, 5, [request({temperature: 0}, {suppressTokenIds: [0]})])
    assert.equal(greedyResult!.tokenId, 2)
    for (let i = 0; i < 500; i++) {
      const [result] = sampleRows(logits, 5, [request({temperature: 2}, {seed: 3, stream: i, suppressTokenIds: [0, 2]})])
      assert.ok(result!.tokenId !== 0 && result!.tokenId !== 2)
    }
  })

  it('ignores suppressed ids outside the vocabulary', () => {
    const [result] = sampleRows(Float32Array.from([0, 1]), 2, [request({temperature: 0}, {suppressTokenIds: [7]})])
    assert.equal(result!.tokenId, 1)
  })
})

describe('rows', () => {
  it('several requests may read one row (best_of forks), and a row out of range throws', () => {
    const logits = randomLogits(2, 100, 4)
    const results = sampleRows(logits, 100, [request({}, {row: 1, seed: 1, stream: 0}), request({}, {row: 1, seed: 1, stream: 1})])
    assert.equal(results.length, 2)
    assert.throws(() => sampleRows(logits, 100, [request({}, {row: 2})]), RangeError)
  })

  it('takes each request\'s stats from its own row when requests read some rows out of order, and restores the logits', () => {
    const vocab = 777
    const logits = randomLogits(5, vocab, 11, 6)
    const before = logits.slice()
    const rowOf = (row: number) => logits.subarray(row * vocab, (row + 1) * vocab)
    const rankedIds = (row: number) => [...rowOf(row).keys()].sort((a, b) => rowOf(row)[b]! - rowOf(row)[a]! || a - b)
    const results = sampleRows(logits, vocab, [
      request({temperature: 0}, {row: 3}),
      // Halving row 1's best logit (about 6) puts the runner-up first.
      request({temperature: 0, repetitionPenalty: 2}, {row: 1, ...tokensOf([rankedIds(1)[0]!], [])}),
      request({temperature: 0.9}, {row: 3, seed: 5, stream: 0}),
    ])
    assert.deepEqual(logits, before)
    assert.equal(results[0]!.tokenId, rankedIds(3)[0])
    assert.equal(results[1]!.tokenId, rankedIds(1)[1])
    ;[3, 1, 3].forEach((row, i) => {
      const expected = logSoftmax64(rowOf(row))[results[i]!.tokenId]!
      assert.ok(Math.abs(results[i]!.logprob - expected) < 1e-6, `request ${i}: ${results[i]!.logprob} vs ${expected}`)
    })
  })
})
