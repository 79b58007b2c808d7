// Kimi Linear (Kimi Delta Attention among NoPE latent-attention layers over DeepSeek-V3's experts) and Zamba2 (Mamba-2
// layers, some first running shared transformer blocks with per-use adapters): Kimi's gated delta rule with a decay
// per key channel against float64 (its state carried across calls), the config keys and refusals, the tiny models
// against transformers 5.18 (test/fixtures/<variant>-tiny-transformers.json), and the engine's state slots under them:
// chunked prefill and preemption in a tiny KV pool give the same tokens as alone.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {makeEngineConfig, type EngineConfig} from '../src/engine/config.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import type {Hybrid3TestVariant} from '../src/engine/model/hybrid3-test-models.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {nativeOps} from '../src/engine/native.js'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {checkSlotBatchLogits} from './support/slot-batch-logits.js'
import {readTransformersFixture} from './support/transformers-fixture.js'
import {greedyParams, tinyEngineRun} from './support/tiny-engine-run.js'

const fixture = (variant: Hybrid3TestVariant) => readTransformersFixture(variant)
const configJson = (variant: Hybrid3TestVariant, extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant}), ...extra})

/** Greedy tokens of `prompts` through the engine with these settings; checks slots and blocks come back. */
async function engineRun(variant: Hybrid3TestVariant, overrides: Partial<EngineConfig>, prompts: number[][]) {
  const {outputs, preemptions} = await tinyEngineRun(variant, prompts, greedyParams(), overrides)
  return {tokens: outputs.map((o) => o[0]!), preemptions}
}

/** The fixture's top-10 last-position logits of its three prompts, run as one batch on state slots 2, 0, 3. */
async function checkLogits(variant: Hybrid3TestVariant): Promise<void> {
  const expected = fixture(variant)
  const model = await loadModel(await ensureTestModel('tiny', {variant}))
  await checkSlotBatchLogits(model, expected)
}

type DeltaRows = {q: Float32Array; k: Float32Array; v: Float32Array; g: Float32Array; beta: Float32Array; rows: number; heads: number; kDim: number; vDim: number}

/** float64 gated delta rule with a decay per key channel (transformers' recurrent_kimi_delta_attention); `state` [heads, kDim, vDim] advanced. */
function referenceChannelDeltaRule(a: DeltaRows, state: number[]): number[] {
  const out: number[] = []
  for (let t = 0; t < a.rows; t++) {
    for (let h = 0; h < a.heads; h++) {
      const s = (i: number, j: number) => (h * a.kDim + i) * a.vDim + j
      const at = (x: Float32Array, i: number) => x[(t * a.heads + h) * a.kDim + i]!
      for (let i = 0; i < a.kDim; i++) for (let j = 0; j < a.vDim; j++) state[s(i, j)]! *= Math.exp(at(a.g, i))
      for (let j = 0; j < a.vDim; j++) {
        let memory = 0
        for (let i = 0; i < a.kDim; i++) memory += state[s(i, j)]! * at(a.k, i)
        const delta = (a.v[(t * a.heads + h) * a.vDim + j]! - memory) * a.beta[t * a.heads + h]!
        for (let i = 0; i < a.kDim; i++) state[s(i, j)]! += at(a.k, i) * delta
      }
      for (let j = 0; j < a.vDim; j++) {
        let o = 0
        for (let i = 0; i < a.kDim; i++) o += state[s(i, j)]! * at(a.q, i)
        out[(t * a.heads + h) * a.vDim + j] = o
      }
    }
  }
  return out
}

describe('Kimi Linear', () => {
  it('the gated delta rule with a decay per key channel matches float64 over 5 then 4 tokens, its state carried across calls', () => {
    const random = new SeededRandom(7)
    const values = (count: number, scale: number, offset = 0) => Float32Array.from({length: count}, () => offset + (random.nextFloat() * 2 - 1) * scale)
    const [heads, kDim, vDim] = [2, 6, 5]
    const state = new Float32Array(heads * kDim * vDim)
    const reference = Array<number>(state.length).fill(0)
    for (const rows of [5, 4]) {
      // Decays from exp(-1.2) to exp(-0.2), differing by channel, so a per-head decay would show.
      const a: DeltaRows = {q: values(rows * heads * kDim, 0.5), k: values(rows * heads * kDim, 0.5), v: values(rows * heads * vDim, 1), g: values(rows * heads * kDim, 0.5, -0.7), beta: values(rows * heads, 0.4, 0.5), rows, heads, kDim, vDim}
      const out = nativeOps().gatedDeltaRule({...a, kHeads: heads, vHeads: heads, state, channelDecay: true})
      const expected = referenceChannelDeltaRule(a, reference)
      assert.ok(Math.max(...out.map((x, i) => Math.abs(x - expected[i]!))) < 1e-5, `${rows} rows`)
      assert.ok(Math.max(...state.map((x, i) => Math.abs(x - reference[i]!))) < 1e-5, `state after ${rows} rows`)
    }
  })

  it('reads the released config\'s names: 1-based layer lists, expert keys, NoPE latent attention; refuses what it cannot run', () => {
    const config = parseModelConfig(configJson('kimi-linear'))
    assert.deepEqual(config.hybrid?.linearLayers, [true, false, true])
    assert.deepEqual([config.hybrid?.kimiDelta, config.hybrid?.linearNumValueHeads, config.hybrid?.linearValueHeadDim, config.hybrid?.convKernel], [true, 2, 16, 4])
    assert.deepEqual([config.moe?.numExperts, config.moe?.numExpertsPerToken, config.moe?.sharedExpertIntermediateSize, config.moe?.sparseLayers, config.moe?.grouped?.groups, config.moe?.grouped?.routedScalingFactor],
      [8, 2, 32, [false, true, true], 2, 2.446])
    assert.deepEqual([config.mla?.qLoraRank, config.mla?.kvLoraRank, config.headDim, config.rmsVariant?.ropeLayers, config.maxPositionEmbeddings], [0, 32, 24, [false, false, false], 512])
    const {linear_attn_config: _, ...byDefault} = configJson('kimi-linear', {num_hidden_layers: 6, first_k_dense_replace: 2})
    const defaults = parseModelConfig(byDefault)
    assert.deepEqual([defaults.hybrid?.linearLayers, defaults.hybrid?.linearNumValueHeads, defaults.moe?.sparseLayers], [[true, true, true, true, false, true], 32, [false, false, true, true, true, true]], 'every 4th layer from 4 full; 32 heads of 128 by default')
    assert.deepEqual(parseModelConfig(configJson('kimi-linear', {layer_types: ['full_attention', 'linear_attention', 'linear_attention']})).hybrid?.linearLayers, [false, true, true], 'layer_types first')
    assert.throws(() => parseModelConfig(configJson('kimi-linear', {linear_attn_config: {full_attn_layers: [2], kda_layers: [1]}})), /must name each of the 3 layers once/)
    assert.throws(() => parseModelConfig(configJson('kimi-linear', {moe_router_activation_func: 'softmax'})), /"moe_router_activation_func" "softmax" is not supported/)
    assert.throws(() => parseModelConfig(configJson('kimi-linear', {mla_use_nope: false})), /"mla_use_nope" false is not supported/)
    assert.throws(() => parseModelConfig(configJson('kimi-linear', {mla_use_nope: 0})), /"mla_use_nope" must be true or false, got 0/, 'read as on before (found by fuzz-model-files)')
    // Its view builds mlp_layer_types from the count before the shared bound is read (found by fuzz-model-files: a RangeError, a hang).
    for (const count of [2 ** 31, 1e30]) assert.throws(() => parseModelConfig(configJson('kimi-linear', {num_hidden_layers: count})), /"num_hidden_layers" .* is beyond any model's \(at most 10000\)/)
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /Kimi Delta Attention layers .* CPU kernels only/)
  })

  it('the tiny model matches transformers 5.18: top-10 last-position logits within 1e-4, greedy tokens equal', async () => {
    await checkLogits('kimi-linear')
    const expected = fixture('kimi-linear').prompts
    assert.deepEqual((await engineRun('kimi-linear', {}, expected.map((p) => p.prompt_token_ids))).tokens, expected.map((p) => p.greedy_token_ids))
  })

  it('prefill in chunks of 3, and preempted in a tiny KV pool (recomputed), each request gets its tokens from alone', async () => {
    const expected = fixture('kimi-linear').prompts
    assert.deepEqual((await engineRun('kimi-linear', {enableChunkedPrefill: true, maxNumBatchedTokens: 3}, expected.map((p) => p.prompt_token_ids))).tokens, expected.map((p) => p.greedy_token_ids))
    // Six requests of the two short prompts in 9 blocks of 4 tokens: admitted while their prompts fit, they outgrow the pool.
    const order = [0, 1, 0, 1, 0, 1]
    const {tokens, preemptions} = await engineRun('kimi-linear', {numBlocks: 9, blockSize: 4, kvMemoryBytes: undefined}, order.map((i) => expected[i]!.prompt_token_ids))
    assert.ok(preemptions > 0, 'the pool is small enough to preempt')
    assert.deepEqual(tokens, order.map((i) => expected[i]!.greedy_token_ids))
  })
})

describe('Zamba2', () => {
  it('reads the layer types, shared blocks in turn, adapters and mixer sizes; refuses what it cannot run', () => {
    const config = parseModelConfig(configJson('zamba2'))
    assert.deepEqual([config.hybrid?.linearLayers, config.hybrid?.zamba2?.sharedBlocks, config.hybrid?.zamba2?.attentionAdapters, config.hybrid?.zamba2?.rope], [[true, true, true, true, true], [-1, 0, -1, 1, 0], true, true])
    const m = config.hybrid?.mamba2
    assert.deepEqual([m?.heads, m?.headDim, m?.groups, m?.normGroup, m?.convBias, m?.dtMin, m?.noMlp], [4, 32, 2, 64, true, 0.001, true])
    assert.deepEqual([config.headDim, config.numKvHeads, config.intermediateSize, config.hiddenAct, config.attentionScale], [32, 4, 96, 'gelu', 0.25])
    assert.throws(() => parseModelConfig(configJson('zamba2', {add_bias_linear: true})), /"add_bias_linear" true is not supported/)
    assert.throws(() => parseModelConfig(configJson('zamba2', {use_long_context: true})), /"use_long_context" true/)
    // Not booleans (found by fuzz-model-files: read as off, where transformers takes a truthy value as on).
    for (const key of ['add_bias_linear', 'use_long_context']) assert.throws(() => parseModelConfig(configJson('zamba2', {[key]: 'yes'})), new RegExp(`"${key}" must be true or false, got "yes"`))
    assert.throws(() => parseModelConfig(configJson('zamba2', {tie_word_embeddings: false})), /unties the shared blocks' uses/)
    assert.throws(() => parseModelConfig(configJson('zamba2', {num_key_value_heads: 2})), /use_shared_attention_adapter needs num_key_value_heads/)
    assert.throws(() => parseModelConfig(configJson('zamba2', {layers_block_type: ['mamba', 'hybrid']})), /"layers_block_type" must list/)
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /CPU kernels only/)
  })

  it('a block the checkpoint lacks is named as the checkpoint would hold it', async () => {
    // Three blocks over three uses: block 2 would be layer 4's shared_transformer, which the tied checkpoint does not hold.
    const dir = mkdtempSync(join(tmpdir(), 'zamba2-'))
    try {
      cpSync(await ensureTestModel('tiny', {variant: 'zamba2'}), dir, {recursive: true})
      writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson('zamba2', {num_mem_blocks: 3})))
      await assert.rejects(loadModel(dir), /Tensor model\.layers\.4\.shared_transformer\.input_layernorm\.weight is missing/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('blocks no layer runs are not loaded: fewer hybrid layers than num_mem_blocks; none is refused (found by fuzz-model-files: the backend asked for them)', async () => {
    assert.throws(() => parseModelConfig(configJson('zamba2', {layers_block_type: Array(5).fill('mamba')})), /"layers_block_type" has no "hybrid" layer/)
    const dir = mkdtempSync(join(tmpdir(), 'zamba2-'))
    try {
      cpSync(await ensureTestModel('tiny', {variant: 'zamba2'}), dir, {recursive: true})
      // One hybrid layer (layer 1, block 0's place in the checkpoint) under num_mem_blocks 2.
      const edited = configJson('zamba2', {layers_block_type: ['mamba', 'hybrid', 'mamba', 'mamba', 'mamba']})
      writeFileSync(join(dir, 'config.json'), JSON.stringify(edited))
      assert.equal(parseModelConfig(edited).hybrid?.zamba2?.numMemBlocks, 1)
      const engine = await LLMEngine.create(makeEngineConfig({modelPath: dir, device: 'cpu', threads: 1, numBlocks: 16}))
      try {
        const [output] = await engine.generate([{prompt: 'hello world', params: makeSamplingParams({maxTokens: 2, temperature: 0})}])
        assert.equal(output!.outputs[0]!.tokenIds.length, 2)
      } finally {
        await engine.shutdown()
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('the tiny model matches transformers 5.18: top-10 last-position logits within 1e-4, greedy tokens equal', async () => {
    await checkLogits('zamba2')
    const expected = fixture('zamba2').prompts
    assert.deepEqual((await engineRun('zamba2', {}, expected.map((p) => p.prompt_token_ids))).tokens, expected.map((p) => p.greedy_token_ids))
  })

  it('prefill in chunks of 3, and preempted in a tiny KV pool (recomputed), each request gets its tokens from alone', async () => {
    const expected = fixture('zamba2').prompts
    assert.deepEqual((await engineRun('zamba2', {enableChunkedPrefill: true, maxNumBatchedTokens: 3}, expected.map((p) => p.prompt_token_ids))).tokens, expected.map((p) => p.greedy_token_ids))
    const order = [0, 1, 0, 1, 0, 1]
    const {tokens, preemptions} = await engineRun('zamba2', {numBlocks: 9, blockSize: 4, kvMemoryBytes: undefined}, order.map((i) => expected[i]!.prompt_token_ids))
    assert.ok(preemptions > 0, 'the pool is small enough to preempt')
    assert.deepEqual(tokens, order.map((i) => expected[i]!.greedy_token_ids))
  })
})
