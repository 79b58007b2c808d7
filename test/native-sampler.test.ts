// The backend's sampler (native/cpu/sampler.cpp) against the JS reference (sampler.ts) over random rows and parameter
// combinations, with and without AVX2; Philox known answers; penalty, bias, min-p and mask edge cases.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {bitmaskOf} from '../src/engine/guided/token-mask.js'
import {nativeOps} from '../src/engine/native.js'
import {encodeSampleRequests, sampledResult} from '../src/engine/native-sampling.js'
import {philox4x32, sampleUniform} from '../src/engine/philox.js'
import {makeRng} from '../src/engine/random.js'
import {sampleRows, samplingDistribution, type SampleRequest, type SampleResult} from '../src/engine/sampler.js'
import {makeSamplingParams, type SamplingParamsInput} from '../src/engine/sampling-params.js'
import {extremeRequest, hostileRow, HOSTILE_ROW_KINDS, modelLikeLogits, randomRequest, tokensOf} from './support/sample-requests.js'

const ops = nativeOps()
const avx2 = ops.avx2Status()
after(() => ops.setAvx2(avx2.enabled))

function nativeSample(logits: Float32Array, vocab: number, requests: SampleRequest[]): SampleResult[] {
  const arrays = encodeSampleRequests(requests, [])
  const sampled = ops.sampleRows(logits, logits.length / vocab, vocab, arrays)
  return requests.map((request, i) => sampledResult(sampled, i, arrays.topStride, request.params))
}

function request(params: SamplingParamsInput, extra: Partial<SampleRequest> = {}): SampleRequest {
  return {row: 0, params: makeSamplingParams(params), tokenIds: [], promptLength: 0, seed: 1, stream: 0, suppressTokenIds: [], ...extra}
}

/** Logprobs agree within 1e-5 (relative past 1), or are the same NaN / infinity (a broken model's rows). */
const sameLogprob = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) < 1e-5 * Math.max(1, Math.abs(b))

function assertSameResults(native: SampleResult[], reference: SampleResult[], requests: SampleRequest[]): void {
  native.forEach((got, i) => {
    const want = reference[i]!
    const where = `request ${i}: ${JSON.stringify({...requests[i]!.params, guided: undefined})}`
    assert.equal(got.tokenId, want.tokenId, where)
    assert.ok(sameLogprob(got.logprob, want.logprob), `${where}: logprob ${got.logprob} vs ${want.logprob}`)
    if (want.topLogprobs === null) return assert.equal(got.topLogprobs, null)
    assert.deepEqual([...got.topLogprobs!.keys()], [...want.topLogprobs.keys()], where)
    for (const [id, logprob] of want.topLogprobs) assert.ok(sameLogprob(got.topLogprobs!.get(id)!, logprob), where)
  })
}

describe('Philox4x32-10', () => {
  it('gives the Random123 known answers', () => {
    const hex = (words: number[]) => words.map((w) => w.toString(16).padStart(8, '0')).join(' ')
    assert.equal(hex(philox4x32(0, 0, 0, 0, 0, 0)), '6627e8d5 e169c58d bc57ac4c 9b00dbd8')
    const ones = 0xffffffff
    assert.equal(hex(philox4x32(ones, ones, ones, ones, ones, ones)), '408f276d 41c83b0e a20bc7c6 6d5451fd')
    assert.equal(hex(philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0)), 'd16cfe09 94fdcceb 5001e420 24126ea1')
  })

  it('draws uniforms in [0, 1) that differ by seed, stream, position and the seed\'s high bits', () => {
    const values = Array.from({length: 20000}, (_, i) => sampleUniform(9, 0, i))
    assert.ok(values.every((v) => v >= 0 && v < 1))
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    assert.ok(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / values.length), `mean ${mean}`)
    const variants = [sampleUniform(5, 2, 3), sampleUniform(6, 2, 3), sampleUniform(5, 3, 3), sampleUniform(5, 2, 4), sampleUniform(5 + 2 ** 32, 2, 3), sampleUniform(-5, 2, 3)]
    assert.equal(new Set(variants).size, variants.length)
  })
})

for (const useAvx2 of [true, false]) {
  describe(`native sampler vs sampler.ts (${useAvx2 ? 'AVX2' : 'portable'})`, () => {
    it('gives the same tokens and logprobs over 1500 random requests on model-like rows', (t) => {
      if (useAvx2 && !avx2.supported) return t.skip('no AVX2 on this CPU')
      ops.setAvx2(useAvx2)
      for (const [vocab, rows] of [[3001, 24], [32000, 6]] as const) {
        const logits = modelLikeLogits(rows, vocab, vocab)
        const rng = makeRng(vocab, 1)
        const requests = Array.from({length: 750}, () => randomRequest(rng, rows, vocab))
        const before = logits.slice()
        assertSameResults(nativeSample(logits, vocab, requests), sampleRows(logits, vocab, requests), requests)
        assert.deepEqual(logits, before, 'the logits are left as they were')
      }
    })

    it('agrees at the extremes: 768 requests over hostile rows at vocab sizes 7, 33 and 1031, each a vocabulary id', (t) => {
      // scripts/fuzz-sampling.ts runs the same generators at vocab 50257 and 151936 (too slow for every test run).
      if (useAvx2 && !avx2.supported) return t.skip('no AVX2 on this CPU')
      ops.setAvx2(useAvx2)
      const rng = makeRng(13, 2)
      for (const vocab of [7, 33, 1031]) {
        const kinds = HOSTILE_ROW_KINDS.map((kind) => hostileRow(rng, kind, vocab))
        const logits = new Float32Array(kinds.length * vocab)
        kinds.forEach((row, r) => logits.set(row, r * vocab))
        const requests = Array.from({length: 256}, () => extremeRequest(rng, Math.floor(rng.nextFloat() * kinds.length), vocab))
        const native = nativeSample(logits, vocab, requests)
        assertSameResults(native, sampleRows(logits, vocab, requests), requests)
        native.forEach(({tokenId}, i) => {
          assert.ok(Number.isInteger(tokenId) && tokenId >= 0 && tokenId < vocab, `token ${tokenId}`)
          const request = requests[i]!
          const distribution = samplingDistribution(logits, vocab, request)
          assert.ok(distribution[tokenId]! > 0, `request ${i}: token ${tokenId} is outside the distribution speculation verifies against`)
        })
      }
    })
  })
}

describe('native sampler edge cases', () => {
  const vocab = 40
  const logits = Float32Array.from({length: vocab}, (_, i) => Math.sin(i) * 3)
  const both = (requests: SampleRequest[]) => {
    const native = nativeSample(logits, vocab, requests)
    assertSameResults(native, sampleRows(logits, vocab, requests), requests)
    return native
  }
  const ranked = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b)

  it('greedy takes the first of tied maxima; a bias of +100 forces a token, -100 bans the best', () => {
    const tied = Float32Array.from([1, 5, 2, 5])
    assert.equal(nativeSample(tied, 4, [request({temperature: 0})])[0]!.tokenId, 1)
    assert.equal(both([request({temperature: 0, logitBias: {7: 100}})])[0]!.tokenId, 7)
    assert.equal(both([request({temperature: 0, logitBias: {[ranked[0]!]: -100}})])[0]!.tokenId, ranked[1])
  })

  it('a logit_bias over the whole vocabulary acts as the biased row does, in both samplers, beside a request without one', () => {
    const rng = makeRng(11, 0)
    const bias = Object.fromEntries(Array.from({length: vocab}, (_, id) => [id, Math.round((rng.nextFloat() * 8 - 4) * 100) / 100]))
    const biased = logits.map((value, id) => value + bias[id]!)
    const best = biased.indexOf(Math.max(...biased))
    const [greedy, plain] = both([request({temperature: 0, logitBias: bias}), request({temperature: 0})])
    assert.equal(greedy!.tokenId, best)
    assert.equal(plain!.tokenId, ranked[0])
    // Sampled: the same draws as the biased row itself gets without a bias.
    for (let seed = 0; seed < 20; seed++) {
      const viaBias = both([request({temperature: 0.8, logitBias: bias}, {seed})])[0]!.tokenId
      assert.equal(viaBias, nativeSample(biased, vocab, [request({temperature: 0.8}, {seed})])[0]!.tokenId)
    }
  })

  it('a row only biased (peak from the bias entries, no biased copy when greedy) samples as the biased row does', () => {
    const size = 64
    const base = Float32Array.from({length: size}, (_, i) => (i === 10 ? 3 : i === 20 ? -Infinity : Math.cos(i) - 1))
    const cases: Array<Record<number, number>> = [
      {4: 3 - Math.cos(4) + 1}, // raised to tie the raw max below its argmax: the lower id wins
      {30: 3 - Math.cos(30) + 1}, // a tie above it: the raw argmax stays
      {10: -2.5}, // the raw argmax biased down: the next best is found by a whole pass
      {10: 0, 11: 0.25}, // the argmax biased by 0 stays the max
      {10: 2, 12: 100, 20: 100, [size + 5]: 100}, // -inf stays -inf; an id past the vocabulary is skipped
      Object.fromEntries(Array.from({length: size}, (_, id) => [id, (id % 5) - 2])), // every id
    ]
    for (const bias of cases) {
      const biased = base.map((value, id) => (bias[id] === undefined ? value : Math.fround(value + bias[id]!)))
      for (const params of [{temperature: 0}, {temperature: 0.8, topP: 0.9}]) {
        for (let seed = 0; seed < (params.temperature === 0 ? 1 : 12); seed++) {
          const where = `bias ${JSON.stringify(bias)}, ${JSON.stringify(params)}, seed ${seed}`
          const [got] = nativeSample(base, size, [request({...params, logitBias: bias}, {seed})])
          assert.equal(got!.tokenId, nativeSample(biased, size, [request(params, {seed})])[0]!.tokenId, where)
          assert.equal(got!.tokenId, sampleRows(base, size, [request({...params, logitBias: bias}, {seed})])[0]!.tokenId, where)
        }
      }
    }
  })

  it('penalties: repetition shrinks a positive and grows a negative logit once per token; frequency counts repeats', () => {
    const best = ranked[0]!
    assert.equal(both([request({temperature: 0, repetitionPenalty: 2}, tokensOf([best, best], [best]))])[0]!.tokenId, ranked[1])
    const worst = ranked[vocab - 1]!
    both([request({temperature: 0.7, repetitionPenalty: 1.9}, tokensOf([worst], [worst, ranked[2]!]))])
    const gap = logits[ranked[0]!]! - logits[ranked[1]!]!
    // Three repeats at frequency 0.4 cost 1.2: enough to lose the lead only when the gap is smaller.
    const repeated = both([request({temperature: 0, frequencyPenalty: 0.4}, tokensOf([], [best, best, best]))])[0]!.tokenId
    assert.equal(repeated, gap < 1.2 ? ranked[1] : best)
    assert.equal(both([request({temperature: 0, presencePenalty: 2, frequencyPenalty: 2}, tokensOf([], [best]))])[0]!.tokenId, gap < 4 ? ranked[1] : best)
  })

  it('min-p 1 keeps only the best token; min-p with top-k and top-p agrees with the reference on every seed', () => {
    for (let seed = 0; seed < 200; seed++) {
      assert.equal(both([request({temperature: 1.5, minP: 1}, {seed})])[0]!.tokenId, ranked[0])
      both([request({temperature: 1.2, minP: 0.05, topK: 9, topP: 0.8}, {seed, stream: seed % 3})])
    }
  })

  it('suppression and the mask: a suppressed token is never drawn; when suppression empties the mask, the mask and the logits choose', () => {
    for (let seed = 0; seed < 100; seed++) {
      const [result] = both([request({temperature: 3}, {seed, suppressTokenIds: ranked.slice(0, 30)})])
      assert.ok(!ranked.slice(0, 30).includes(result!.tokenId))
    }
    const mask = bitmaskOf([11, 17], vocab)
    const better = logits[17]! > logits[11]! ? 17 : 11
    for (let seed = 0; seed < 20; seed++) assert.equal(both([request({temperature: seed % 2 ? 0 : 0.005}, {seed, allowedMask: mask, suppressTokenIds: [11, 17]})])[0]!.tokenId, better)
    for (let seed = 0; seed < 50; seed++) assert.ok([11, 17].includes(both([request({temperature: 2}, {seed, allowedMask: mask})])[0]!.tokenId))
  })

  it('best_of forks read one row with different streams; rows and ranges are checked', () => {
    const forks = both([0, 1, 2, 3].map((stream) => request({temperature: 2}, {stream, seed: 11})))
    assert.ok(new Set(forks.map((r) => r.tokenId)).size > 1, 'different streams draw differently')
    const arrays = encodeSampleRequests([request({}, {row: 1})], [])
    assert.throws(() => ops.sampleRows(logits, 1, vocab, arrays), /row outside/)
    const bad = encodeSampleRequests([request({}, tokensOf([], [1]))], [])
    bad.ints[9] = 99 // output range end past tokenIds
    assert.throws(() => ops.sampleRows(logits, 1, vocab, bad), /token range/)
  })
})
