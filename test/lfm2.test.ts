// LFM2 and LFM2-MoE (gated short convolutions among attention layers): config keys and refusals, the tiny models
// against transformers 5.17 (test/fixtures/<variant>-tiny-transformers.json), and the conv state in the engine's state
// slots: prefill chunks, n = 2 forks and recompute preemption give the tokens of a sequence run alone.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {EngineConfig} from '../src/engine/config.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import type {Lfm2TestVariant} from '../src/engine/model/lfm2-test-models.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {mamba2CheckpointName} from '../src/engine/model/mamba2-tensors.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {withMultimodalCheckpoint} from './support/multimodal-checkpoint.js'
import {checkSlotBatchLogits} from './support/slot-batch-logits.js'
import {readTransformersFixture} from './support/transformers-fixture.js'
import {greedyParams, tinyEngineRun} from './support/tiny-engine-run.js'

const VARIANTS: Lfm2TestVariant[] = ['lfm2', 'lfm2-moe']
const fixture = (variant: Lfm2TestVariant) => readTransformersFixture(variant)
const config = (variant: Lfm2TestVariant, extra: Record<string, unknown> = {}) => parseModelConfig({...testModelConfigJson('tiny', {variant}), ...extra})

describe('LFM2 configs', () => {
  it('reads the layouts, LFM2\'s MLP width and aliases, the conv kernel, LFM2-MoE\'s dense layers and routing', () => {
    const dense = config('lfm2')
    assert.deepEqual([dense.hybrid?.linearLayers, dense.hybrid?.shortConv, dense.intermediateSize, dense.tieWordEmbeddings, dense.qkNorm, dense.rmsNormEps, dense.ropeTheta, dense.headDim],
      [[true, false, true], {kernel: 3}, 160, false, true, 1e-5, 1e6, 16])
    assert.deepEqual(config('lfm2', {full_attn_idxs: undefined}).hybrid?.linearLayers, [false, false, false], 'every layer attention without full_attn_idxs (Lfm2Config)')
    assert.equal(config('lfm2', {tie_embedding: undefined}).tieWordEmbeddings, true, 'tied by default')
    assert.equal(config('lfm2', {block_auto_adjust_ff_dim: false}).intermediateSize, 200)
    assert.equal(config('lfm2', {block_ffn_dim_multiplier: null}).intermediateSize, 133, 'two thirds, not rounded, without a multiplier')
    const moe = config('lfm2-moe')
    assert.deepEqual([moe.hybrid?.linearLayers, moe.intermediateSize, moe.moe?.expertIntermediateSize, moe.moe?.sparseLayers, moe.moe?.normTopkProb, moe.moe?.grouped],
      [[true, false, true], 128, 64, [false, true, true], true, {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: false, routerBias: true, routedScalingFactor: 1.5, topkNormEps: 1e-6}])
    assert.equal(config('lfm2-moe', {use_expert_bias: false}).moe?.grouped?.routerBias, false)
    assert.equal(config('lfm2-moe', {intermediate_size: undefined}).intermediateSize, 7168, 'Lfm2MoeConfig\'s default, as it is')
    assert.match(cpuOnlyNeed({}, {config: dense, tensors: []})?.reason ?? '', /Lfm2ForCausalLM \(gated short convolutions have CPU kernels only\)/)
  })

  it('refuses by key what it cannot run', () => {
    assert.throws(() => config('lfm2', {conv_bias: true}), /"conv_bias" true \(biases on the short convolutions' in_proj, conv and out_proj\) is not supported for Lfm2ForCausalLM/)
    assert.throws(() => config('lfm2', {conv_bias: 1}), /"conv_bias" must be true or false, got 1/, 'not a boolean (found by fuzz-model-files: read as off, where transformers takes a truthy value as on)')
    assert.throws(() => config('lfm2', {block_auto_adjust_ff_dim: 0}), /"block_auto_adjust_ff_dim" must be true or false, got 0/, 'read as on before (found by fuzz-model-files); transformers takes 0 as off')
    assert.throws(() => config('lfm2-moe', {layer_types: ['conv', 'sliding_attention', 'conv']}), /"layer_types" must list "conv" or "full_attention"/)
    assert.throws(() => config('lfm2', {full_attn_idxs: [3]}), /"full_attn_idxs" must list layer indices below 3/)
    assert.throws(() => config('lfm2', {conv_L_cache: 1}), /"conv_L_cache" must be an integer from 2/)
    assert.throws(() => config('lfm2-moe', {num_dense_layers: -1}), /"num_dense_layers" must be a non-negative integer/)
  })
})

/** Greedy tokens of these prompts through the engine; checks slots and blocks come back. */
async function engineRun(variant: Lfm2TestVariant, overrides: Partial<EngineConfig> = {}, params = greedyParams(), prompts = fixture(variant).prompts.map((p) => p.prompt_token_ids)) {
  const {outputs, preemptions} = await tinyEngineRun(variant, prompts, params, overrides)
  return {tokens: outputs, preemptions}
}

const greedy = (variant: Lfm2TestVariant, copies = 1) => fixture(variant).prompts.map((p) => Array<number[]>(copies).fill(p.greedy_token_ids))

describe('LFM2 tiny models', () => {
  for (const variant of VARIANTS) it(`${variant} matches transformers: top-10 last-position logits within 1e-4 (one batch of three prompts), greedy tokens equal`, async () => {
    await checkSlotBatchLogits(await loadModel(await ensureTestModel('tiny', {variant})), fixture(variant))
    assert.deepEqual((await engineRun(variant)).tokens, greedy(variant))
  })

  it('Lfm2VlForConditionalGeneration (as transformers 5 saves it) runs its language model: the text model\'s logits', async () => {
    const textDir = await ensureTestModel('tiny', {variant: 'lfm2'})
    const text = await loadModel(textDir)
    const rename = (name: string) => mamba2CheckpointName(text.config, name).replace(/^model\./, 'model.language_model.')
    await withMultimodalCheckpoint(textDir, text, {configFixture: 'lfm2-vl-multimodal-config.json', rename, visionTensor: 'model.vision_tower.embeddings.patch_embedding.weight'}, async (dir) => {
      const multimodal = await loadModel(dir)
      assert.match(multimodal.config.notes!.join('\n'), /Lfm2VlForConditionalGeneration: its language model runs text only/)
      assert.deepEqual([multimodal.config.hybrid, multimodal.config.intermediateSize, multimodal.config.tieWordEmbeddings], [text.config.hybrid, 160, false])
      await checkSlotBatchLogits(multimodal, fixture('lfm2'))
    })
  })

  it('lfm2: prefill chunks of 3 tokens, n = 2 forks and recompute preemption in a tiny KV pool give the tokens of each prompt alone', async () => {
    assert.deepEqual((await engineRun('lfm2', {enableChunkedPrefill: true, maxNumBatchedTokens: 3})).tokens, greedy('lfm2'), 'chunks of 3')
    assert.deepEqual((await engineRun('lfm2', {}, greedyParams(2))).tokens, greedy('lfm2', 2), 'n = 2')
    // Six requests of the two short prompts in 9 blocks of 4 tokens: admitted while their prompts fit, they outgrow the pool.
    const order = [0, 1, 0, 1, 0, 1]
    const prompts = order.map((i) => fixture('lfm2').prompts[i]!.prompt_token_ids)
    const {tokens, preemptions} = await engineRun('lfm2', {numBlocks: 9, blockSize: 4, kvMemoryBytes: undefined, preemptionMode: 'swap', swapSpaceBytes: 1 << 20}, undefined, prompts)
    assert.ok(preemptions > 0, 'the pool is small enough to preempt')
    assert.deepEqual(tokens, order.map((i) => [fixture('lfm2').prompts[i]!.greedy_token_ids]))
  })
})
