// Jais 2 and CWM: configs read as transformers 5.18's Jais2Config / CwmConfig read them, and each tiny test model held to
// transformers' logits and greedy tokens (test/fixtures/<variant>-tiny-transformers.json, scripts/transformers-fixture.py).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {expectedTensorShapes} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {DENSE2_TEST_VARIANTS} from '../src/engine/model/dense2-test-models.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const SIZES = {vocab_size: 100, hidden_size: 64, intermediate_size: 32, num_hidden_layers: 5, num_attention_heads: 4}

describe('Jais 2 config', () => {
  it('as Jais2Config reads it: the ungated relu2 MLP under LayerNorms with bias (layer_norm_eps), every projection biased by default', () => {
    const c = parseModelConfig({architectures: ['Jais2ForCausalLM'], ...SIZES, layer_norm_eps: 1e-3})
    assert.deepEqual([c.hiddenAct, c.rmsVariant!.ungatedMlp, c.rmsVariant!.normMean, c.rmsVariant!.normBias, c.normWeightOffset, c.rmsNormEps, c.attentionBias, c.attentionOutputBias, c.mlpBias, c.maxPositionEmbeddings, c.eosTokenIds],
      ['relu2', true, true, true, 0, 1e-3, true, true, true, 8192, []])
    const names = expectedTensorShapes(c).map((t) => t.name)
    for (const name of ['model.layers.0.input_layernorm.bias', 'model.layers.0.self_attn.o_proj.bias', 'model.layers.0.mlp.up_proj.bias', 'model.norm.bias']) assert.ok(names.includes(name), name)
    assert.ok(!names.some((n) => n.includes('gate_proj')))
    const plain = parseModelConfig({architectures: ['Jais2ForCausalLM'], ...SIZES, attention_bias: false, mlp_bias: false})
    assert.deepEqual([plain.attentionBias, plain.attentionOutputBias, plain.mlpBias, plain.rmsNormEps], [false, undefined, undefined, 1e-5])
  })
})

describe('CWM config', () => {
  it('as CwmConfig reads it: layer 0 and every 4th full, 8192 on the others, llama3 x16 over 8192 at base 1e6, no attention biases', () => {
    const c = parseModelConfig({architectures: ['CwmForCausalLM'], ...SIZES, num_attention_heads: 16, attention_bias: true})
    assert.deepEqual([c.layerWindows, c.ropeTheta, c.ropeScaling.type, c.headDim, c.numKvHeads, c.attentionBias, c.attentionOutputBias, c.eosTokenIds, c.maxPositionEmbeddings],
      [[0, 8192, 8192, 8192, 0], 1e6, 'llama3', 128, 8, false, undefined, [], 131072])
    const given = parseModelConfig({architectures: ['CwmForCausalLM'], ...SIZES, num_key_value_heads: 4, sliding_window: null, rope_theta: 5e5, rope_scaling: {rope_type: 'default'}})
    assert.deepEqual([given.layerWindows, given.ropeScaling, given.ropeTheta], [undefined, {type: 'none'}, 5e5])
    // Without rope settings CwmConfig's llama3 rope keeps its own base, whatever rope_theta says.
    assert.equal(parseModelConfig({architectures: ['CwmForCausalLM'], ...SIZES, num_key_value_heads: 4, rope_theta: 5e5, rope_scaling: null}).ropeTheta, 1e6)
    const typed = parseModelConfig({architectures: ['CwmForCausalLM'], ...SIZES, num_key_value_heads: 4, num_hidden_layers: 2, sliding_window: 16, layer_types: ['sliding_attention', 'full_attention']})
    assert.deepEqual(typed.layerWindows, [16, 0])
  })
})

describe('MiniCPM3 config', () => {
  it('as MiniCPM3Config reads it: latent attention (rotate_half rope, V hidden / heads), dense MLPs, scale_emb, scale_depth / sqrt(layers), dim_model_base', () => {
    const c = parseModelConfig({architectures: ['MiniCPM3ForCausalLM'], ...SIZES, num_hidden_layers: 4})
    assert.deepEqual([c.mla, c.headDim, c.rotaryDim, c.numKvHeads, c.moe, c.embeddingScale, c.rmsVariant!.residualMultiplier, c.rmsVariant!.logitsMultiplier, c.tieWordEmbeddings, c.rmsNormEps],
      [{kvLoraRank: 256, qLoraRank: 768, vHeadDim: 16, ropeInterleaved: false, latentNormEps: 1e-6}, 96, 32, 4, undefined, 12, 0.7, 4, true, 1e-5])
    assert.equal(c.attentionScale, 96 ** -0.5)
    const names = expectedTensorShapes(c).map((t) => t.name)
    assert.ok(names.includes('model.layers.0.self_attn.kv_a_proj_with_mqa.weight') && names.includes('model.layers.3.mlp.gate_proj.weight') && !names.some((n) => n.includes('experts')))
    const unscaled = parseModelConfig({architectures: ['MiniCPM3ForCausalLM'], ...SIZES, num_hidden_layers: 4, scale_depth: null, dim_model_base: null, q_lora_rank: null})
    assert.deepEqual([unscaled.rmsVariant!.residualMultiplier, unscaled.rmsVariant!.logitsMultiplier, unscaled.mla!.qLoraRank], [1, 1, 0])
    assert.throws(() => parseModelConfig({architectures: ['MiniCPM3ForCausalLM'], ...SIZES, scale_emb: 'big'}), /"scale_emb" must be a positive number, got "big"/)
  })
})

describe('Granite SWA config', () => {
  const base = {architectures: ['GraniteSWAForCausalLM'], ...SIZES, num_key_value_heads: 2}
  it('as GraniteSWAConfig reads it: layer 0 and every 4th full, 128 on the others, sinks, Granite\'s multipliers, rope bases per layer type (0: no rope)', () => {
    const c = parseModelConfig({...base, attention_multiplier: 0.5})
    assert.deepEqual([c.layerWindows, c.attentionSinks, c.attentionScale, c.tieWordEmbeddings, c.ropeLocalTheta, c.rmsVariant!.ropeLayers, c.ropeTheta], [[0, 128, 128, 128, 0], true, 0.5, true, undefined, undefined, 10000])
    assert.ok(expectedTensorShapes(c).some((t) => t.name === 'model.layers.0.self_attn.sinks'))
    const bases = parseModelConfig({...base, layer_rope_theta: [5e5, 1e4, 0, 1e4, null]})
    assert.deepEqual([bases.ropeTheta, bases.ropeLocalTheta, bases.rmsVariant!.ropeLayers], [5e5, 1e4, [true, true, false, true, false]])
    assert.throws(() => parseModelConfig({...base, layer_rope_theta: [5e5, 1e4, 2e4, 1e4, 5e5]}), /"layer_rope_theta" \[500000,10000,20000,10000,500000\] is not supported: the engine runs one rope base for the full layers and one/)
    assert.throws(() => parseModelConfig({...base, layer_rope_theta: [5e5, 1e4, 1e4, 1e4, 5e5], rope_scaling: {rope_type: 'linear', factor: 2}}), /"layer_rope_theta" .* is not supported/)
    assert.throws(() => parseModelConfig({...base, layer_rope_theta: [1]}), /"layer_rope_theta" must list a non-negative rope base .* each of the 5 layers/)
  })
})

const ON_CUDA_TOO = new Set(['cwm'])
const CPU_ONLY_WHY: Record<string, string> = {jais2: 'an ungated MLP', minicpm3: 'multi-head latent attention run on the CPU only', 'granite-swa': 'attention sinks have no CUDA path'}

for (const variant of DENSE2_TEST_VARIANTS) {
  describe(`${variant} test model`, () => {
    it(`matches transformers 5.18 (test/fixtures/${variant}-tiny-transformers.json): top-10 logits, 8 greedy tokens`, async () => {
      await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant}), readTransformersFixture(variant))
    })

    it(ON_CUDA_TOO.has(variant) ? 'runs on CUDA too (nothing keeps it on the CPU)' : 'runs on the CPU only, naming its architecture and why', () => {
      const config = parseModelConfig(testModelConfigJson('tiny', {variant}))
      const need = cpuOnlyNeed({quantization: undefined, batchInvariant: false}, {config, tensors: []})
      if (ON_CUDA_TOO.has(variant)) assert.equal(need, null)
      else assert.equal(need?.reason, `${config.architecture} (${CPU_ONLY_WHY[variant]})`)
    })
  })
}
