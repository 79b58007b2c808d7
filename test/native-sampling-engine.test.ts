// Sampling in the backend, end to end: the same tokens as the JS sampler (PAGEDLLM_SAMPLER=js), seeded outputs that
// do not depend on the batch, and no logits rows sent to JS for plain requests (q8_0 weights: batch-invariant logits).
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {NativeModel} from '../src/engine/native.js'
import {makeSamplingParams, type SamplingParamsInput} from '../src/engine/sampling-params.js'
import {makeSpeculativeConfig} from '../src/engine/spec-decode/spec-config.js'

let modelDir: string

const prompt = (i: number) => Array.from({length: 4 + 3 * i}, (_, t) => 1 + ((t * 37 + i * 101) % 250))
const PARAMS: SamplingParamsInput[] = [
  {temperature: 0.8, topP: 0.9, seed: 1},
  {temperature: 0},
  {temperature: 1.1, topK: 20, minP: 0.05, seed: 2, logprobs: 3},
  {temperature: 0.7, repetitionPenalty: 1.3, frequencyPenalty: 0.5, presencePenalty: 0.3, seed: 3},
  {temperature: 0.9, logitBias: {5: 4, 9: -100}, seed: 4, logprobs: 0},
  {temperature: 1, n: 2, bestOf: 3, seed: 5},
  {temperature: 0.8, seed: 6, minTokens: 6},
  // These take the JS path (their rows come back as logits) in the same steps as the others.
  {temperature: 0.8, seed: 7, allowedTokenIds: [3, 8, 21, 40, 77]},
  {temperature: 0.6, seed: 8, promptLogprobs: 2},
]
const REQUESTS = PARAMS.map((params, i) => ({prompt: prompt(i), params: makeSamplingParams({maxTokens: 12, ignoreEos: true, ...params})}))

async function generate(requests: typeof REQUESTS, sampler: 'native' | 'js' = 'native') {
  if (sampler === 'js') process.env.PAGEDLLM_SAMPLER = 'js'
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, device: 'cpu', kvMemoryBytes: 8 << 20, threads: 2, quantization: 'q8_0'}))
  try {
    const results = await engine.generate(requests)
    return results.map((r) => r.outputs.map((o) => ({tokens: o.tokenIds, logprobs: o.logprobs, cumulative: o.cumulativeLogprob})))
  } finally {
    delete process.env.PAGEDLLM_SAMPLER
    await engine.shutdown()
  }
}

describe('sampling in the backend (engine)', () => {
  let batched: Awaited<ReturnType<typeof generate>>
  before(async () => {
    modelDir = await ensureTestModel('tiny')
    batched = await generate(REQUESTS)
  })

  it('each request gives the same tokens and logprobs alone as batched', async () => {
    for (const [i, request] of REQUESTS.entries()) assert.deepEqual((await generate([request]))[0], batched[i], `request ${i}`)
  })

  it('gives the tokens the JS sampler gives, logprobs within 1e-5', async () => {
    const reference = await generate(REQUESTS, 'js')
    reference.forEach((outputs, i) =>
      outputs.forEach((want, k) => {
        const got = batched[i]![k]!
        assert.deepEqual(got.tokens, want.tokens, `request ${i} output ${k}`)
        assert.ok(Math.abs(got.cumulative - want.cumulative) < 1e-4, `request ${i}: ${got.cumulative} vs ${want.cumulative}`)
        want.logprobs?.forEach((step, t) => {
          for (const [id, logprob] of step) assert.ok(Math.abs(got.logprobs![t]!.get(id)! - logprob) < 1e-5)
        })
      }),
    )
  })

  it('reports raw logprobs (vLLM\'s default logprobs_mode) on every path: equal to prompt_logprobs of the tokens fed back', async () => {
    // Penalties and a bias change what is drawn, never what is reported; beams (no edits here) and accepted n-gram
    // drafts report the same raw values. repetition_penalty 0.01 makes the tiny model repeat, so drafts are accepted.
    const repeating = Array.from({length: 40}, (_, t) => 3 + (t % 7))
    const cases: Array<{name: string; prompt: number[]; params: SamplingParamsInput; sampler?: 'js'; speculate?: boolean}> = [
      {name: 'backend, penalties and bias', prompt: prompt(1), params: {temperature: 1.3, seed: 7, repetitionPenalty: 100, frequencyPenalty: 2, logitBias: {5: 100}, logprobs: 5}},
      {name: 'JS sampler, the same', prompt: prompt(1), params: {temperature: 1.3, seed: 7, repetitionPenalty: 100, frequencyPenalty: 2, logitBias: {5: 100}, logprobs: 5}, sampler: 'js'},
      {name: 'temperature 100, top_k past the vocabulary', prompt: prompt(2), params: {temperature: 100, topK: 600, seed: 3, logprobs: 20}},
      {name: 'beam search', prompt: prompt(3), params: {useBeamSearch: true, n: 2, temperature: 0, logprobs: 3}},
      {name: 'seeded, n-gram speculation', prompt: repeating, params: {temperature: 0.5, seed: 4, repetitionPenalty: 0.01, logprobs: 4}, speculate: true},
    ]
    const speculative = makeSpeculativeConfig({method: 'ngram', numSpeculativeTokens: 4, ngramMin: 1, ngramMax: 3, adaptive: false})
    const reference = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, device: 'cpu', kvMemoryBytes: 8 << 20, threads: 2, quantization: 'q8_0'}))
    try {
      for (const {name, prompt: tokens, params, sampler, speculate} of cases) {
        if (sampler === 'js') process.env.PAGEDLLM_SAMPLER = 'js'
        const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, device: 'cpu', kvMemoryBytes: 8 << 20, threads: 2, quantization: 'q8_0', speculative: speculate ? speculative : undefined}))
        let result
        try {
          ;[result] = await engine.generate([{prompt: tokens, params: makeSamplingParams({maxTokens: 12, ignoreEos: true, ...params})}])
        } finally {
          delete process.env.PAGEDLLM_SAMPLER
          await engine.shutdown()
        }
        if (speculate) assert.ok(result!.specDecode!.numAcceptedTokens > 0, `${name}: no draft accepted`)
        for (const output of result!.outputs) {
          const [fed] = await reference.generate([{prompt: [...tokens, ...output.tokenIds], params: makeSamplingParams({maxTokens: 1, promptLogprobs: 20})}])
          output.tokenIds.forEach((token, t) => {
            const want = fed!.promptLogprobs![tokens.length + t]!
            const got = output.logprobs![t]!
            assert.equal(got.get(token), want.get(token) ?? got.get(token), `${name}: token ${t}`)
            for (const [id, logprob] of got) if (want.has(id)) assert.equal(logprob, want.get(id), `${name}: token ${t}, id ${id}`)
            assert.ok([...got.keys()].filter((id) => want.has(id)).length >= Math.min(params.logprobs!, 1), `${name}: token ${t} compared nothing`)
          })
        }
      }
    } finally {
      await reference.shutdown()
    }
  })

  describe('what crosses to JS', () => {
    const original = NativeModel.prototype.stepAndSample
    const seen: Array<{samples: number; hostRows: number; logitsFloats: number}> = []
    before(() => {
      NativeModel.prototype.stepAndSample = async function (moves, batch, sampling) {
        const result = await original.call(this, moves, batch, sampling)
        seen.push({samples: sampling.ints.length / 16, hostRows: sampling.hostRows.length, logitsFloats: result.logits.length})
        return result
      }
    })
    after(() => {
      NativeModel.prototype.stepAndSample = original
    })

    it('plain requests get only token ids back; JS-path rows come back alone', async () => {
      await generate(REQUESTS.slice(0, 7))
      assert.ok(seen.length > 0 && seen.every((step) => step.hostRows === 0 && step.logitsFloats === 0), JSON.stringify(seen))
      seen.length = 0
      await generate(REQUESTS.slice(6, 8))
      const vocab = 512 // the tiny test model's
      assert.ok(seen.every((step) => step.samples <= 1 && step.hostRows <= 1 && step.logitsFloats === step.hostRows * vocab), JSON.stringify(seen))
      assert.ok(seen.some((step) => step.samples === 1 && step.hostRows === 1), 'a step with both paths')
    })
  })
})
