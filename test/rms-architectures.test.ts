// Granite (multipliers), OLMo2 (post-norms, whole-width q/k norms), SmolLM3 (layers without rope, sliding on them) and Cohere
// (LayerNorm without bias, parallel blocks, logit_scale, interleaved rope), OLMo (LayerNorm without weights, clip_qkv) and OLMoE
// (OLMo2's q/k norms, clip_qkv, sparse MLPs) and GraniteMoE (Granite's multipliers, experts fused per layer) parse as
// transformers 5.18's config classes read them, run as the float64 reference and transformers do, and are batch-invariant.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {expectedTensorShapes, loadModel, selectModelTensors} from '../src/engine/model/load-model.js'
import {readCheckpointTensors, readTensorFloat64} from '../src/engine/model/safetensors.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {RMS_TEST_VARIANTS} from '../src/engine/model/rms-test-models.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {checkBatchInvariant} from './support/batch-invariance-check.js'
import {checkAgainstReference} from './support/reference-logits-check.js'
import {checkAgainstTransformers} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const SIZES = {vocab_size: 100, hidden_size: 64, intermediate_size: 32, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2}

describe('RMSNorm-variant configs', () => {
  it('Granite as GraniteConfig reads it: every multiplier 1 by default (the attention scale too), logits divided by logits_scaling', () => {
    const plain = parseModelConfig({architectures: ['GraniteForCausalLM'], ...SIZES})
    assert.deepEqual([plain.attentionScale, plain.embeddingScale, plain.rmsVariant], [1, 1, {residualMultiplier: 1, logitsMultiplier: 1, postNormsOnly: false, wholeQkNorm: false, normMean: false, parallelBlock: false, normAffine: true, clipQkv: 0}])
    const granite = parseModelConfig({architectures: ['GraniteForCausalLM'], ...SIZES, embedding_multiplier: 12, residual_multiplier: 0.22, attention_multiplier: 0.0078125, logits_scaling: 8})
    assert.deepEqual([granite.attentionScale, granite.embeddingScale, granite.rmsVariant?.residualMultiplier, granite.rmsVariant?.logitsMultiplier], [0.0078125, 12, 0.22, 0.125])
    for (const key of ['embedding_multiplier', 'residual_multiplier', 'attention_multiplier', 'logits_scaling']) {
      assert.throws(() => parseModelConfig({architectures: ['GraniteForCausalLM'], ...SIZES, [key]: 0}), loadError(new RegExp(`"${key}" must be a positive number`)))
    }
    assert.equal(parseModelConfig({architectures: ['GraniteForCausalLM'], ...SIZES, attention_bias: true}).attentionOutputBias, true)
    assert.equal(parseModelConfig({architectures: ['GraniteForCausalLM'], ...SIZES, mlp_bias: true}).mlpBias, true)
  })

  it('OLMo2 as Olmo2Config reads it: eps 1e-5, post-norms only (post_feedforward_layernorm in place of input_layernorm), q/k norms over all heads', () => {
    const olmo2 = parseModelConfig({architectures: ['Olmo2ForCausalLM'], ...SIZES})
    assert.deepEqual([olmo2.rmsNormEps, olmo2.qkNorm, olmo2.rmsVariant?.postNormsOnly, olmo2.rmsVariant?.wholeQkNorm], [1e-5, true, true, true])
    const shapes = new Map(expectedTensorShapes(olmo2).map((t) => [t.name, t.shape]))
    assert.deepEqual([shapes.get('model.layers.0.self_attn.q_norm.weight'), shapes.get('model.layers.0.self_attn.k_norm.weight')], [[64], [32]])
    assert.ok(shapes.has('model.layers.3.post_feedforward_layernorm.weight') && !shapes.has('model.layers.3.input_layernorm.weight'))
    assert.equal(parseModelConfig({architectures: ['Olmo2ForCausalLM'], ...SIZES, attention_bias: true}).attentionOutputBias, true)
  })

  it('SmolLM3 as SmolLM3Config reads it: every 4th layer without rope, those sliding when use_sliding_window; no_rope_layers and layer_types as given', () => {
    const smol = {architectures: ['SmolLM3ForCausalLM'], ...SIZES}
    const plain = parseModelConfig(smol)
    assert.deepEqual([plain.rmsVariant?.ropeLayers, plain.layerWindows, plain.tieWordEmbeddings, plain.maxPositionEmbeddings], [[true, true, true, false], undefined, true, 32768])
    assert.deepEqual(parseModelConfig({...smol, use_sliding_window: true, sliding_window: 16}).layerWindows, [0, 0, 0, 16])
    // A window without use_sliding_window is ignored, as transformers ignores it.
    assert.equal(parseModelConfig({...smol, sliding_window: 16}).layerWindows, undefined)
    const given = parseModelConfig({...smol, no_rope_layers: [0, 1, 1, 1], use_sliding_window: true, sliding_window: 16, layer_types: ['full_attention', 'sliding_attention', 'full_attention', 'full_attention']})
    assert.deepEqual([given.rmsVariant?.ropeLayers, given.layerWindows], [[false, true, true, true], [0, 16, 0, 0]])
    assert.equal(parseModelConfig({...smol, no_rope_layers: [1, 1, 1, 1]}).rmsVariant?.ropeLayers, undefined)
    assert.throws(() => parseModelConfig({...smol, no_rope_layers: [1, 1]}), loadError(/"no_rope_layers" must list 1 \(rope\) or 0/))
    assert.throws(() => parseModelConfig({...smol, no_rope_layer_interval: 0}), loadError(/"no_rope_layer_interval" must be a positive integer/))
  })

  it('Cohere as CohereConfig reads it: layer_norm_eps 1e-5, logit_scale 0.0625, rope_theta 500000, tied, one norm per layer, q/k rows reordered for rotate_half; per-head q/k LayerNorms with use_qk_norm', async () => {
    const cohere = {architectures: ['CohereForCausalLM'], ...SIZES}
    const config = parseModelConfig(cohere)
    assert.deepEqual([config.rmsNormEps, config.rmsVariant?.logitsMultiplier, config.rmsVariant?.normMean, config.rmsVariant?.parallelBlock, config.tieWordEmbeddings, config.maxPositionEmbeddings], [1e-5, 0.0625, true, true, true, 8192])
    // CohereConfig's default_theta, for rope_parameters without one too; a given rope_theta stands.
    assert.deepEqual([config.ropeTheta, parseModelConfig({...cohere, rope_parameters: {rope_type: 'default'}}).ropeTheta, parseModelConfig({...cohere, rope_theta: 8e6}).ropeTheta], [500000, 500000, 8e6])
    assert.equal(parseModelConfig({...cohere, layer_norm_eps: 1e-3, rms_norm_eps: 0.5}).rmsNormEps, 1e-3)
    assert.equal(parseModelConfig({...cohere, logit_scale: 0.25}).rmsVariant?.logitsMultiplier, 0.25)
    const qkNorm = parseModelConfig({...cohere, use_qk_norm: true})
    assert.deepEqual([qkNorm.qkNorm, qkNorm.rmsVariant?.headMeanQkNorm, config.qkNorm, config.rmsVariant?.headMeanQkNorm], [true, true, false, undefined])
    assert.deepEqual(expectedTensorShapes(qkNorm).filter((t) => /layers\.0\..*_norm\.weight$/.test(t.name) && !t.name.includes('input')).map((t) => t.shape), [[4, 16], [2, 16]])
    assert.throws(() => parseModelConfig({...cohere, use_qk_norm: 'true'}), loadError(/"use_qk_norm" must be true or false, got "true"/))
    assert.throws(() => parseModelConfig({...cohere, logit_scale: null}), loadError(/"logit_scale" must be a number/))
    const names = expectedTensorShapes(config).map((t) => t.name)
    assert.ok(names.includes('model.layers.0.input_layernorm.weight') && !names.some((n) => n.includes('post_attention_layernorm')) && !names.includes('lm_head.weight'))
    const dir = await ensureTestModel('tiny', {variant: 'cohere'})
    const heads = (await loadModel(dir)).tensors.map((t) => [t.name.replace(/^model\.layers\.\d+\./, ''), t.ropeInterleavedHeads])
    assert.deepEqual(heads.filter(([, h]) => h !== undefined).slice(0, 2), [['self_attn.q_proj.weight', 4], ['self_attn.k_proj.weight', 2]])
  })

  it('OLMo as OlmoConfig reads it: LayerNorm without weights at eps 1e-5 (no norm tensors), clip_qkv; OLMoE: OLMo2\'s q/k norms, 64 experts top-8 unnormalised by default', () => {
    const olmo = parseModelConfig({architectures: ['OlmoForCausalLM'], ...SIZES, rms_norm_eps: 0.5, clip_qkv: 8})
    assert.deepEqual([olmo.rmsNormEps, olmo.rmsVariant?.normMean, olmo.rmsVariant?.normAffine, olmo.rmsVariant?.clipQkv], [1e-5, true, false, 8])
    assert.equal(parseModelConfig({architectures: ['OlmoForCausalLM'], ...SIZES}).rmsVariant?.clipQkv, 0)
    assert.ok(!expectedTensorShapes(olmo).some((t) => t.name.endsWith('norm.weight')))
    assert.throws(() => parseModelConfig({architectures: ['OlmoForCausalLM'], ...SIZES, clip_qkv: -1}), loadError(/"clip_qkv" must be a positive number or null/))
    const olmoe = parseModelConfig({architectures: ['OlmoeForCausalLM'], ...SIZES})
    assert.deepEqual([olmoe.rmsNormEps, olmoe.qkNorm, olmoe.rmsVariant?.wholeQkNorm, olmoe.rmsVariant?.postNormsOnly, olmoe.maxPositionEmbeddings], [1e-5, true, true, false, 4096])
    assert.deepEqual(olmoe.moe, {numExperts: 64, numExpertsPerToken: 8, normTopkProb: false, expertIntermediateSize: 32, sharedExpertIntermediateSize: 0, sparseLayers: [true, true, true, true], mixtralNames: false})
    const shapes = new Map(expectedTensorShapes(olmoe).map((t) => [t.name, t.shape]))
    assert.deepEqual([shapes.get('model.layers.0.self_attn.k_norm.weight'), shapes.get('model.layers.0.input_layernorm.weight'), shapes.get('model.layers.1.mlp.experts.63.down_proj.weight')], [[32], [64], [64, 32]])
  })

  it('GraniteMoE as GraniteMoeConfig reads it: Granite\'s multipliers, 8 experts top-2 as wide as intermediate_size; its fused experts read per expert as byte windows, a wrong shape named', async () => {
    const config = parseModelConfig({architectures: ['GraniteMoeForCausalLM'], ...SIZES, residual_multiplier: 0.5, logits_scaling: 4})
    assert.deepEqual([config.rmsVariant?.residualMultiplier, config.rmsVariant?.logitsMultiplier, config.attentionScale], [0.5, 0.25, 1])
    assert.deepEqual(config.moe, {numExperts: 8, numExpertsPerToken: 2, normTopkProb: true, expertIntermediateSize: 32, sharedExpertIntermediateSize: 0, sparseLayers: [true, true, true, true], mixtralNames: false})
    const dir = await ensureTestModel('tiny', {variant: 'granitemoe'})
    const stored = readCheckpointTensors(dir)
    const fused = stored.find((t) => t.name === 'model.layers.1.block_sparse_moe.input_linear.weight')!
    const loaded = await loadModel(dir)
    const upOfExpert2 = loaded.tensors.find((t) => t.name === 'model.layers.1.mlp.experts.2.up_proj.weight')!
    const [rows, cols] = [fused.shape[1]!, fused.shape[2]!]
    // Expert 2's up rows follow its gate rows (transformers' gate, up = chunk(2)).
    assert.deepEqual(readTensorFloat64(upOfExpert2), readTensorFloat64(fused).subarray((2 * rows + rows / 2) * cols, (3 * rows) * cols))
    const wrong = stored.map((t) => (t === fused ? {...t, shape: [4, rows + 2, cols]} : t))
    assert.throws(() => selectModelTensors(loaded.config, wrong, dir), loadError(/Tensor model\.layers\.1\.block_sparse_moe\.input_linear\.weight has shape \[4, 130, 64\]/))
  })

  it('their near misses are refused by name, with what they lack', () => {
    for (const [architecture, why] of [['Phi3SmallForCausalLM', /blocksparse attention/]] as const) {
      assert.throws(() => parseModelConfig({architectures: [architecture], ...SIZES}), loadError(new RegExp(`Unsupported architecture ${architecture} .*${why.source}`)))
    }
  })

  it('the CUDA backend runs every variant: Granite (dense, MoE, MoE with a shared expert), OLMo (1, 2, 3, OLMoE), SmolLM3, Cohere (1, 2) and PhiMoE', () => {
    for (const variant of RMS_TEST_VARIANTS) {
      const need = cpuOnlyNeed({quantization: undefined, batchInvariant: false}, {config: parseModelConfig(testModelConfigJson('tiny', {variant})), tensors: []})
      assert.equal(need, null, variant)
    }
  })
})

for (const variant of RMS_TEST_VARIANTS) {
  describe(`${variant} test model`, () => {
    it('logits of every position within 1e-4 of the float64 reference, portable and AVX2', async () => {
      await checkAgainstReference(variant)
    })

    it(`matches transformers 5.18 (test/fixtures/${variant}-tiny-transformers.json): top-10 logits, 8 greedy tokens`, async () => {
      await checkAgainstTransformers(variant)
    })

    it('6 requests give alone the tokens and logprobs they give batched with chunked prefill (batch-invariant)', async () => {
      await checkBatchInvariant(variant, {requests: 6, promptStep: 9, maxTokens: 12})
    })
  })
}
