// Beam search with stop strings, stop tokens, min_tokens, logit_bias, penalties and logprobs, through the engine, against
// the reference beam search over the float64 reference model with the same edits written from their definitions.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import type {CompletionOutput} from '../src/engine/request-output.js'
import {makeSamplingParams, type SamplingParamsInput} from '../src/engine/sampling-params.js'
import {ReferenceModel} from './support/reference-model.js'
import {referenceBeamSearch, type ReferenceHypothesis} from './support/reference-beam-search.js'

const PROMPT = Array.from({length: 10}, (_, i) => 1 + ((i * 37 + 40 * 101) % 250))
const WIDTH = 3
const MAX_TOKENS = 8

let engine: LLMEngine
let reference: ReferenceModel
let eosTokenIds: readonly number[]

/**
 * log_softmax of the reference logits after vLLM's edits, from their definitions: logit_bias added; repetition penalty
 * on every distinct prompt + output token (positive logits divided, negative multiplied); frequency x count and
 * presence once per distinct output token subtracted; EOS (unless ignore_eos) and stop tokens banned until min_tokens.
 */
function processedLogprobs(tokens: number[], params: SamplingParamsInput): Float64Array {
  const logits = Float64Array.from(reference.nextLogits(tokens))
  for (const [id, bias] of Object.entries((params.logitBias ?? {}) as Record<number, number>)) logits[Number(id)] += bias
  const penalty = params.repetitionPenalty ?? 1
  for (const id of new Set(tokens)) logits[id] = logits[id]! > 0 ? logits[id]! / penalty : logits[id]! * penalty
  const output = tokens.slice(PROMPT.length)
  for (const id of new Set(output)) logits[id] -= (params.frequencyPenalty ?? 0) * output.filter((t) => t === id).length + (params.presencePenalty ?? 0)
  if (output.length < (params.minTokens ?? 0)) for (const id of [...(params.ignoreEos ? [] : eosTokenIds), ...(params.stopTokenIds ?? [])]) logits[id] = -Infinity
  const max = Math.max(...logits)
  const logSum = max + Math.log(logits.reduce((sum, value) => sum + Math.exp(value - max), 0))
  return logits.map((value) => value - logSum)
}

function expectedBeams(params: SamplingParamsInput): ReferenceHypothesis[] {
  const decode = (ids: number[]) => engine.tokenizer.decode(ids, {skipSpecialTokens: true})
  return referenceBeamSearch((tokens) => processedLogprobs(tokens, params), PROMPT, {
    beamWidth: WIDTH,
    n: params.n ?? WIDTH,
    maxTokens: MAX_TOKENS,
    lengthPenalty: params.lengthPenalty ?? 1,
    earlyStopping: params.earlyStopping ?? false,
    eosTokenIds: params.ignoreEos ? [] : eosTokenIds,
    // Stop tokens are banned (-Infinity) until min_tokens, so only a stop string needs the min_tokens check here.
    stopTokenIds: params.stopTokenIds ?? [],
    endsAt: (output) => output.length >= (params.minTokens ?? 0) && (params.stop ?? []).some((stop) => decode(output).includes(stop)),
  })
}

async function beams(params: SamplingParamsInput): Promise<CompletionOutput[]> {
  const [result] = await engine.generate([{prompt: PROMPT, params: makeSamplingParams({useBeamSearch: true, bestOf: WIDTH, n: WIDTH, temperature: 0, maxTokens: MAX_TOKENS, ...params})}])
  engine.checkKvInvariants()
  assert.equal(engine.stats().kv.usedBlocks, 0, 'every beam gave its blocks back')
  return result!.outputs
}

function assertMatchesReference(outputs: CompletionOutput[], expected: ReferenceHypothesis[]): void {
  assert.deepEqual(outputs.map((output) => output.tokenIds), expected.map((hypothesis) => hypothesis.tokenIds))
  outputs.forEach((output, i) => assert.ok(Math.abs(output.cumulativeLogprob - expected[i]!.cumulativeLogprob) < 1e-3, `beam ${i}: ${output.cumulativeLogprob} vs ${expected[i]!.cumulativeLogprob}`))
}

describe('beam search with stop conditions, penalties and logprobs', () => {
  before(async () => {
    const modelDir = await ensureTestModel('tiny')
    reference = await ReferenceModel.load(modelDir)
    engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, device: 'cpu', kvMemoryBytes: 8 << 20, threads: 1}))
    eosTokenIds = engine.model.generationConfig.eosTokenIds
  })
  after(async () => engine.shutdown())

  it('penalties and logit_bias edit each beam own row before ranking', async () => {
    const plain = await beams({ignoreEos: true})
    const biasToken = plain[0]!.tokenIds[1]!
    const params = {ignoreEos: true, repetitionPenalty: 1.8, frequencyPenalty: 0.7, presencePenalty: 0.4, logitBias: {[biasToken]: -3}}
    const edited = await beams(params)
    assertMatchesReference(edited, expectedBeams(params))
    assert.notDeepEqual(edited.map((o) => o.tokenIds), plain.map((o) => o.tokenIds), 'the edits changed the beams')
  })

  it('a stop token ends its beam (its text left out) and min_tokens holds it back', async () => {
    const plain = await beams({ignoreEos: true})
    const stopToken = plain[0]!.tokenIds[2]!
    const params = {ignoreEos: true, stopTokenIds: [stopToken]}
    const stopped = await beams(params)
    assertMatchesReference(stopped, expectedBeams(params))
    const ended = stopped.filter((output) => output.finishReason === 'stop')
    assert.ok(ended.length > 0)
    for (const output of ended) {
      assert.equal(output.stopReason, stopToken)
      assert.equal(output.tokenIds[output.tokenIds.length - 1], stopToken)
      assert.equal(output.text, engine.tokenizer.decode(output.tokenIds.slice(0, -1), {skipSpecialTokens: true}))
    }
    const held = {...params, minTokens: 5}
    const late = await beams(held)
    assertMatchesReference(late, expectedBeams(held))
    for (const output of late) assert.ok(output.tokenIds.slice(0, 4).every((id) => id !== stopToken))
  })

  it('a stop string ends its beam with its text cut as a sampled one, or kept with include_stop_str_in_output', async () => {
    const plain = await beams({ignoreEos: true})
    const text = plain[0]!.text
    const stop = [...text.slice(Math.floor(text.length / 2))].find((c) => c.trim() !== '')! + (text[Math.floor(text.length / 2) + 1] ?? '')
    for (const includeStopStrInOutput of [false, true]) {
      const params = {ignoreEos: true, stop: [stop.trim()], includeStopStrInOutput}
      const stopped = await beams(params)
      assertMatchesReference(stopped, expectedBeams(params))
      const ended = stopped.filter((output) => output.finishReason === 'stop')
      assert.ok(ended.length > 0, `some beam stops at ${JSON.stringify(stop)}`)
      for (const output of ended) {
        const full = engine.tokenizer.decode(output.tokenIds, {skipSpecialTokens: true})
        const at = full.indexOf(stop.trim())
        assert.equal(output.stopReason, stop.trim())
        assert.equal(output.text, full.slice(0, includeStopStrInOutput ? at + stop.trim().length : at))
      }
    }
  })

  it('logprobs are the processed logprobs beams rank by; top_logprobs as sampled; prompt_logprobs as sampled', async () => {
    const params = {ignoreEos: true, repetitionPenalty: 1.5, logprobs: 2, promptLogprobs: 1}
    const outputs = await beams(params)
    assertMatchesReference(outputs, expectedBeams(params))
    for (const output of outputs) {
      assert.equal(output.logprobs!.length, output.tokenIds.length)
      let sum = 0
      output.logprobs!.forEach((entry, i) => {
        const tokenId = output.tokenIds[i]!
        const expected = processedLogprobs([...PROMPT, ...output.tokenIds.slice(0, i)], params)
        assert.ok(entry.size === 2 || entry.size === 3, 'the top 2 and the chosen token')
        for (const [id, logprob] of entry) assert.ok(Math.abs(logprob - expected[id]!) < 1e-3, `token ${id} at ${i}`)
        sum += entry.get(tokenId)!
      })
      assert.ok(Math.abs(sum - output.cumulativeLogprob) < 1e-4, 'a beam cumulative logprob is the sum of its tokens')
    }
    const [sampled] = await engine.generate([{prompt: PROMPT, params: makeSamplingParams({temperature: 0, maxTokens: 1, promptLogprobs: 1})}])
    const [beamed] = await engine.generate([{prompt: PROMPT, params: makeSamplingParams({useBeamSearch: true, bestOf: 2, temperature: 0, maxTokens: 2, promptLogprobs: 1})}])
    assert.equal(beamed!.promptLogprobs!.length, PROMPT.length)
    assert.deepEqual(beamed!.promptLogprobs, sampled!.promptLogprobs)
  })

  it('three stop tokens ranking first on every beam: more than width end in one step, yet width beams continue', async () => {
    // transformers walks max(2, 1 + 3) x width candidates (beams_to_keep, every ending id counted); walking 2 x width,
    // every candidate ends at step 2 here and other beams are returned (the reference then differs).
    const stopTokenIds = [10, 11, 12]
    const params = {ignoreEos: true, stopTokenIds, logitBias: Object.fromEntries(stopTokenIds.map((id) => [id, 8])), lengthPenalty: 2, earlyStopping: 'never' as const}
    const outputs = await beams(params)
    assertMatchesReference(outputs, expectedBeams(params))
  })

  it('a stop string ending more than width + ending ids of one beam candidates: the walk reads further into that beam', async () => {
    // Two stop ids and five tokens whose text holds the stop string "q", all favoured: at the first step the prompt's 7
    // best candidates end, so the walk (max(2, 1 + 2) x width = 9 deep) needs the beam's 8th and 9th candidates.
    const stopTokenIds = [10, 11]
    const favoured = [...stopTokenIds, 118, 303, 372, 422, 444]
    const params = {ignoreEos: true, stop: ['q'], stopTokenIds, logitBias: Object.fromEntries(favoured.map((id, i) => [id, 20 - i / 10])), lengthPenalty: 2, earlyStopping: 'never' as const}
    const outputs = await beams(params)
    assertMatchesReference(outputs, expectedBeams(params))
  })

  it('EOS ends beams as before, with no stop reason, as a sampled EOS', async () => {
    // EOS made likely enough that beams end on it, but not before min_tokens.
    const params = {minTokens: 2, earlyStopping: true, logitBias: {[eosTokenIds[0]!]: 6}}
    const outputs = await beams(params)
    assertMatchesReference(outputs, expectedBeams(params))
    assert.ok(outputs.some((o) => o.finishReason === 'stop'))
    for (const output of outputs.filter((o) => o.finishReason === 'stop')) {
      assert.ok(eosTokenIds.includes(output.tokenIds[output.tokenIds.length - 1]!))
      assert.equal(output.stopReason, null)
    }
  })
})
