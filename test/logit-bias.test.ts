// OpenAI logit_bias end to end: schema validation, the sampler (before penalties and temperature), beam search, the engine and HTTP.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import type {LogitBias} from '../src/engine/logit-bias.js'
import {makeSamplingParams, type SamplingParamsInput} from '../src/engine/sampling-params.js'
import {sampleRows, type SampleRequest} from '../src/engine/sampler.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../src/server/http-server.js'
import {parseChatCompletionRequest} from '../src/server/chat-request.js'
import {parseCompletionRequest} from '../src/server/openai-schema.js'
import {tokensOf} from './support/sample-requests.js'

function request(params: SamplingParamsInput, extra: Partial<SampleRequest> = {}): SampleRequest {
  return {row: 0, params: makeSamplingParams(params), tokenIds: [], promptLength: 0, seed: 1, stream: 0, suppressTokenIds: [], ...extra}
}

/** A LogitBias as the {"<id>": bias} object it stands for. */
const asObject = (bias: LogitBias | null | undefined) => (bias ? Object.fromEntries([...bias.ids].map((id, i) => [id, bias.values[i]])) : bias)

function rejectsBias(parse: () => unknown, message: RegExp): void {
  assert.throws(parse, (error: unknown) => error instanceof InvalidRequestError && error.httpStatus === 400 && error.param === 'logit_bias' && message.test(error.message))
}

describe('logit_bias in the schema', () => {
  it('parses {"<id>": bias} on both endpoints', () => {
    assert.deepEqual(asObject(parseCompletionRequest({prompt: 'a', logit_bias: {'7': -2.5, '5': 100}}).sampling.logitBias), {5: 100, 7: -2.5})
    assert.deepEqual(asObject(parseChatCompletionRequest({messages: [{role: 'user', content: 'a'}], logit_bias: {'0': -100}}).sampling.logitBias), {0: -100})
    assert.equal(parseCompletionRequest({prompt: 'a'}).sampling.logitBias, undefined)
    assert.equal(makeSamplingParams({}).logitBias, null)
  })

  it('rejects ids that are not token ids with a 400; clamps values to [-100, 100] (vLLM)', () => {
    for (const key of ['abc', '-1', '1.5', '', '__proto__', '0x10']) rejectsBias(() => parseCompletionRequest({prompt: 'a', logit_bias: {[key]: 1}}), /keys must be token ids/)
    assert.deepEqual(asObject(parseCompletionRequest({prompt: 'a', logit_bias: {'3': 101, ' 04 ': -1e9}}).sampling.logitBias), {3: 100, 4: -100})
    // A key written two ways is one token: the last value wins, as in the JSON object it came from.
    assert.deepEqual(asObject(parseCompletionRequest({prompt: 'a', logit_bias: {'4': 1, ' 04 ': 2}}).sampling.logitBias), {4: 2})
    assert.deepEqual(asObject(parseChatCompletionRequest({messages: [{role: 'user', content: 'a'}], logit_bias: {'3': -100.5}}).sampling.logitBias), {3: -100})
    assert.throws(() => makeSamplingParams({logitBias: {3: 101}}), /in \[-100, 100\], got 101/)
    rejectsBias(() => parseCompletionRequest({prompt: 'a', logit_bias: {'3': 'x'}}), /must be numbers/)
    assert.throws(() => parseCompletionRequest({prompt: 'a', logit_bias: [1, 2]}), (error: unknown) => error instanceof InvalidRequestError && error.param === 'logit_bias')
  })
})

describe('logit_bias in the sampler', () => {
  const logits = Float32Array.from([3, 1, 0.5, -1, 2])

  it('+100 forces a token greedily and -100 bans one; the row is left as given and logprobs stay raw', () => {
    const before = Float32Array.from(logits)
    const [forced] = sampleRows(logits, 5, [request({temperature: 0, logitBias: {3: 100}})])
    assert.equal(forced!.tokenId, 3)
    const rawLogprob3 = -1 - Math.log([3, 1, 0.5, -1, 2].reduce((sum, value) => sum + Math.exp(value), 0))
    assert.ok(Math.abs(forced!.logprob - rawLogprob3) < 1e-5)
    const [banned] = sampleRows(logits, 5, [request({temperature: 0, logitBias: {0: -100}})])
    assert.equal(banned!.tokenId, 4)
    assert.deepEqual(logits, before)
    // Sampling at temperature 1: a banned token is never drawn, a forced one always is.
    for (let i = 0; i < 200; i++) {
      assert.notEqual(sampleRows(logits, 5, [request({logitBias: {0: -100, 4: -100}}, {seed: i})])[0]!.tokenId, 0)
      assert.equal(sampleRows(logits, 5, [request({logitBias: {2: 100}}, {seed: i})])[0]!.tokenId, 2)
    }
  })

  it('comes before the repetition penalty, which still applies to a biased token', () => {
    // Token 1: 1 + 2.5 = 3.5 beats token 0 (3); the penalty then halves it to 1.75, so token 0 wins.
    const [result] = sampleRows(logits, 5, [request({temperature: 0, logitBias: {1: 2.5}, repetitionPenalty: 2}, tokensOf([1], []))])
    assert.equal(result!.tokenId, 0)
    const [unpenalized] = sampleRows(logits, 5, [request({temperature: 0, logitBias: {1: 2.5}})])
    assert.equal(unpenalized!.tokenId, 1)
  })
})

describe('logit_bias in the engine', () => {
  let modelDir: string
  before(async () => {
    modelDir = await ensureTestModel('tiny')
  })

  it('forces and bans tokens in greedy decoding and beam search; ids outside the vocabulary get a 400 over HTTP', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, kvMemoryBytes: 8 << 20, threads: 1}))
    const server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, version: '0', log: () => {}})
    try {
      const prompt = [5, 9, 13, 2]
      const run = async (params: SamplingParamsInput) =>
        (await engine.addRequest({prompt, params: makeSamplingParams({temperature: 0, maxTokens: 6, ignoreEos: true, ...params})}).result()).outputs
      const [plain] = await run({})
      const first = plain!.tokenIds[0]!
      assert.deepEqual((await run({logitBias: {77: 100}}))[0]!.tokenIds, [77, 77, 77, 77, 77, 77])
      const [banned] = await run({logitBias: {[first]: -100}})
      assert.ok(!banned!.tokenIds.includes(first))
      const beams = await run({useBeamSearch: true, n: 2, logitBias: {91: 100}})
      // The best beam takes the biased token every step; the runner-up differs from it in one token only.
      const [best, second] = [...beams].sort((a, b) => b.cumulativeLogprob - a.cumulativeLogprob)
      assert.deepEqual(best!.tokenIds, [91, 91, 91, 91, 91, 91])
      assert.equal(second!.tokenIds.filter((id) => id !== 91).length, 1)
      assert.throws(() => engine.addRequest({prompt, params: makeSamplingParams({logitBias: {512: 1}})}), /logit_bias token id 512 is outside the vocabulary \[0, 512\)/)
      // The first id past the vocabulary is named, however many there are.
      const pastVocabulary = {1: 1, ...Object.fromEntries(Array.from({length: 100}, (_, i) => [9000 - 7 * i, 1])), 600: 2}
      assert.throws(() => engine.addRequest({prompt, params: makeSamplingParams({logitBias: pastVocabulary})}), /logit_bias token id 600 is outside/)

      const {url} = await server.listen()
      server.attachEngine(engine)
      const post = (body: unknown) => fetch(`${url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
      const outside = await post({prompt: prompt, max_tokens: 2, logit_bias: {'512': 5}})
      assert.equal(outside.status, 400)
      assert.equal(((await outside.json()) as {error: {param: string}}).error.param, 'logit_bias')
      assert.equal((await post({prompt: prompt, max_tokens: 2, logit_bias: {'1': 'x'}})).status, 400)
      const forced = await post({prompt: prompt, max_tokens: 3, temperature: 0, logit_bias: {'77': 100}})
      assert.equal(forced.status, 200)
      assert.equal(((await forced.json()) as {choices: {text: string}[]}).choices[0]!.text, engine.tokenizer.decode([77, 77, 77]))
    } finally {
      await server.shutdown(0)
      await engine.shutdown()
    }
  })
})
