// Llama-shaped families with a twist each (GLM, GLM-4-0414, ...): configs read as transformers 5.18's config classes read
// them (what the kernels lack refused by key), and each tiny test model held to transformers' logits and greedy tokens
// (test/fixtures/<variant>-tiny-transformers.json, scripts/transformers-fixture.py).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {expectedTensorShapes, loadModel, selectModelTensors} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {readCheckpointTensors} from '../src/engine/model/safetensors.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {TWIST_TEST_VARIANTS, type TwistTestVariant} from '../src/engine/model/twist-test-models.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const SIZES = {vocab_size: 100, hidden_size: 64, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4}

describe('GLM-4 and GLM-4-0414 configs', () => {
  it('as GlmConfig / Glm4Config read them: head_dim 128, 2 KV heads, eps 1.5625e-7, half of each head rotated, q/k/v biases (o_proj none), fused gate_up_proj', () => {
    for (const architecture of ['GlmForCausalLM', 'Glm4ForCausalLM']) {
      const c = parseModelConfig({architectures: [architecture], ...SIZES})
      assert.deepEqual([c.headDim, c.numKvHeads, c.rmsNormEps, c.rotaryDim, c.attentionBias, c.attentionOutputBias, c.fusedProjections, c.maxPositionEmbeddings, c.tieWordEmbeddings],
        [128, 2, 1.5625e-7, 64, true, undefined, true, 131072, false], architecture)
      assert.equal(c.sandwichNorms, architecture === 'Glm4ForCausalLM')
      const unbiased = parseModelConfig({architectures: [architecture], ...SIZES, head_dim: 16, attention_bias: false, partial_rotary_factor: 1})
      assert.deepEqual([unbiased.attentionBias, unbiased.rotaryDim], [false, undefined])
      // transformers 5's rope_parameters carries the factor; a scaled rope is computed over the rotated values.
      const scaled = parseModelConfig({architectures: [architecture], ...SIZES, head_dim: 16, rope_parameters: {rope_type: 'linear', factor: 2, rope_theta: 1e4, partial_rotary_factor: 0.75}})
      assert.deepEqual([scaled.rotaryDim, scaled.ropeScaling], [12, {type: 'linear', factor: 2}])
      assert.throws(() => parseModelConfig({architectures: [architecture], ...SIZES, head_dim: 16, partial_rotary_factor: 0.35}), loadError(/rotates 5 of 16 values per head; a positive even count is needed/))
    }
  })

  it('GLM-4-0414 reads its four norms under their names (a missing one named so), GLM-4 q/k/v apart and gate_up_proj split', async () => {
    const glm = parseModelConfig({architectures: ['GlmForCausalLM'], ...SIZES, head_dim: 16})
    const names = expectedTensorShapes(glm).map((t) => t.name)
    assert.ok(names.includes('model.layers.0.self_attn.q_proj.bias') && !names.some((n) => /o_proj\.bias|feedforward/.test(n)))
    const dir = await ensureTestModel('tiny', {variant: 'glm4'})
    const loaded = await loadModel(dir)
    const q = loaded.tensors.find((t) => t.name === 'model.layers.1.self_attn.q_proj.bias')!
    assert.deepEqual([q.ropeInterleavedHeads, q.ropeInterleavedDims], [4, 12])
    const stored = readCheckpointTensors(dir)
    assert.ok(stored.some((t) => t.name === 'model.layers.0.post_mlp_layernorm.weight') && stored.some((t) => t.name === 'model.layers.0.mlp.gate_up_proj.weight'))
    const without = stored.filter((t) => t.name !== 'model.layers.1.post_self_attn_layernorm.weight')
    assert.throws(() => selectModelTensors(loaded.config, without, dir), loadError(/Tensor model\.layers\.1\.post_self_attn_layernorm\.weight is missing/))
  })
})

describe('EXAONE 4 config', () => {
  const EXAONE4 = {architectures: ['Exaone4ForCausalLM'], ...SIZES, num_hidden_layers: 4, num_key_value_heads: 2}
  it('as Exaone4Config reads it: OLMo2\'s post-norms, per-head q/k norms, every 4th layer full (4096 on the others), rope on the sliding layers only', () => {
    const c = parseModelConfig(EXAONE4)
    assert.deepEqual([c.layerWindows, c.rmsVariant!.ropeLayers, c.rmsVariant!.postNormsOnly, c.rmsVariant!.wholeQkNorm, c.qkNorm, c.rmsNormEps, c.maxPositionEmbeddings],
      [[4096, 4096, 4096, 0], [true, true, true, false], true, false, true, 1e-5, 2048])
    assert.equal(parseModelConfig({...EXAONE4, num_key_value_heads: undefined, num_attention_heads: 32, head_dim: 2}).numKvHeads, 32)
    const names = expectedTensorShapes(c).map((t) => t.name)
    assert.ok(names.includes('model.layers.0.post_feedforward_layernorm.weight') && !names.some((n) => n.includes('input_layernorm')))
    // EXAONE 4.0 1.2B's shape: no window, every layer full, each rotating.
    const full = parseModelConfig({...EXAONE4, sliding_window: null, layer_types: Array(4).fill('full_attention')})
    assert.deepEqual([full.layerWindows, full.rmsVariant!.ropeLayers], [undefined, undefined])
    // A window with given layer types (EXAONE 4.0 32B's "LLLG"): only the sliding layers rotate.
    const typed = parseModelConfig({...EXAONE4, sliding_window: 16, sliding_window_pattern: 'LLLG', layer_types: ['sliding_attention', 'full_attention', 'sliding_attention', 'full_attention']})
    assert.deepEqual([typed.layerWindows, typed.rmsVariant!.ropeLayers], [[16, 0, 16, 0], [true, false, true, false]])
    assert.throws(() => parseModelConfig({...EXAONE4, sliding_window_pattern: 'LLLG'}), loadError(/"sliding_window_pattern" "LLLG" builds no layer types \(a positive integer, or give "layer_types"\)/))
    assert.throws(() => parseModelConfig({...EXAONE4, sliding_window: null}), loadError(/EXAONE 4 without a "sliding_window" needs "layer_types"/))
  })
})

describe('Seed-OSS, Helium and ERNIE 4.5 configs', () => {
  const of = (architecture: string, more: Record<string, unknown> = {}) => parseModelConfig({architectures: [architecture], ...SIZES, ...more})
  it('as their config classes read them: defaults for the keys left out (an explicit null keeps hidden / heads), and their biases', () => {
    const seed = of('SeedOssForCausalLM', {num_attention_heads: 8})
    assert.deepEqual([seed.numKvHeads, seed.headDim, seed.rmsNormEps, seed.maxPositionEmbeddings, seed.attentionBias, seed.attentionOutputBias, seed.mlpBias, seed.bosTokenId],
      [8, 128, 1e-6, 524288, true, undefined, undefined, 0])
    const nulls = of('SeedOssForCausalLM', {head_dim: null, num_key_value_heads: null})
    assert.deepEqual([nulls.headDim, nulls.numKvHeads], [16, 4])
    const outOnly = of('SeedOssForCausalLM', {num_key_value_heads: 2, attention_bias: false, attention_out_bias: true, mlp_bias: true})
    assert.deepEqual([outOnly.attentionBias, outOnly.attentionOutputBias, outOnly.mlpBias], [false, true, true])
    const helium = of('HeliumForCausalLM', {num_key_value_heads: 4, attention_bias: true})
    assert.deepEqual([helium.headDim, helium.rmsNormEps, helium.attentionBias, helium.attentionOutputBias, of('HeliumForCausalLM', {num_attention_heads: 20}).numKvHeads], [128, 1e-8, true, undefined, 20])
    const ernie = of('Ernie4_5ForCausalLM', {use_bias: true})
    assert.deepEqual([ernie.numKvHeads, ernie.headDim, ernie.tieWordEmbeddings, ernie.attentionBias, ernie.attentionOutputBias, ernie.mlpBias], [2, 128, true, true, true, true])
    assert.deepEqual([of('Ernie4_5ForCausalLM').attentionBias, of('Ernie4_5ForCausalLM').mlpBias], [false, undefined])
    assert.throws(() => of('Ernie4_5ForCausalLM', {use_bias: 'yes'}), loadError(/"use_bias" must be true or false, got "yes"/))
    assert.throws(() => of('SeedOssForCausalLM', {num_key_value_heads: 2, attention_out_bias: 1}), loadError(/"attention_out_bias" must be true or false, got 1/))
  })
})

describe('Arcee config', () => {
  it('as ArceeConfig reads it: an ungated relu2 MLP (no gate_proj; up and down biased with mlp_bias), Llama\'s attention biases; relu2 gated elsewhere, other activations refused', () => {
    const arcee = parseModelConfig({architectures: ['ArceeForCausalLM'], ...SIZES, mlp_bias: true, attention_bias: true})
    assert.deepEqual([arcee.hiddenAct, arcee.rmsVariant!.ungatedMlp, arcee.mlpBias, arcee.attentionBias, arcee.attentionOutputBias, arcee.rmsNormEps, arcee.maxPositionEmbeddings], ['relu2', true, true, true, true, 1e-5, 4096])
    const names = expectedTensorShapes(arcee).map((t) => t.name)
    assert.ok(names.includes('model.layers.1.mlp.up_proj.bias') && !names.some((n) => n.includes('gate_proj')))
    assert.equal(parseModelConfig({architectures: ['LlamaForCausalLM'], ...SIZES, hidden_act: 'relu2'}).hiddenAct, 'relu2')
    assert.throws(() => parseModelConfig({architectures: ['ArceeForCausalLM'], ...SIZES, hidden_act: 'xielu'}), loadError(/hidden_act "xielu" is not supported \(silu, gelu, gelu_pytorch_tanh, relu, relu2/))
  })
})

describe('Nemotron config', () => {
  it('as NemotronConfig reads it: Arcee\'s ungated relu2 MLP under LayerNorm1P (biased, weight + 1, norm_eps), half of each head rotated, Llama\'s biases', () => {
    const c = parseModelConfig({architectures: ['NemotronForCausalLM'], ...SIZES, head_dim: 16, norm_eps: 1e-3, attention_bias: true})
    assert.deepEqual([c.hiddenAct, c.rmsVariant!.ungatedMlp, c.rmsVariant!.normMean, c.rmsVariant!.normBias, c.normWeightOffset, c.rmsNormEps, c.rotaryDim, c.attentionOutputBias],
      ['relu2', true, true, true, 1, 1e-3, 8, true])
    assert.deepEqual([parseModelConfig({architectures: ['NemotronForCausalLM'], ...SIZES, partial_rotary_factor: 1}).rotaryDim, parseModelConfig({architectures: ['NemotronForCausalLM'], ...SIZES}).rmsNormEps], [undefined, 1e-5])
    const names = expectedTensorShapes(c).map((t) => t.name)
    for (const name of ['model.layers.0.input_layernorm.bias', 'model.layers.0.post_attention_layernorm.bias', 'model.norm.bias']) assert.ok(names.includes(name), name)
  })
})

describe('Hunyuan dense config', () => {
  it('as HunYuanDenseV1Config reads it: per-head q/k norms after rope (query_layernorm / key_layernorm), "dynamic" rope with alpha as a raised base, Llama\'s biases', async () => {
    const base = {architectures: ['HunYuanDenseV1ForCausalLM'], ...SIZES, head_dim: 16, attention_bias: true}
    const c = parseModelConfig({...base, rope_theta: 1e4, rope_scaling: {type: 'dynamic', alpha: 1000, factor: 1}})
    assert.deepEqual([c.qkNorm, c.rmsVariant!.qkNormAfterRope, c.ropeScaling, c.attentionOutputBias, c.maxPositionEmbeddings], [true, true, {type: 'none'}, true, 2048])
    assert.ok(Math.abs(c.ropeTheta / (1e4 * 1000 ** (16 / 14)) - 1) < 1e-12)
    assert.equal(parseModelConfig({...base, rope_parameters: {rope_type: 'default', rope_theta: 5e5}}).ropeTheta, 5e5)
    assert.throws(() => parseModelConfig({...base, rope_scaling: {type: 'dynamic', alpha: 'big', factor: 1}}), loadError(/"rope_scaling\.alpha" must be a positive number, got "big"/))
    const dir = await ensureTestModel('tiny', {variant: 'hunyuan'})
    const loaded = await loadModel(dir)
    const without = readCheckpointTensors(dir).filter((t) => t.name !== 'model.layers.0.self_attn.key_layernorm.weight')
    assert.throws(() => selectModelTensors(loaded.config, without, dir), loadError(/Tensor model\.layers\.0\.self_attn\.key_layernorm\.weight is missing/))
  })
})

describe('VaultGemma and Ministral configs', () => {
  it('VaultGemma as VaultGemmaConfig reads it: Gemma 2\'s traits (soft caps, query scalar, (1 + w) norms, every other layer sliding) without its post-norms', () => {
    const c = parseModelConfig({architectures: ['VaultGemmaForCausalLM'], ...SIZES})
    assert.deepEqual([c.sandwichNorms, c.normWeightOffset, c.attnLogitSoftcap, c.finalLogitSoftcap, c.headDim, c.tieWordEmbeddings, c.hiddenAct, c.layerWindows], [false, 1, 50, 30, 256, true, 'gelu_pytorch_tanh', [4096, 0]])
    const names = expectedTensorShapes(c).map((t) => t.name)
    assert.ok(names.includes('model.layers.0.post_attention_layernorm.weight') && !names.some((n) => n.includes('feedforward')))
  })

  it('Ministral as MinistralConfig reads it: Mistral with layer_types, every layer sliding (4096) by default, none without a window', () => {
    const base = {architectures: ['MinistralForCausalLM'], ...SIZES}
    assert.deepEqual(parseModelConfig(base).layerWindows, [4096, 4096])
    assert.deepEqual(parseModelConfig({...base, sliding_window: 32, layer_types: ['sliding_attention', 'full_attention']}).layerWindows, [32, 0])
    assert.equal(parseModelConfig({...base, sliding_window: null}).layerWindows, undefined)
    assert.equal(parseModelConfig(base).maxPositionEmbeddings, 131072)
  })
})

/** Each variant against transformers, and whether the CUDA backend has every piece it needs. */
const ON_CUDA_TOO = new Set<TwistTestVariant>(['glm', 'glm4', 'exaone4', 'seedoss', 'helium', 'ernie4_5', 'vaultgemma', 'ministral'])

for (const variant of TWIST_TEST_VARIANTS) {
  describe(`${variant} test model`, () => {
    it(`matches transformers 5.18 (test/fixtures/${variant}-tiny-transformers.json): top-10 logits, 8 greedy tokens`, async () => {
      const fixture = readTransformersFixture(variant)
      await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant}), fixture)
    })

    it(ON_CUDA_TOO.has(variant) ? 'runs on CUDA too (nothing keeps it on the CPU)' : 'runs on the CPU only, naming its architecture', () => {
      const config = parseModelConfig(testModelConfigJson('tiny', {variant}))
      const need = cpuOnlyNeed({quantization: undefined, batchInvariant: false}, {config, tensors: []})
      if (ON_CUDA_TOO.has(variant)) assert.equal(need, null)
      else assert.match(need?.reason ?? '', new RegExp(`^${config.architecture} \\(.*(an ungated MLP|q/k norms after rope)\\)$`))
    })
  })
}
