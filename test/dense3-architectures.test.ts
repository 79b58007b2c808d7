// Apertus, BitNet, NanoChat and DiffLlama: their configs read as transformers 5.18's config classes read them, and each tiny test model held to transformers'
// logits and greedy tokens (test/fixtures/<variant>-tiny-transformers.json, scripts/transformers-fixture.py).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {expectedTensorShapes} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {DENSE3_TEST_VARIANTS} from '../src/engine/model/dense3-test-models.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const SIZES = {vocab_size: 100, hidden_size: 64, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4}

describe('Apertus config', () => {
  it('as ApertusConfig reads it: xIELU over an ungated MLP, q/k norms before rope, its llama3 rope at base 1.2e7 unless given', () => {
    const c = parseModelConfig({architectures: ['ApertusForCausalLM'], ...SIZES, rope_theta: 5e5})
    assert.deepEqual([c.hiddenAct, c.rmsVariant!.ungatedMlp, c.qkNorm, c.rmsVariant!.qkNormAfterRope, c.rmsNormEps, c.ropeTheta, c.ropeScaling.type, c.maxPositionEmbeddings, c.tieWordEmbeddings, c.bosTokenId, c.eosTokenIds],
      ['xielu', true, true, undefined, 1e-5, 12e6, 'llama3', 65536, false, 1, [2]])
    const names = expectedTensorShapes(c).map((t) => t.name)
    for (const name of ['model.layers.1.mlp.act_fn.alpha_p', 'model.layers.1.mlp.act_fn.eps', 'model.layers.0.self_attn.q_norm.weight']) assert.ok(names.includes(name), name)
    assert.ok(!names.some((n) => n.includes('gate_proj')))
    // A rope given without a base takes default_theta, 1.2e7; another activation runs as Nemotron's MLP would.
    const linear = parseModelConfig({architectures: ['ApertusForCausalLM'], ...SIZES, rope_scaling: {rope_type: 'linear', factor: 2}, hidden_act: 'relu2'})
    assert.deepEqual([linear.ropeTheta, linear.ropeScaling.type, linear.hiddenAct], [12e6, 'linear', 'relu2'])
    assert.ok(!expectedTensorShapes(linear).some((t) => t.name.includes('act_fn')))
    assert.throws(() => parseModelConfig({architectures: ['LlamaForCausalLM'], ...SIZES, hidden_act: 'xielu'}), /hidden_act "xielu" is not supported/)
  })
})

describe('BitNet config', () => {
  const base = {architectures: ['BitNetForCausalLM'], ...SIZES, num_key_value_heads: 4}
  const online = {quant_method: 'bitnet', linear_class: 'autobitlinear', quantization_mode: 'online'}
  it('as BitNetConfig reads it: relu2 gated, sub-norms before o_proj and down_proj; BitLinear quantization only with the online quantization_config', () => {
    const c = parseModelConfig({architectures: ['BitNetForCausalLM'], ...SIZES, hidden_size: 320, num_attention_heads: 20, quantization_config: online})
    assert.deepEqual([c.hiddenAct, c.numKvHeads, c.rmsNormEps, c.ropeTheta, c.maxPositionEmbeddings, c.tieWordEmbeddings, c.eosTokenIds, c.rmsVariant!.subNorms, c.rmsVariant!.bitLinear],
      ['relu2', 5, 1e-5, 5e5, 2048, false, [], true, true])
    const shapes = expectedTensorShapes(c)
    assert.deepEqual(shapes.filter((t) => t.name.includes('sub_norm') && t.name.includes('layers.0.')), [{name: 'model.layers.0.self_attn.attn_sub_norm.weight', shape: [320]}, {name: 'model.layers.0.mlp.ffn_sub_norm.weight', shape: [32]}])
    // Without a quantization_config the bf16 weights run as stored, as transformers' plain nn.Linear runs them.
    assert.equal(parseModelConfig(base).rmsVariant!.bitLinear, undefined)
    assert.equal(parseModelConfig({...base, quantization_config: {...online, modules_to_not_convert: ['lm_head']}}).rmsVariant!.bitLinear, true)
  })

  it('refuses the packed checkpoints and the BitNet layers it does not run, naming the key', () => {
    for (const [change, message] of [
      [{quantization_mode: 'offline'}, /quantization_mode "offline" is not supported \(packed ternary weights are not loaded/],
      [{linear_class: 'bitlinear'}, /linear_class "bitlinear" is not supported/],
      [{use_rms_norm: true}, /use_rms_norm true is not supported/],
      [{modules_to_not_convert: ['model.layers.0.mlp.down_proj']}, /modules_to_not_convert .*only lm_head/],
      [{quant_method: 'gptq'}, /quant_method "gptq" is not supported/],
    ] as const) {
      assert.throws(() => parseModelConfig({...base, quantization_config: {...online, ...change}}), message)
    }
  })
})

describe('NanoChat config', () => {
  it('as NanoChatConfig reads it: weightless norms (no norm tensors), the embeddings normed, reversed rope, q/k norms after it, relu2 fc1 / fc2, logits capped at 15', () => {
    const c = parseModelConfig({architectures: ['NanoChatForCausalLM'], ...SIZES})
    const v = c.rmsVariant!
    assert.deepEqual([c.hiddenAct, c.qkNorm, v.normAffine, v.ungatedMlp, v.qkNormAfterRope, v.embeddingNorm, v.reversedRope, c.finalLogitSoftcap, c.rmsNormEps, c.bosTokenId, c.eosTokenIds, c.tieWordEmbeddings],
      ['relu2', true, false, true, true, true, true, 15, 1e-6, 0, [1], false])
    assert.deepEqual(expectedTensorShapes(c).filter((t) => t.name.startsWith('model.layers.0.')).map((t) => t.name),
      ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.k_proj.weight', 'model.layers.0.self_attn.v_proj.weight', 'model.layers.0.self_attn.o_proj.weight', 'model.layers.0.mlp.up_proj.weight', 'model.layers.0.mlp.down_proj.weight'])
    assert.equal(parseModelConfig({architectures: ['NanoChatForCausalLM'], ...SIZES, final_logit_softcapping: null}).finalLogitSoftcap, 0)
    assert.throws(() => parseModelConfig({architectures: ['NanoChatForCausalLM'], ...SIZES, final_logit_softcapping: -1}), /"final_logit_softcapping" must be a positive number or null, got -1/)
  })
})

describe('DiffLlama config', () => {
  it('as DiffLlamaConfig reads it: differential attention with four lambda vectors per layer, eps 1e-5; even head counts only', () => {
    const c = parseModelConfig({architectures: ['DiffLlamaForCausalLM'], ...SIZES, num_key_value_heads: 2})
    assert.deepEqual([c.rmsVariant!.diffAttention, c.rmsNormEps, c.bosTokenId, c.eosTokenIds, c.hiddenAct, c.tieWordEmbeddings], [true, 1e-5, 1, [2], 'silu', false])
    assert.deepEqual(expectedTensorShapes(c).filter((t) => t.name.startsWith('model.layers.1.self_attn.lambda')).map((t) => `${t.name} ${t.shape}`),
      ['model.layers.1.self_attn.lambda_q1 16', 'model.layers.1.self_attn.lambda_k1 16', 'model.layers.1.self_attn.lambda_q2 16', 'model.layers.1.self_attn.lambda_k2 16'])
    assert.throws(() => parseModelConfig({architectures: ['DiffLlamaForCausalLM'], ...SIZES, num_key_value_heads: 1}), /DiffLlama needs an even num_key_value_heads .* got 1/)
  })
})

const CPU_ONLY_WHY: Record<string, string> = {diffllama: 'differential attention', apertus: 'an ungated MLP, the xIELU activation', bitnet: 'norms before o_proj and down_proj, ternary weights and int8 activations',
  nanochat: 'an ungated MLP, a norm on the embeddings, a sign-flipped rope, q/k norms after rope'}

for (const variant of DENSE3_TEST_VARIANTS) {
  describe(`${variant} test model`, () => {
    it(`matches transformers 5.18 (test/fixtures/${variant}-tiny-transformers.json): top-10 logits, 8 greedy tokens`, async () => {
      await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant}), readTransformersFixture(variant))
    })

    it('runs on the CPU only, naming its architecture and why', () => {
      const config = parseModelConfig(testModelConfigJson('tiny', {variant}))
      const need = cpuOnlyNeed({quantization: undefined, batchInvariant: false}, {config, tensors: []})
      assert.equal(need?.reason, `${config.architecture} (${CPU_ONLY_WHY[variant]})`)
    })
  })
}
