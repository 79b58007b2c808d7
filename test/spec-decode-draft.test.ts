// Draft-model speculative decoding: config and load checks, rejection sampling keeps the target distribution, greedy
// identity (a random draft and the target quantized as its own draft) alone, batched, under preemption, seeded
// batch independence, and no leaks in either KV pool.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import {makeEngineConfig, type EngineConfig} from '../src/engine/config.js'
import {InvalidRequestError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {DrawPurpose, sampleUniform} from '../src/engine/philox.js'
import type {RequestOutput} from '../src/engine/request-output.js'
import {samplingDistribution} from '../src/engine/sampler.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {drawFrom, verifyByRejection} from '../src/engine/spec-decode/rejection-sampler.js'
import {makeSpeculativeConfig, parseSpeculativeConfigJson} from '../src/engine/spec-decode/spec-config.js'
import {speculativeConfigFromFlags} from '../src/cli/engine-flags.js'
import {ensureDraftModel} from './support/draft-model.js'
import {TINYCHAT_DIR, tinychatReference} from './support/tinychat.js'

const draft = (overrides: Record<string, unknown> = {}) => makeSpeculativeConfig({method: 'draft', ...overrides})

type Request = {prompt: number[] | string; params: SamplingParams}

/**
 * Runs the requests (checking both pools' invariants after every step); every block of both pools must be back.
 * 32 MiB of swap holds more than any run here could swap out (the largest KV pool is 32 MiB); the default 1 GiB is
 * 131,072 host blocks that each step's check walked.
 */
async function run(modelPath: string, overrides: Partial<EngineConfig>, requests: Request[], during?: (engine: LLMEngine) => void) {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath, device: 'cpu', kvMemoryBytes: 16 << 20, swapSpaceBytes: 32 << 20, threads: 1, ...overrides}))
  try {
    engine.onStep(() => engine.checkKvInvariants())
    during?.(engine)
    const outputs = await engine.generate(requests)
    engine.checkKvInvariants()
    const stats = engine.stats()
    assert.equal(stats.kv.usedBlocks, 0, 'every target block is back')
    if (overrides.speculative?.method === 'draft') assert.equal(stats.draftKv!.usedBlocks, 0, 'every draft block is back')
    return {outputs, stats}
  } finally {
    await engine.shutdown()
  }
}

const tokensOf = (outputs: RequestOutput[]) => outputs.map((output) => output.outputs.map((completion) => completion.tokenIds))
const greedy = (maxTokens: number, extra: Partial<SamplingParams> = {}) => makeSamplingParams({temperature: 0, maxTokens, ignoreEos: true, ...extra})
const tinychatPrompts = (count: number) => tinychatReference().prompts.slice(0, count).map((entry) => entry.prompt_token_ids)

describe('draft-model speculation: configuration', () => {
  it('needs a draft (a model or a quantization of the target), reads vLLM JSON and the CLI flags', () => {
    assert.throws(() => draft(), (error: Error) => error instanceof InvalidRequestError && /needs --speculative-model DIR/.test(error.message))
    assert.equal(draft({draftModel: '/m'}).maxBatchSize, 2, 'a draft model pays at smaller batches than n-gram lookup')
    assert.equal(makeSpeculativeConfig({method: 'ngram'}).maxBatchSize, 4)
    assert.throws(() => makeSpeculativeConfig({method: 'ngram', draftModel: '/x'}), /need --speculative-method draft/)
    assert.throws(() => draft({draftQuantization: 'q3_k'}), /--speculative-quantization must be one of q8_0, q4_0, q4_k/)
    assert.deepEqual(parseSpeculativeConfigJson('{"method":"draft","model":"/m","num_speculative_tokens":3,"quantization":"q4_0"}'), {
      method: 'draft',
      draftModel: '/m',
      numSpeculativeTokens: 3,
      draftQuantization: 'q4_0',
    })
    const fromFlags = speculativeConfigFromFlags({'speculative-method': 'draft', 'speculative-model': '/m', 'speculative-quantization': 'q8_0'})
    assert.equal(fromFlags?.draftModel, '/m')
    assert.equal(fromFlags?.draftQuantization, 'q8_0')
  })

  it('refuses a draft whose vocabulary or tokenizer differs from the target', async () => {
    const tiny = await ensureTestModel('tiny')
    const otherTokenizer = await ensureTestModel('tiny', {seed: 1})
    const create = (modelPath: string, draftModel: string) =>
      LLMEngine.create(makeEngineConfig({modelPath, device: 'cpu', threads: 1, kvMemoryBytes: 4 << 20, speculative: draft({draftModel})}))
    await assert.rejects(create(TINYCHAT_DIR, tiny), (error: Error) => error instanceof InvalidRequestError && /vocab_size is 512, the target's 4096/.test(error.message))
    await assert.rejects(create(tiny, otherTokenizer), (error: Error) => error instanceof InvalidRequestError && /token \d+ is .* in its tokenizer but/.test(error.message))
  })
})

describe('rejection sampling keeps the target distribution', () => {
  it('a draft drawn from q, verified against p, yields tokens distributed as p (chi-square, seeded draws)', () => {
    const vocabSize = 6
    // Two different models' rows at the same position: the target's (row 0, and row 1 for the bonus) and the draft's.
    const targetLogits = Float32Array.from([1.2, 0.1, -0.5, 2.0, 0.7, -1.0, /* row 1 */ 0.3, 0.3, 1.5, -0.2, 0.0, 0.9])
    const draftLogits = Float32Array.from([-0.4, 1.6, 0.2, 0.9, -1.1, 1.3])
    const params = makeSamplingParams({temperature: 0.9, topK: 5, maxTokens: 8})
    const request = (row: number, outputTokenIds: number[] = []) => ({row, params, tokenIds: outputTokenIds, promptLength: 0, seed: 0, stream: 0, suppressTokenIds: []})
    const p = samplingDistribution(targetLogits, vocabSize, request(0))
    const q = samplingDistribution(draftLogits, vocabSize, request(0))
    assert.equal(p[5], 0, 'top-k applies to the target distribution')
    const draws = 8000
    const counts = new Array<number>(vocabSize).fill(0)
    let accepted = 0
    for (let seed = 0; seed < draws; seed++) {
      // Position 0 of stream 0: the engine's three independent draws for a draft token there.
      const x = drawFrom(q, sampleUniform(seed, 0, 0, DrawPurpose.Draft))
      const out: number[] = []
      const append = (tokenId: number) => {
        out.push(tokenId)
        return {tokenId, finished: false}
      }
      const acceptedNow = verifyByRejection([x], [q], [0, 1], {
        targetDistribution: (row) => samplingDistribution(targetLogits, vocabSize, request(row, out)),
        append: (_row, tokenId) => append(tokenId),
        sampleAndAppend: (row) => append(drawFrom(samplingDistribution(targetLogits, vocabSize, request(row, out)), sampleUniform(seed, 0, out.length))),
        acceptUniform: () => sampleUniform(seed, 0, out.length, DrawPurpose.Accept),
        residualUniform: () => sampleUniform(seed, 0, out.length),
      })
      accepted += acceptedNow
      counts[out[0]!]!++
      assert.equal(out.length, acceptedNow + 1, 'an accepted draft earns a bonus token, a rejected one ends the step')
      assert.equal(acceptedNow === 1, out[0] === x, 'a residual draw never repeats the rejected token')
    }
    // 4 degrees of freedom over the 5 tokens top-k keeps: 18.5 is the 0.999 quantile.
    let chiSquare = 0
    for (let token = 0; token < vocabSize; token++) {
      if (p[token] === 0) assert.equal(counts[token], 0, `token ${token} is outside the target's top-k`)
      else chiSquare += (counts[token]! - draws * p[token]!) ** 2 / (draws * p[token]!)
    }
    assert.ok(chiSquare < 18.5, `chi-square ${chiSquare.toFixed(1)} for counts ${counts}`)
    // Acceptance is sum(min(p, q)): well above a point mass's p(x) on average.
    const expected = Array.from(p).reduce((sum, value, i) => sum + Math.min(value, q[i]!), 0)
    assert.ok(Math.abs(accepted / draws - expected) < 0.03, `acceptance ${accepted / draws} vs sum(min(p, q)) ${expected}`)
  })
})

describe('draft-model speculation in the engine', () => {
  let randomDraft: string
  before(() => {
    randomDraft = ensureDraftModel(TINYCHAT_DIR, 1)
  })

  it('tinychat: greedy identity with a random draft and with itself in q8_0, alone and batched with requests that get no drafts', async () => {
    const prompts = tinychatPrompts(4)
    const plain = await run(TINYCHAT_DIR, {}, prompts.map((prompt) => ({prompt, params: greedy(40)})))
    for (const speculative of [draft({draftModel: randomDraft, adaptive: false}), draft({draftQuantization: 'q8_0', maxBatchSize: 4})]) {
      const alone = await run(TINYCHAT_DIR, {speculative}, [{prompt: prompts[0]!, params: greedy(40)}])
      assert.deepEqual(tokensOf(alone.outputs), tokensOf(plain.outputs).slice(0, 1))
      // bad_words requests are never speculated: a mixed batch.
      const mixed = prompts.map((prompt, i) => ({prompt, params: greedy(40, i % 2 === 1 ? {badWords: ['zzzzqqq']} : {})}))
      const batched = await run(TINYCHAT_DIR, {speculative}, mixed)
      assert.deepEqual(tokensOf(batched.outputs), tokensOf(plain.outputs))
      assert.equal(batched.outputs[1]!.specDecode ?? null, null, 'the bad_words request got no drafts')
      const {numDraftTokens, numAcceptedTokens} = batched.stats.specDecode
      assert.ok(numDraftTokens > 0, 'drafts were verified')
      if (speculative.draftQuantization === 'q8_0') assert.ok(numAcceptedTokens > 0.8 * numDraftTokens, `self-draft acceptance ${numAcceptedTokens}/${numDraftTokens}`)
      else assert.ok(numAcceptedTokens < numDraftTokens, `a random draft is rejected: ${numAcceptedTokens}/${numDraftTokens}`)
    }
  })

  for (const preemptionMode of ['recompute', 'swap'] as const) {
    it(`greedy identity under ${preemptionMode} preemption, draft state rebuilt, both pools leak-free`, async () => {
      const prompts = tinychatPrompts(4)
      const requests = prompts.map((prompt) => ({prompt, params: greedy(48)}))
      const plain = await run(TINYCHAT_DIR, {}, requests)
      const speculative = draft({draftModel: randomDraft, adaptive: false, numSpeculativeTokens: 3, draftNumBlocks: 24})
      const spec = await run(TINYCHAT_DIR, {speculative, numBlocks: 36, blockSize: 8, preemptionMode}, requests)
      assert.ok(spec.stats.numPreemptions > 0, 'the pool forced preemption')
      assert.deepEqual(tokensOf(spec.outputs), tokensOf(plain.outputs))
      assert.ok(spec.stats.specDecode.numDraftTokens > 0)
    })
  }

  it('seeded sampling: the same tokens alone and batched, n = 2 forks get their own draft state, aborts free both pools', async () => {
    const prompts = tinychatPrompts(3)
    // Seed 6 draws both acceptances and rejections here (seed 5 happens to accept all 138 draft tokens).
    const params = makeSamplingParams({temperature: 0.8, topP: 0.95, maxTokens: 30, seed: 6, n: 2, ignoreEos: true})
    const speculative = draft({draftQuantization: 'q4_0', adaptive: false})
    const alone = await run(TINYCHAT_DIR, {speculative}, [{prompt: prompts[0]!, params}])
    const batched = await run(TINYCHAT_DIR, {speculative}, prompts.map((prompt) => ({prompt, params})))
    assert.deepEqual(tokensOf(batched.outputs)[0], tokensOf(alone.outputs)[0])
    assert.notDeepEqual(tokensOf(alone.outputs)[0]![0], tokensOf(alone.outputs)[0]![1], 'the two samples differ')
    const {numDraftTokens, numAcceptedTokens} = batched.stats.specDecode
    assert.ok(numAcceptedTokens > 0 && numAcceptedTokens < numDraftTokens, `both paths ran: ${numAcceptedTokens}/${numDraftTokens}`)

    const engine = await LLMEngine.create(makeEngineConfig({modelPath: TINYCHAT_DIR, device: 'cpu', threads: 1, kvMemoryBytes: 16 << 20, speculative}))
    try {
      const handle = engine.addRequest({prompt: prompts[1]!, params: makeSamplingParams({temperature: 0.8, maxTokens: 200, ignoreEos: true})})
      let steps = 0
      engine.onStep(() => {
        if (++steps === 4) handle.abort()
      })
      const result = await handle.result()
      assert.equal(result.outputs[0]!.finishReason, 'abort')
      engine.checkKvInvariants()
      assert.equal(engine.stats().kv.usedBlocks, 0)
      assert.equal(engine.stats().draftKv!.usedBlocks, 0, 'the aborted sequence left nothing in the draft pool')
    } finally {
      await engine.shutdown()
    }
  })

  it('a different draft model keeps the target distribution end to end (homogeneity chi-square vs plain sampling)', async () => {
    const target = await ensureTestModel('tiny')
    const otherDraft = ensureDraftModel(target, 7)
    const prompt = [1, 17, 42, 99, 5, 230]
    const draws = 1500
    const requestsFrom = (seedBase: number) =>
      Array.from({length: draws}, (_, i) => ({prompt, params: makeSamplingParams({temperature: 1, maxTokens: 3, seed: seedBase + i, ignoreEos: true})}))
    // The second token is the one verification decides (the first comes from the prefill).
    const histogram = (outputs: RequestOutput[]) => {
      const counts = new Map<number, number>()
      for (const output of outputs) counts.set(output.outputs[0]!.tokenIds[1]!, (counts.get(output.outputs[0]!.tokenIds[1]!) ?? 0) + 1)
      return counts
    }
    const overrides = {maxNumSeqs: 512, kvMemoryBytes: 32 << 20}
    const plain = histogram((await run(target, overrides, requestsFrom(0))).outputs)
    const spec = await run(target, {...overrides, speculative: draft({draftModel: otherDraft, numSpeculativeTokens: 2, adaptive: false, draftNumBlocks: 600})}, requestsFrom(100_000))
    const {numDraftTokens, numAcceptedTokens} = spec.stats.specDecode
    assert.ok(numDraftTokens === draws && numAcceptedTokens > 0 && numAcceptedTokens < 0.9 * numDraftTokens, `both paths ran: ${numAcceptedTokens}/${numDraftTokens}`)
    const drafted = histogram(spec.outputs)
    // Tokens seen at least 20 times in the two samples together are categories of their own; the rest are pooled.
    let chiSquare = 0
    let categories = 0
    let rareA = 0
    let rareB = 0
    for (const key of new Set([...plain.keys(), ...drafted.keys()])) {
      const a = plain.get(key) ?? 0
      const b = drafted.get(key) ?? 0
      if (a + b < 20) {
        rareA += a
        rareB += b
        continue
      }
      chiSquare += (a - b) ** 2 / (a + b)
      categories++
    }
    if (rareA + rareB > 0) {
      chiSquare += (rareA - rareB) ** 2 / (rareA + rareB)
      categories++
    }
    // Two samples of equal size: sum (a - b)^2 / (a + b) is chi-square with categories - 1 degrees of freedom; its
    // 0.999 quantile by the Wilson-Hilferty approximation.
    const df = categories - 1
    const critical = df * (1 - 2 / (9 * df) + 3.09 * Math.sqrt(2 / (9 * df))) ** 3
    assert.ok(categories >= 3, `${categories} categories`)
    assert.ok(chiSquare < critical, `chi-square (critical ${critical.toFixed(1)}) ${chiSquare.toFixed(1)} over ${categories} categories: ${JSON.stringify([...plain])} vs ${JSON.stringify([...drafted])}`)
  })
})
