// Phi, StableLM, StarCoder2, GPT-J and GPTBigCode configs read as their transformers 5.18 config classes read them (what the kernels
// lack refused by key), their checkpoints' tensors as stored, and their requests batch-invariant in the engine. Logits
// against the float64 reference and transformers: layernorm-architectures.test.ts (their test-model variants).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, selectModelTensors} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {readCheckpointTensors} from '../src/engine/model/safetensors.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {checkBatchInvariant} from './support/batch-invariance-check.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const SIZES = {vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4}
const PHI = {architectures: ['PhiForCausalLM'], ...SIZES}
const STABLELM = {architectures: ['StableLmForCausalLM'], ...SIZES, num_key_value_heads: 4}
const STARCODER2 = {architectures: ['Starcoder2ForCausalLM'], ...SIZES, num_key_value_heads: 2}
const BIGCODE = {architectures: ['GPTBigCodeForCausalLM'], vocab_size: 100, n_embd: 64, n_layer: 1, n_head: 4}
const GPTJ = {architectures: ['GPTJForCausalLM'], vocab_size: 100, n_embd: 64, n_layer: 1, n_head: 4, rotary_dim: 8}

describe('Phi, StableLM, StarCoder2, GPT-J, GPTBigCode configs', () => {
  it('Phi as PhiConfig reads it: half of each head rotated, gelu_new, one norm for a parallel block, lm_head bias, untied; qk_layernorm shared by the heads', () => {
    const c = parseModelConfig(PHI)
    assert.deepEqual([c.hiddenAct, c.tieWordEmbeddings, c.maxPositionEmbeddings, c.ropeTheta, c.numKvHeads, c.rmsNormEps], ['gelu_pytorch_tanh', false, 2048, 10000, 4, 1e-5])
    const ln = c.layerNorm!
    assert.deepEqual([ln.rotaryDim, ln.sharedNorm, ln.parallelResidual, ln.headBias, ln.qkvBias, ln.outputBias, ln.mlpBias, ln.headNorm, ln.gatedMlp], [8, true, true, true, true, true, true, 'none', false])
    // Older Phi configs: rope_theta / partial_rotary_factor at the top level; transformers 5: rope_parameters.
    const old = parseModelConfig({...PHI, rope_theta: 20000, partial_rotary_factor: 0.25, num_key_value_heads: 2, qk_layernorm: true, resid_pdrop: 0.1})
    assert.deepEqual([old.ropeTheta, old.layerNorm!.rotaryDim, old.numKvHeads, old.layerNorm!.headNorm], [20000, 4, 2, 'shared'])
    assert.equal(parseModelConfig({...PHI, rope_parameters: {rope_type: 'default', rope_theta: 5000, partial_rotary_factor: 1}}).layerNorm!.rotaryDim, 16)
    // dynamic NTK is the unscaled rope within max_position_embeddings, as in transformers (a note says so).
    const dynamic = parseModelConfig({...PHI, rope_parameters: {rope_type: 'dynamic', factor: 2}})
    assert.deepEqual([dynamic.ropeScaling, dynamic.notes?.some((n) => /rope_scaling "dynamic"/.test(n))], [{type: 'none'}, true])
    assert.throws(() => parseModelConfig({...PHI, head_dim: 8, qk_layernorm: true}), loadError(/qk_layernorm=true with head_dim 8 is not supported/))
    assert.throws(() => parseModelConfig({...PHI, hidden_act: 'quick_gelu'}), loadError(/hidden_act "quick_gelu" is not supported/))
    assert.throws(() => parseModelConfig({...PHI, num_key_value_heads: 3}), loadError(/num_attention_heads \(4\) is not a multiple of num_key_value_heads \(3\)/))
  })

  it('StableLM as StableLmConfig reads it: gated silu MLP without biases, a quarter rotated, serial by default; use_qkv_bias, per-head qk_layernorm, use_parallel_residual', () => {
    const c = parseModelConfig(STABLELM)
    const ln = c.layerNorm!
    assert.deepEqual([c.hiddenAct, c.maxPositionEmbeddings, ln.rotaryDim, ln.gatedMlp, ln.qkvBias, ln.outputBias, ln.mlpBias, ln.sharedNorm, ln.headNorm, ln.headBias], ['silu', 4096, 4, true, false, false, false, false, 'none', false])
    const v2 = parseModelConfig({...STABLELM, use_qkv_bias: true, qk_layernorm: true, use_parallel_residual: true, num_key_value_heads: 2})
    assert.deepEqual([v2.layerNorm!.qkvBias, v2.layerNorm!.headNorm, v2.layerNorm!.sharedNorm, v2.layerNorm!.parallelResidual, v2.numKvHeads], [true, 'per-head', true, true, 2])
    // StableLmConfig's num_key_value_heads defaults to 32 whatever the head count.
    assert.throws(() => parseModelConfig({...STABLELM, num_key_value_heads: undefined}), loadError(/num_attention_heads \(4\) is not a multiple of num_key_value_heads \(32\)/))
    assert.throws(() => parseModelConfig({...STABLELM, hidden_act: 'quick_gelu'}), loadError(/hidden_act "quick_gelu" is not supported/))
    // longrope's factors cover the 4 rotated values (2 each); the context is capped to the original one, as on the Llama path.
    const longrope = parseModelConfig({...STABLELM, rope_parameters: {rope_type: 'longrope', short_factor: [1, 1.5], long_factor: [2, 3], original_max_position_embeddings: 1024}})
    assert.deepEqual([longrope.maxPositionEmbeddings, longrope.ropeScaling.type === 'longrope' && longrope.ropeScaling.frequencyDivisors], [1024, [1, 1.5]])
  })

  it('StarCoder2 as Starcoder2Config reads it: norm_epsilon, GQA, whole heads rotated, gelu tanh, use_bias, tied, sliding_window on every layer', () => {
    const c = parseModelConfig({...STARCODER2, norm_epsilon: 1e-6, sliding_window: 16})
    assert.deepEqual([c.hiddenAct, c.tieWordEmbeddings, c.rmsNormEps, c.numKvHeads, c.layerNorm!.rotaryDim, c.layerNorm!.qkvBias, c.layerNorm!.mlpBias, c.layerWindows], ['gelu_pytorch_tanh', true, 1e-6, 2, 16, true, true, [16]])
    const plain = parseModelConfig({...STARCODER2, use_bias: false, tie_word_embeddings: false})
    assert.deepEqual([plain.layerNorm!.qkvBias, plain.layerNorm!.outputBias, plain.layerNorm!.mlpBias, plain.tieWordEmbeddings, plain.layerWindows], [false, false, false, false, undefined])
    assert.throws(() => parseModelConfig({...STARCODER2, sliding_window: 0}), loadError(/"sliding_window" must be a positive integer or null, got 0/))
    // Past 32 bits (found by fuzz-model-files: a RangeError, a V8 abort, or a window the backend refused): a window past any context is full attention; a layer count past the bound is refused before any per-layer list.
    assert.deepEqual(parseModelConfig({...STARCODER2, sliding_window: 1e30}).layerWindows, [2 ** 31 - 1])
    for (const count of [2 ** 31, 1e30]) assert.throws(() => parseModelConfig({...STARCODER2, sliding_window: 16, num_hidden_layers: count}), loadError(/"num_hidden_layers" .* is beyond any model's \(at most 10000\)/))
    assert.deepEqual(parseModelConfig({...STARCODER2, rope_scaling: {type: 'linear', factor: 4}}).ropeScaling, {type: 'linear', factor: 4})
    assert.throws(() => parseModelConfig({...STARCODER2, rope_scaling: {type: 'su_v2', factor: 4}}), loadError(/rope scaling type "su_v2" is not supported \(supported: linear, llama3, dynamic, yarn, longrope\)/))
  })

  it('GPT-J as GPTJConfig reads it: rotary_dim interleaved, no attention biases, MLP and lm_head biases, one ln_1, n_inner null = 4 n_embd; refuses rotary_dim null or past a head', () => {
    const c = parseModelConfig(GPTJ)
    const ln = c.layerNorm!
    assert.deepEqual([c.intermediateSize, c.hiddenAct, c.maxPositionEmbeddings, c.tieWordEmbeddings, ln.rotaryDim, ln.interleavedRotary, ln.qkvBias, ln.outputBias, ln.mlpBias, ln.headBias, ln.sharedNorm],
      [256, 'gelu_pytorch_tanh', 2048, false, 8, true, false, false, true, true, true])
    assert.equal(parseModelConfig({...GPTJ, rotary_dim: undefined, n_embd: 1024, n_head: 8}).layerNorm!.rotaryDim, 64)
    assert.throws(() => parseModelConfig({...GPTJ, rotary_dim: null}), loadError(/rotary_dim=null is not supported for GPTJForCausalLM/))
    assert.throws(() => parseModelConfig({...GPTJ, rotary_dim: 32}), loadError(/rotary_dim 32 must be even and at most the head size 16/))
  })

  it('GPTBigCode as GPTBigCodeConfig reads it: multi_query (one KV head) by default, learned positions, gelu tanh, tied; refuses unscaled scores and cross-attention', () => {
    const c = parseModelConfig(BIGCODE)
    assert.deepEqual([c.numKvHeads, c.intermediateSize, c.hiddenAct, c.tieWordEmbeddings, c.maxPositionEmbeddings, c.layerNorm!.learnedPositions, c.layerNorm!.rotaryDim, c.layerNorm!.qkvBias],
      [1, 256, 'gelu_pytorch_tanh', true, 1024, 1024, 0, true])
    assert.equal(parseModelConfig({...BIGCODE, multi_query: false, attention_softmax_in_fp32: false}).numKvHeads, 4)
    assert.throws(() => parseModelConfig({...BIGCODE, scale_attn_weights: false}), loadError(/scale_attn_weights=false is not supported for GPTBigCodeForCausalLM/))
    assert.throws(() => parseModelConfig({...BIGCODE, add_cross_attention: true}), loadError(/add_cross_attention=true is not supported for GPTBigCodeForCausalLM/))
  })
})

describe('Phi, StableLM, GPT-J, GPTBigCode checkpoints', () => {
  it('are read under their own names: StableLM\'s per-head norms, Phi\'s dense and lm_head bias, GPT-J\'s q/k marked for the rope reorder; a missing one named as stored', async () => {
    const stablelm = await loadModel(await ensureTestModel('tiny', {variant: 'stablelm'}))
    assert.ok(stablelm.tensors.some((t) => t.name === 'model.layers.1.self_attn.k_norm.1.weight'))
    const stored = readCheckpointTensors(stablelm.dir)
    assert.throws(() => selectModelTensors(stablelm.config, stored.filter((t) => t.name !== 'model.layers.0.self_attn.q_layernorm.norms.3.weight'), stablelm.dir),
      loadError(/Tensor model\.layers\.0\.self_attn\.q_layernorm\.norms\.3\.weight is missing from the checkpoint .*expected shape \[16\]/))
    const phi = await loadModel(await ensureTestModel('tiny', {variant: 'phi'}))
    const phiStored = readCheckpointTensors(phi.dir)
    assert.throws(() => selectModelTensors(phi.config, phiStored.filter((t) => t.name !== 'lm_head.bias'), phi.dir), loadError(/Tensor lm_head\.bias is missing .*expected shape \[512\]/))
    assert.throws(() => selectModelTensors(phi.config, phiStored.filter((t) => t.name !== 'model.layers.1.self_attn.dense.bias'), phi.dir), loadError(/model\.layers\.1\.self_attn\.dense\.bias is missing/))
    const gptj = await loadModel(await ensureTestModel('tiny', {variant: 'gptj'}))
    const k = gptj.tensors.find((t) => t.name === 'model.layers.0.self_attn.k_proj.weight')!
    assert.deepEqual([k.ropeInterleavedHeads, k.ropeInterleavedDims], [4, 8])
    assert.equal(gptj.tensors.find((t) => t.name === 'model.layers.0.self_attn.v_proj.weight')!.ropeInterleavedHeads, undefined)
    // GPTBigCode's c_attn: [all q | k | v] with multi_query, per-head q|k|v (reordered at load) without.
    const mqa = await loadModel(await ensureTestModel('tiny', {variant: 'gpt-bigcode'}))
    const mha = await loadModel(await ensureTestModel('tiny', {variant: 'gpt-bigcode-mha'}))
    const cAttn = (m: typeof mqa) => m.tensors.find((t) => t.name === 'model.layers.0.self_attn.qkv_proj.weight')!
    assert.deepEqual([cAttn(mqa).shape, cAttn(mqa).qkvInterleavedHeads, cAttn(mha).shape, cAttn(mha).qkvInterleavedHeads], [[96, 64], undefined, [192, 64], 4])
  })
})

describe('Phi, StableLM, StarCoder2, GPT-J, GPTBigCode in the engine', () => {
  for (const variant of ['phi', 'stablelm', 'starcoder2', 'gptj', 'gpt-bigcode'] as const) {
    it(`${variant}: 4 requests give alone the tokens and logprobs they give batched with chunked prefill (batch-invariant)`, async () => {
      await checkBatchInvariant(variant, {requests: 4, promptStep: 11, maxTokens: 10})
    })
  }
})
