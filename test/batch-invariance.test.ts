// On CPU a request's logprobs are bit-identical alone, batched with 29 others (chunked prefill mixed with decode), and
// under preemption: always for block-quantized weights, and for float weights (f32, bf16) with batchInvariant.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'
import {makeEngineConfig, type EngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelVariant} from '../src/engine/model/test-model.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'
import {assertBatchedAsAlone} from './support/batch-invariance-check.js'

/** 30 requests: even ones greedy, odd ones seeded at temperature 0.8, prompts of 3 to 61 tokens. */
const REQUESTS: {prompt: number[]; params: SamplingParams}[] = Array.from({length: 30}, (_, i) => ({
  prompt: Array.from({length: 3 + 2 * i}, (_, t) => 1 + ((t * 37 + i * 101) % 250)),
  params: makeSamplingParams(i % 2 === 0
    ? {temperature: 0, maxTokens: 24, ignoreEos: true, logprobs: 2}
    : {temperature: 0.8, seed: 1000 + i, maxTokens: 24, ignoreEos: true, logprobs: 2}),
}))

const WEIGHTS: {name: string; config: Partial<EngineConfig>; variant?: TestModelVariant}[] = [
  {name: 'q8_0 weights', config: {quantization: 'q8_0'}},
  {name: 'f32 weights, batchInvariant', config: {weightDtype: 'f32', batchInvariant: true}},
  {name: 'bf16 weights, batchInvariant', config: {weightDtype: 'bf16', batchInvariant: true}},
  // Qwen3's per-head q/k norms in the same steps.
  {name: 'qwen3, f32 weights, batchInvariant', config: {weightDtype: 'f32', batchInvariant: true}, variant: 'qwen3'},
  // Gemma's GeGLU, scaled embeddings and (1 + weight) norms, with Gemma 2's sandwich norms and soft caps.
  {name: 'gemma2, f32 weights, batchInvariant', config: {weightDtype: 'f32', batchInvariant: true}, variant: 'gemma2'},
  // Mixture of experts: rows gathered per expert in every step, summed in rank order; Qwen2-MoE's shared expert too.
  {name: 'qwen2moe, q8_0 weights', config: {quantization: 'q8_0'}, variant: 'qwen2moe'},
  {name: 'qwen3moe (top-3, a dense layer), f32 weights, batchInvariant', config: {weightDtype: 'f32', batchInvariant: true}, variant: 'qwen3moe'},
]

for (const weights of WEIGHTS) {
  describe(`batch invariance (${weights.name}, CPU)`, () => {
    let modelDir: string
    let alone: unknown[]

    async function run(overrides: Partial<EngineConfig>, requests: typeof REQUESTS): Promise<{outputs: unknown[]; preemptions: number}> {
      const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, kvMemoryBytes: 8 << 20, threads: 2, ...weights.config, ...overrides}))
      try {
        const results = await engine.generate(requests)
        return {outputs: results.map((r) => r.outputs.map((o) => ({tokens: o.tokenIds, logprobs: o.logprobs}))), preemptions: engine.stats().numPreemptions}
      } finally {
        await engine.shutdown()
      }
    }

    before(async () => {
      modelDir = await ensureTestModel('tiny', {variant: weights.variant ?? 'llama'})
      alone = []
      for (const request of REQUESTS) alone.push(...(await run({}, [request])).outputs)
    })

    it('30 mixed requests batched give the tokens and logprobs each gives alone', async () => {
      // Steps of up to 480 rows: whole prompts prefilled together, then 30 decode rows.
      const batched = await run({}, REQUESTS)
      assert.deepEqual(batched.outputs, alone)
    })

    it('and so with chunked prefill mixed into decode steps', async () => {
      // A 72-token step budget splits the prompts into chunks that share steps (of 48 rows and more) with decode rows.
      const chunked = await run({maxNumBatchedTokens: 72, enableChunkedPrefill: true}, REQUESTS)
      assert.deepEqual(chunked.outputs, alone)
    })

    for (const preemptionMode of ['recompute', 'swap'] as const) {
      it(`and so under preemption (${preemptionMode})`, async () => {
        // 40 blocks of 16 tokens cannot hold 30 sequences of up to 85 tokens at once.
        const tight = await run({numBlocks: 40, preemptionMode, enablePrefixCaching: false}, REQUESTS)
        assert.ok(tight.preemptions > 0, 'preemption happened')
        assert.deepEqual(tight.outputs, alone)
      })
    }
  })
}

// A quantized model's matrices whose rows no block format divides stay f32 (the tiny DeepSeek's o_proj: rows of 48
// values): they must sum in one order too, or a prefill of 48 rows and more moves the logits in the last bits.
describe('batch invariance (deepseek-v2, q4_k at load beside an f32 o_proj, CPU)', () => {
  it('8 requests prefilled in one step give the tokens and logprobs each gives alone', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('tiny', {variant: 'deepseek-v2'}), kvMemoryBytes: 8 << 20, threads: 2, quantization: 'q4_k'}))
    try {
      // Prompts of 23 to 37 tokens: 240 rows in the first step, 8 decode rows after.
      const requests = REQUESTS.slice(10, 18).map(({prompt, params}) => ({prompt, params: {...params, maxTokens: 4}}))
      await assertBatchedAsAlone(engine, requests)
    } finally {
      await engine.shutdown()
    }
  })
})
