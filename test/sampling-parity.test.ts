// vLLM (V1) sampling semantics in every sampler (sampler.ts and native/cpu/sampler.cpp, AVX2 and portable): min-p
// before top-k/top-p, top-k keeping ties, temperature 0 greedy and (0, 0.01) raised to 0.01, and hostile rows (NaN, +-Inf logits,
// suppression that leaves nothing) always giving a valid token; then vLLM's bounds and reported logprobs.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {bitmaskOf} from '../src/engine/guided/token-mask.js'
import {nativeOps} from '../src/engine/native.js'
import {encodeSampleRequests, sampledResult} from '../src/engine/native-sampling.js'
import {sampleRows, samplingDistribution, type SampleRequest, type SampleResult} from '../src/engine/sampler.js'
import {isGreedy, makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import type {TokenLogprobs} from '../src/engine/sequence.js'
import type {TokenizerLike} from '../src/server/engine-like.js'
import {chatLogprobs, completionLogprobs, tokenNamer, tokenText} from '../src/server/logprobs-format.js'

const ops = nativeOps()
const avx2 = ops.avx2Status()
after(() => ops.setAvx2(avx2.enabled))

function request(params: Partial<SamplingParams>, extra: Partial<SampleRequest> = {}): SampleRequest {
  return {row: 0, params: makeSamplingParams(params), tokenIds: [], promptLength: 0, seed: 1, stream: 0, suppressTokenIds: [], ...extra}
}

function nativeSample(logits: Float32Array, vocab: number, requests: SampleRequest[]): SampleResult[] {
  const arrays = encodeSampleRequests(requests, [])
  const sampled = ops.sampleRows(logits, logits.length / vocab, vocab, arrays)
  return requests.map((r, i) => sampledResult(sampled, i, arrays.topStride, r.params))
}

// Each sampler under test: the JS reference, and the native one with and without AVX2.
type Sampler = (logits: Float32Array, requests: SampleRequest[]) => SampleResult[]
const samplers: Array<readonly [string, Sampler]> = [
  ['sampler.ts', (logits, requests) => sampleRows(logits, logits.length, requests)],
  ['native portable', (logits, requests) => (ops.setAvx2(false), nativeSample(logits, logits.length, requests))],
  ...(avx2.supported ? [['native AVX2', (logits: Float32Array, requests: SampleRequest[]) => (ops.setAvx2(true), nativeSample(logits, logits.length, requests))] as const] : []),
]

/** The tokens drawn from one row over `draws` seeds, with their counts. */
function drawCounts(sample: Sampler, logits: Float32Array, params: Partial<SamplingParams>, draws = 300, extra: Partial<SampleRequest> = {}): Map<number, number> {
  const requests = Array.from({length: draws}, (_, seed) => request(params, {seed, ...extra}))
  const counts = new Map<number, number>()
  for (const {tokenId} of sample(logits, requests)) {
    assert.ok(Number.isInteger(tokenId) && tokenId >= 0 && tokenId < logits.length, `token ${tokenId} is not a vocabulary id`)
    counts.set(tokenId, (counts.get(tokenId) ?? 0) + 1)
  }
  return counts
}

const drawnSet = (counts: Map<number, number>) => [...counts.keys()].sort((a, b) => a - b)
const logOf = (probabilities: number[]) => Float32Array.from(probabilities, Math.log)

for (const [name, sample] of samplers) {
  describe(`vLLM order and definitions (${name})`, () => {
    it('min-p filters before top-p, so top-p sees the min-p renormalized mass', () => {
      // min-p 0.3 drops 0.1 (< 0.12); then [0.444, 0.333, 0.222]: top-p 0.75 stops before the third (0.778 above it).
      // With min-p last, top-p over the full row would keep the third (0.7 above it) and min-p would keep it too.
      const counts = drawCounts(sample, logOf([0.4, 0.3, 0.2, 0.1]), {minP: 0.3, topP: 0.75})
      assert.deepEqual(drawnSet(counts), [0, 1])
    })

    it('top-k keeps every token tied with the k-th (a threshold, as vLLM masks logits below the k-th value)', () => {
      const counts = drawCounts(sample, Float32Array.from([0, 1, 1, 1, 1, -1]), {topK: 2})
      assert.deepEqual(drawnSet(counts), [1, 2, 3, 4])
    })

    it('temperature 0 is greedy (ties to the lowest id); one in (0, 0.01) samples at 0.01, as vLLM raises it', () => {
      assert.deepEqual(drawnSet(drawCounts(sample, Float32Array.from([1, 5, 5, 2]), {temperature: 0}, 100)), [1])
      for (const temperature of [1e-6, 1e-30, 9.9e-6, 0.005]) {
        const counts = drawCounts(sample, Float32Array.from([1, 5, 5, 2]), {temperature}, 100)
        assert.deepEqual(drawnSet(counts), [1, 2], `temperature ${temperature}: the tied pair is sampled, not the argmax`)
      }
      // At 0.01 a gap of 0.05 leaves the second token exp(-5) of the first's weight, which 2000 draws see; at 0.001 it
      // would be exp(-50), never drawn.
      const counts = drawCounts(sample, Float32Array.from([3, 3.05, -1]), {temperature: 0.001}, 2000)
      assert.deepEqual(drawnSet(counts), [0, 1])
    })
  })

  describe(`hostile logits give a valid token (${name})`, () => {
    const nan = Number.NaN
    it('NaN logits are never drawn, whatever the filters (top-k used to return no token at all)', () => {
      const logits = Float32Array.from([nan, 1, nan, 2, nan, 0.5])
      for (const params of [{topK: 2}, {topK: 3, topP: 0.9}, {topP: 0.5}, {minP: 0.1}, {}, {temperature: 0}] as Array<Partial<SamplingParams>>) {
        const drawn = drawnSet(drawCounts(sample, logits, params, 100))
        assert.ok(drawn.every((id) => [1, 3, 5].includes(id)), `${JSON.stringify(params)} drew ${drawn}`)
      }
      assert.deepEqual(drawnSet(drawCounts(sample, logits, {temperature: 0}, 5)), [3])
    })

    it('+Inf logits share all the mass; -Inf ones are never drawn', () => {
      const logits = Float32Array.from([1, Infinity, -Infinity, Infinity, 3])
      for (const params of [{}, {topK: 3}, {topP: 0.9, minP: 0.2}, {temperature: 0.5}] as Array<Partial<SamplingParams>>)
        assert.deepEqual(drawnSet(drawCounts(sample, logits, params, 100)), [1, 3], JSON.stringify(params))
      assert.deepEqual(drawnSet(drawCounts(sample, logits, {temperature: 0}, 5)), [1])
    })

    it('a row with no finite logit still gives a vocabulary id', () => {
      for (const fill of [nan, -Infinity])
        for (const params of [{}, {topK: 5}, {topP: 0.5, minP: 0.5}, {temperature: 0}] as Array<Partial<SamplingParams>>)
          drawCounts(sample, new Float32Array(40).fill(fill), params, 20)
    })

    it('suppression that leaves nothing is dropped: the mask (grammar) wins, and the logits choose within it', () => {
      // Mask {11, 17}, both suppressed (bad words / min_tokens): 17 is the model's choice, not the lowest id.
      const logits = new Float32Array(40).fill(0)
      logits[11] = 1
      logits[17] = 4
      const mask = bitmaskOf([11, 17], 40)
      assert.deepEqual(drawnSet(drawCounts(sample, logits, {temperature: 0}, 5, {allowedMask: mask, suppressTokenIds: [11, 17]})), [17])
      assert.deepEqual(drawnSet(drawCounts(sample, logits, {temperature: 1}, 200, {allowedMask: mask, suppressTokenIds: [11, 17]})), [11, 17])
      // Without a mask too: a model that offers only EOS (the rest -Inf) while min_tokens suppresses it still gets EOS.
      const onlyEos = new Float32Array(40).fill(-Infinity)
      onlyEos[2] = 0
      assert.deepEqual(drawnSet(drawCounts(sample, onlyEos, {temperature: 0.8}, 20, {suppressTokenIds: [2]})), [2])
    })
  })
}

describe('samplingDistribution (speculative decoding) follows the same rules', () => {
  it('is a point mass for tiny temperatures, has no NaN for NaN/Inf rows, and applies min-p before top-p', () => {
    const greedy = samplingDistribution(Float32Array.from([1, 5, 5, 2]), 4, request({temperature: 0}))
    assert.deepEqual([...greedy], [0, 1, 0, 0])
    const tiny = samplingDistribution(Float32Array.from([1, 5, 5, 2]), 4, request({temperature: 1e-6}))
    assert.deepEqual([...tiny].map((p) => Math.round(p * 1000) / 1000), [0, 0.5, 0.5, 0])
    const hostile = samplingDistribution(Float32Array.from([Number.NaN, Infinity, 2, Infinity]), 4, request({topK: 2}))
    assert.deepEqual([...hostile], [0, 0.5, 0, 0.5])
    const ordered = samplingDistribution(logOf([0.4, 0.3, 0.2, 0.1]), 4, request({minP: 0.3, topP: 0.75}))
    assert.deepEqual(Array.from(ordered, (p) => p > 0), [true, true, false, false])
  })
})

describe("vLLM's request and reply edges", () => {
  it('temperature in (0, 0.01) becomes 0.01 and seed -1 means no seed, as vLLM\'s SamplingParams make them', () => {
    for (const temperature of [1e-30, 1e-6, 1e-5, 0.0099]) assert.equal(makeSamplingParams({temperature}).temperature, 0.01)
    for (const temperature of [0, 0.01, 0.5, 100]) assert.equal(makeSamplingParams({temperature}).temperature, temperature)
    assert.equal(isGreedy(makeSamplingParams({temperature: 1e-6})), false)
    assert.equal(makeSamplingParams({seed: -1}).seed, null)
    assert.equal(makeSamplingParams({seed: -2}).seed, -2)
  })

  it('repetition_penalty is bounded only below, as in vLLM (3 and 10 are valid; 0, negative and Infinity are not)', () => {
    for (const repetitionPenalty of [3, 10, 0.01]) assert.equal(makeSamplingParams({repetitionPenalty}).repetitionPenalty, repetitionPenalty)
    for (const repetitionPenalty of [0, -1, Infinity, Number.NaN]) assert.throws(() => makeSamplingParams({repetitionPenalty}), /repetition_penalty/)
  })

  it('a -inf (or NaN) logprob is reported as -9999.0, as vLLM does, never as JSON null', () => {
    const decode = (ids: number[]) => ids.map((id) => String.fromCharCode(97 + id)).join('')
    const tokenizer = {decode, tokenBytes: (id: number) => new Uint8Array(Buffer.from(decode([id])))} as unknown as TokenizerLike
    const logprobs: TokenLogprobs = new Map([[0, -0.5], [1, -Infinity], [2, Number.NaN]])
    const chat = chatLogprobs(tokenizer, tokenNamer(tokenizer, false), [1], [logprobs], 3)
    assert.equal(chat.content[0]!.logprob, -9999)
    assert.deepEqual(new Set(chat.content[0]!.top_logprobs.map((entry) => entry.logprob)), new Set([-0.5, -9999]))
    const completion = completionLogprobs(tokenNamer(tokenizer, false), tokenText(tokenizer), [2, 1], [logprobs, logprobs], 3, 0)
    assert.deepEqual(completion.token_logprobs, [-9999, -9999])
    assert.ok(Object.values(completion.top_logprobs[0]!).every((value) => Number.isFinite(value)))
    assert.ok(!JSON.stringify({chat, completion}).includes('null'))
  })
})

describe('n > 1 with one seed (engine, tiny model)', () => {
  it('gives n different samples (each its own Philox stream), the same ones on every run', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny'), threads: 1, numBlocks: 256, blockSize: 16}))
    try {
      const request = {prompt: [5, 9, 13, 21, 34], params: makeSamplingParams({n: 4, temperature: 1.2, seed: 42, maxTokens: 8, ignoreEos: true})}
      const [first] = await engine.generate([request])
      const [again] = await engine.generate([request])
      const samples = first!.outputs.map((output) => output.tokenIds.join(','))
      assert.equal(new Set(samples).size, 4, `n = 4 with one seed gave ${new Set(samples).size} distinct samples`)
      assert.deepEqual(again!.outputs.map((output) => output.tokenIds.join(',')), samples)
    } finally {
      await engine.shutdown()
    }
  })
})
