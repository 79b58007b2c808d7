// Speculative decoding (n-gram prompt lookup): proposer, exact verification (greedy identity, seeded identity, the
// target distribution), and the engine alone, batched, preempted, with stops, n > 1 and every KV policy.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import {makeEngineConfig, type EngineConfig, type KvPolicy} from '../src/engine/config.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import type {RequestOutput} from '../src/engine/request-output.js'
import {sampleRows} from '../src/engine/sampler.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {proposeNgram} from '../src/engine/spec-decode/ngram-proposer.js'
import {makeSpeculativeConfig, parseSpeculativeConfigJson} from '../src/engine/spec-decode/spec-config.js'
import {verifyDraft} from '../src/engine/spec-decode/verify.js'
import {ApiServer, DEFAULT_SERVER_OPTIONS} from '../src/server/http-server.js'
import {TINYCHAT_DIR, tinychatReference} from './support/tinychat.js'

const ngram = (overrides: Record<string, unknown> = {}) => makeSpeculativeConfig({method: 'ngram', ...overrides})

async function run(modelPath: string, overrides: Partial<EngineConfig>, requests: Array<{prompt: number[] | string; params: SamplingParams}>) {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath, device: 'cpu', kvMemoryBytes: 8 << 20, threads: 1, ...overrides}))
  try {
    const outputs = await engine.generate(requests)
    const stats = engine.stats()
    assert.equal(stats.kv.usedBlocks, 0, 'every block is back')
    return {outputs, stats}
  } finally {
    await engine.shutdown()
  }
}

const tokensOf = (outputs: RequestOutput[]) => outputs.map((output) => output.outputs.map((completion) => completion.tokenIds))

/** Prompts that repeat a short phrase (so lookups hit) and one with no repeats at all. */
function prompts(): number[][] {
  const repeating = [0, 1, 2].map((salt) => Array.from({length: 18 + 9 * salt}, (_, i) => 1 + (((i % (5 + salt)) * 37 + salt * 101) % 250)))
  const plain = Array.from({length: 30}, (_, i) => 3 + i * 7)
  return [...repeating, plain]
}

const greedy = (maxTokens: number) => makeSamplingParams({temperature: 0, maxTokens, ignoreEos: true})

describe('n-gram proposer', () => {
  it('proposes what followed the most recent earlier match of the longest suffix', () => {
    assert.deepEqual(proposeNgram([1, 2, 3, 9, 1, 2, 3, 7, 5, 1, 2, 3], 1, 3, 4), [7, 5, 1, 2])
    assert.deepEqual(proposeNgram([1, 2, 3, 9, 1, 2, 3, 7, 5, 1, 2, 3], 1, 3, 1), [7])
    // The 2-gram [4, 5] never recurs; the 1-gram [5] does.
    assert.deepEqual(proposeNgram([5, 8, 4, 5], 1, 2, 3), [8, 4, 5])
    assert.deepEqual(proposeNgram([5, 8, 4, 5], 2, 2, 3), [])
    assert.deepEqual(proposeNgram([1, 2, 3], 1, 3, 4), [])
    assert.deepEqual(proposeNgram([7, 7], 1, 1, 0), [])
  })

  it('the config refuses bad values with the flag named, and reads vLLM-style JSON', () => {
    assert.throws(() => ngram({ngramMin: 3, ngramMax: 2}), (error: Error) => error instanceof InvalidRequestError && /--ngram-min 3 exceeds --ngram-max 2/.test(error.message))
    assert.throws(() => ngram({numSpeculativeTokens: 0}), /--num-speculative-tokens/)
    // The default shortest suffix (2) follows a smaller --ngram-max instead of refusing it.
    assert.deepEqual([ngram({}).ngramMin, ngram({ngramMax: 1}).ngramMin, ngram({ngramMax: 1}).ngramMax], [2, 1, 1])
    assert.throws(() => makeSpeculativeConfig({method: 'eagle'}), /--speculative-method must be ngram/)
    assert.deepEqual(parseSpeculativeConfigJson('{"method":"ngram","num_speculative_tokens":3,"prompt_lookup_max":2}'), {method: 'ngram', numSpeculativeTokens: 3, ngramMax: 2})
    assert.throws(() => parseSpeculativeConfigJson('{"method":"ngram","k":3}'), /unknown key k/)
  })
})

describe('verification keeps the target distribution', () => {
  it('a draft token verified against a small-vocabulary row is distributed as the row (chi-square, seeded draws)', () => {
    const vocabSize = 6
    const logits = Float32Array.from([1.2, 0.1, -0.5, 2.0, 0.7, -1.0, /* row 1 */ 0.3, 0.3, 1.5, -0.2, 0.0, 0.9])
    const params = makeSamplingParams({temperature: 0.9, maxTokens: 8})
    const target = Array.from(logits.subarray(0, vocabSize), (value) => Math.exp(value / 0.9))
    const total = target.reduce((sum, value) => sum + value, 0)
    const draws = 6000
    for (const draftToken of [3, 5]) {
      const counts = new Array<number>(vocabSize).fill(0)
      let accepted = 0
      for (let seed = 0; seed < draws; seed++) {
        const out: number[] = []
        accepted += verifyDraft([draftToken], [0, 1], (row) => {
          const [result] = sampleRows(logits, vocabSize, [{row, params, tokenIds: out, promptLength: 0, seed, stream: 0, suppressTokenIds: []}])
          out.push(result!.tokenId)
          return {tokenId: result!.tokenId, finished: false}
        })
        counts[out[0]!]!++
        assert.equal(out.length, out[0] === draftToken ? 2 : 1, 'an accepted draft earns a bonus token, a rejected one ends the step')
      }
      // 5 degrees of freedom: 20.5 is the 0.999 quantile.
      const chiSquare = counts.reduce((sum, count, token) => sum + (count - (draws * target[token]!) / total) ** 2 / ((draws * target[token]!) / total), 0)
      assert.ok(chiSquare < 20.5, `draft ${draftToken}: chi-square ${chiSquare.toFixed(1)} for counts ${counts}`)
      const expectedAcceptance = target[draftToken]! / total
      assert.ok(Math.abs(accepted / draws - expectedAcceptance) < 0.03, `acceptance ${accepted / draws} vs p(draft) ${expectedAcceptance}`)
    }
  })
})

describe('speculative decoding in the engine', () => {
  let modelDir: string
  before(async () => {
    modelDir = await ensureTestModel('tiny')
  })

  it('greedy output is identical with and without speculation, alone and batched with requests that get no proposals', async () => {
    const all = prompts()
    const requests = all.map((prompt) => ({prompt, params: greedy(40)}))
    const plain = await run(modelDir, {}, requests)
    const alone = await run(modelDir, {speculative: ngram()}, [requests[0]!])
    assert.deepEqual(tokensOf(alone.outputs), tokensOf(plain.outputs).slice(0, 1))
    // 1-token matches: the random test model rarely repeats longer ones, and both accept and reject paths must run.
    const batched = await run(modelDir, {speculative: ngram({numSpeculativeTokens: 3, ngramMin: 1})}, requests)
    assert.deepEqual(tokensOf(batched.outputs), tokensOf(plain.outputs))
    const {numDraftTokens, numAcceptedTokens} = batched.stats.specDecode
    assert.ok(numAcceptedTokens > 0 && numAcceptedTokens < numDraftTokens, `both paths run: ${numAcceptedTokens} of ${numDraftTokens} accepted`)
    assert.ok(batched.stats.numSteps < plain.stats.numSteps, `fewer steps: ${batched.stats.numSteps} vs ${plain.stats.numSteps}`)
    const perRequest = batched.outputs[0]!.specDecode!
    assert.equal(perRequest.acceptanceRate, perRequest.numAcceptedTokens / perRequest.numDraftTokens)
  })

  it('seeded sampling gives the same tokens with and without speculation (one draw per token, in order), n = 2 too', async () => {
    const params = makeSamplingParams({temperature: 0.7, topK: 20, maxTokens: 30, seed: 11, n: 2, ignoreEos: true, repetitionPenalty: 1.1})
    const requests = prompts().slice(0, 3).map((prompt) => ({prompt, params}))
    const plain = await run(modelDir, {}, requests)
    const spec = await run(modelDir, {speculative: ngram({adaptive: false})}, requests)
    assert.deepEqual(tokensOf(spec.outputs), tokensOf(plain.outputs))
    assert.ok(spec.stats.specDecode.numDraftTokens > 0)
  })

  for (const preemptionMode of ['recompute', 'swap'] as const) {
    it(`greedy identity under ${preemptionMode} preemption (a KV pool too small for the batch)`, async () => {
      const requests = prompts().map((prompt) => ({prompt, params: greedy(40)}))
      const plain = await run(modelDir, {}, requests)
      const spec = await run(modelDir, {speculative: ngram({adaptive: false}), numBlocks: 14, blockSize: 8, preemptionMode}, requests)
      assert.ok(spec.stats.numPreemptions > 0, 'the pool forced preemption')
      assert.deepEqual(tokensOf(spec.outputs), tokensOf(plain.outputs))
      assert.ok(spec.stats.specDecode.numAcceptedTokens > 0)
    })
  }

  for (const policy of ['orca-max', 'contiguous'] as KvPolicy[]) {
    it(`greedy identity under the ${policy} policy (its reservation already holds the draft slots)`, async () => {
      const requests = prompts().map((prompt) => ({prompt, params: greedy(24)}))
      const plain = await run(modelDir, {policy}, requests)
      const spec = await run(modelDir, {policy, speculative: ngram()}, requests)
      assert.deepEqual(tokensOf(spec.outputs), tokensOf(plain.outputs))
      assert.ok(spec.stats.specDecode.numAcceptedTokens > 0)
    })
  }

  it('chunked prefill and prefix caching: a long shared prompt run twice, with a small token budget', async () => {
    const base = prompts()[2]!
    const long = [...base, ...base, ...base]
    const requests = [long, [...long, 5]].map((prompt) => ({prompt, params: greedy(20)}))
    const overrides = {maxNumBatchedTokens: 24}
    const plain = await run(modelDir, overrides, [...requests, ...requests])
    const spec = await run(modelDir, {...overrides, speculative: ngram()}, [...requests, ...requests])
    assert.deepEqual(tokensOf(spec.outputs), tokensOf(plain.outputs))
  })

  it('guided requests get no drafts: their masks depend on every token before them', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, device: 'cpu', kvMemoryBytes: 8 << 20, threads: 1, speculative: ngram()}))
    try {
      const params = makeSamplingParams({temperature: 0, maxTokens: 40, guided: {kind: 'regex', pattern: '(ab){12}', param: 'guided_regex'}})
      await engine.prepareRequest(params)
      const [output] = await engine.generate([{prompt: prompts()[0]!, params}])
      assert.match(output!.outputs[0]!.text, /^(ab){12}$/)
      assert.equal(engine.stats().specDecode.numDraftTokens, 0)
    } finally {
      await engine.shutdown()
    }
  })

  it('beam search is refused with a clear message', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, device: 'cpu', kvMemoryBytes: 8 << 20, threads: 1, speculative: ngram()}))
    try {
      const params = makeSamplingParams({temperature: 0, maxTokens: 4, n: 2, useBeamSearch: true})
      assert.throws(() => engine.addRequest({prompt: [1, 2, 3], params}), (error: Error) => error instanceof InvalidRequestError && /beam search cannot run with speculative decoding/.test(error.message))
    } finally {
      await engine.shutdown()
    }
  })

  it('tinychat: greedy identity on its reference prompts, and a stop string cuts the text where plain decoding does', async () => {
    const reference = tinychatReference().prompts.slice(0, 4)
    const requests = reference.map((entry) => ({prompt: entry.prompt_token_ids, params: greedy(48)}))
    const plain = await run(TINYCHAT_DIR, {}, requests)
    const spec = await run(TINYCHAT_DIR, {speculative: ngram()}, requests)
    assert.deepEqual(tokensOf(spec.outputs), tokensOf(plain.outputs))
    assert.ok(spec.stats.specDecode.numAcceptedTokens > 0)

    const text = plain.outputs[0]!.outputs[0]!.text
    const stop = text.slice(Math.floor(text.length / 2), Math.floor(text.length / 2) + 3)
    const stopParams = makeSamplingParams({temperature: 0, maxTokens: 48, ignoreEos: true, stop: [stop]})
    const stopRequest = [{prompt: reference[0]!.prompt_token_ids, params: stopParams}]
    const [plainStop] = (await run(TINYCHAT_DIR, {}, stopRequest)).outputs
    const [specStop] = (await run(TINYCHAT_DIR, {speculative: ngram()}, stopRequest)).outputs
    assert.equal(specStop!.outputs[0]!.text, plainStop!.outputs[0]!.text)
    assert.deepEqual(specStop!.outputs[0]!.tokenIds, plainStop!.outputs[0]!.tokenIds)
    assert.equal(specStop!.outputs[0]!.finishReason, 'stop')
  })

  it('serve: completions match the offline engine, beam search is a 400, /metrics counts proposals', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: TINYCHAT_DIR, device: 'cpu', threads: 1, numBlocks: 256, speculative: ngram()}))
    const server = new ApiServer({...DEFAULT_SERVER_OPTIONS, port: 0, version: 'spec', log: () => {}})
    try {
      const {url} = await server.listen()
      server.attachEngine(engine)
      const prompt = tinychatReference().prompts[0]!.prompt_token_ids
      const post = (body: unknown) => fetch(`${url}/v1/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
      const response = await post({model: engine.modelName, prompt, max_tokens: 32, temperature: 0, ignore_eos: true})
      assert.equal(response.status, 200)
      const completion = (await response.json()) as {choices: Array<{text: string}>}
      const offline = await run(TINYCHAT_DIR, {}, [{prompt, params: greedy(32)}])
      assert.equal(completion.choices[0]!.text, offline.outputs[0]!.outputs[0]!.text)
      const beam = await post({model: engine.modelName, prompt: 'hi', max_tokens: 4, n: 2, use_beam_search: true, temperature: 0})
      assert.equal(beam.status, 400)
      assert.match(await beam.text(), /beam search cannot run with speculative decoding/)
      const metrics = await (await fetch(`${url}/metrics`)).text()
      const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1])
      assert.ok(value('vllm:spec_decode_num_draft_tokens_total') > 0, metrics)
      assert.equal(value('vllm:spec_decode_num_accepted_tokens_total'), engine.stats().specDecode.numAcceptedTokens)
      assert.equal(value('pagedllm_spec_decode_num_draft_tokens_total'), value('vllm:spec_decode_num_draft_tokens_total'))
    } finally {
      await server.shutdown(1000)
      await engine.shutdown()
    }
  })
})
