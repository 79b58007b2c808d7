// LayerNorm-family decoders added to the CPU engine: CodeGen (CodeGenForCausalLM), Persimmon (PersimmonForCausalLM), XGLM
// (XGLMForCausalLM), GPT-1 (OpenAIGPTLMHeadModel) and BioGPT (BioGptForCausalLM), their config keys and refusals, and each tiny model against transformers 5.18 (test/fixtures/<variant>-tiny-transformers.json).
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {encodeFloats, readCheckpointTensors, readTensorFloat32, writeSafetensors} from '../src/engine/model/safetensors.js'
import {ensureTestModel, testModelConfigJson, type TestModelVariant} from '../src/engine/model/test-model.js'
import {promptLogits} from './support/model-logits.js'
import {relativeError} from './support/relative-error.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)

/** The largest relative error (max |diff| / max |logit|) of the engine's top-10 last-position logits against transformers', over the fixture's prompts. */
async function topLogitError(variant: TestModelVariant): Promise<number> {
  const fixture = readTransformersFixture(variant)
  const model = await loadModel(await ensureTestModel('tiny', {variant}))
  const {logits} = await promptLogits(model, 'f32', fixture.prompts.map((p) => p.prompt_token_ids))
  const vocab = model.config.vocabSize
  let end = 0
  return Math.max(...fixture.prompts.map((p) => {
    end += p.prompt_token_ids.length
    const last = logits.subarray((end - 1) * vocab, end * vocab)
    return relativeError(p.last_position_top10.ids.map((id) => last[id]!), p.last_position_top10.logits)
  }))
}

const codegenJson = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'codegen'}), ...extra})

describe('CodeGen', () => {
  it('reads CodeGenConfig: GPT-J\'s parallel block, qkv_proj\'s 4 blocks of [q | v | k], rotary_dim, and its defaults', () => {
    const config = parseModelConfig(codegenJson())
    assert.deepEqual([config.architecture, config.numHeads, config.headDim, config.intermediateSize, config.maxPositionEmbeddings], ['CodeGenForCausalLM', 8, 8, 128, 512])
    const ln = config.layerNorm!
    assert.deepEqual([ln.rotaryDim, ln.interleavedRotary, ln.parallelResidual, ln.sharedNorm, ln.headBias, ln.qkvBias, ln.outputBias, ln.mlpBias], [4, true, true, true, true, false, false, true])
    assert.deepEqual([ln.qkvGroups, ln.qkvValueFirst], [{groups: 4, queriesPerGroup: 1}, true])
    // Its attribute_map names, set after (so over) n_head / n_positions, as transformers sets them.
    const mapped = parseModelConfig(codegenJson({num_attention_heads: 4, max_position_embeddings: 256}))
    assert.deepEqual([mapped.numHeads, mapped.maxPositionEmbeddings], [4, 256])
    // CodeGenConfig's defaults: the 6B's sizes, rotary_dim 64, n_inner 4 * n_embd, gelu_new, untied.
    const defaults = parseModelConfig({architectures: ['CodeGenForCausalLM']})
    assert.deepEqual([defaults.vocabSize, defaults.hiddenSize, defaults.numLayers, defaults.numHeads, defaults.intermediateSize, defaults.maxPositionEmbeddings, defaults.layerNorm?.rotaryDim, defaults.hiddenAct, defaults.tieWordEmbeddings],
      [50400, 4096, 28, 16, 16384, 2048, 64, 'gelu_pytorch_tanh', false])
    assert.throws(() => parseModelConfig(codegenJson({n_head: 2, n_embd: 32})), loadError(/"n_head" 2 must be a multiple of 4 for CodeGenForCausalLM/))
    assert.throws(() => parseModelConfig(codegenJson({n_head: 12})), loadError(/"n_embd" 64 is not divisible by "n_head" 12/))
    assert.throws(() => parseModelConfig(codegenJson({rotary_dim: null})), loadError(/"rotary_dim" null is not supported for CodeGenForCausalLM/))
    assert.throws(() => parseModelConfig(codegenJson({rotary_dim: 10})), loadError(/"rotary_dim" 10 must be even and at most the head size 8/))
    assert.throws(() => parseModelConfig(codegenJson({rotary_dim: 3})), loadError(/"rotary_dim" 3 must be even/))
    assert.throws(() => parseModelConfig(codegenJson({activation_function: 'swish2'})), loadError(/activation_function "swish2" is not supported/))
    assert.throws(() => parseModelConfig(codegenJson({tie_word_embeddings: 'no'})), loadError(/"tie_word_embeddings" must be true or false/))
    // No tensor holds a rotary model's positions: a count past what the backends take is refused by key, not run.
    assert.throws(() => parseModelConfig(codegenJson({n_positions: 1e30})), loadError(/"n_positions" 1e\+30 is beyond the sizes the backends take/))
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^CodeGenForCausalLM \(CPU only until its CUDA path is checked on a GPU\)/)
  })

  it('loads qkv_proj whole, regrouped from its model-parallel blocks with q and k rows in rotate_half order', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'codegen'}))
    const qkv = model.tensors.find((t) => t.name === 'model.layers.0.self_attn.qkv_proj.weight')!
    assert.deepEqual([qkv.shape, qkv.qkvInterleavedHeads, qkv.qkvQueriesPerGroup, qkv.qkvValueFirst, qkv.ropeInterleavedHeads, qkv.ropeInterleavedDims, qkv.ropeInterleavedRows],
      [[192, 64], 4, 1, true, 16, 4, 128])
  })

  it('the tiny model matches transformers 5.18: top-10 last-position logits within 1e-5, greedy tokens equal', async () => {
    assert.ok(await topLogitError('codegen') < 1e-5)
    await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant: 'codegen'}), readTransformersFixture('codegen'))
  })
})

const persimmonJson = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'persimmon'}), ...extra})

describe('Persimmon', () => {
  it('reads PersimmonConfig: per-head fused query_key_value, q/k LayerNorms, partial rotary from either place, relu2, and its defaults', () => {
    const config = parseModelConfig(persimmonJson())
    assert.deepEqual([config.architecture, config.numHeads, config.headDim, config.ropeTheta, config.hiddenAct, config.attentionBias], ['PersimmonForCausalLM', 4, 16, 25000, 'relu2', true])
    const ln = config.layerNorm!
    assert.deepEqual([ln.rotaryDim, ln.headNorm, ln.qkvGroups, ln.parallelResidual, ln.sharedNorm, ln.headBias, ln.outputBias, ln.mlpBias], [4, 'shared', {groups: 4, queriesPerGroup: 1}, false, false, false, true, true])
    assert.equal(parseModelConfig(persimmonJson({partial_rotary_factor: undefined, rope_parameters: {rope_type: 'default', rope_theta: 5000, partial_rotary_factor: 0.5}})).layerNorm?.rotaryDim, 8)
    assert.equal(parseModelConfig(persimmonJson({qk_layernorm: false})).layerNorm?.headNorm, 'none')
    // PersimmonConfig's defaults: Persimmon-8B's sizes, relu2, half of each head rotated at base 10000, q/k LayerNorms, untied.
    const defaults = parseModelConfig({architectures: ['PersimmonForCausalLM']})
    assert.deepEqual([defaults.vocabSize, defaults.hiddenSize, defaults.numLayers, defaults.numHeads, defaults.intermediateSize, defaults.maxPositionEmbeddings, defaults.layerNorm?.rotaryDim,
      defaults.ropeTheta, defaults.hiddenAct, defaults.layerNorm?.headNorm, defaults.tieWordEmbeddings], [262144, 4096, 36, 64, 16384, 16384, 32, 10000, 'relu2', 'shared', false])
    assert.throws(() => parseModelConfig(persimmonJson({num_attention_heads: 3})), loadError(/"hidden_size" 64 is not divisible by "num_attention_heads" 3/))
    assert.throws(() => parseModelConfig(persimmonJson({partial_rotary_factor: 1.5})), loadError(/"partial_rotary_factor" must be in \(0, 1\]/))
    assert.throws(() => parseModelConfig(persimmonJson({qk_layernorm: 'yes'})), loadError(/"qk_layernorm" must be true or false/))
    assert.throws(() => parseModelConfig(persimmonJson({hidden_act: 'swish2'})), loadError(/hidden_act "swish2" is not supported/))
    assert.throws(() => parseModelConfig(persimmonJson({max_position_embeddings: 2 ** 31})), loadError(/"max_position_embeddings" 2147483648 is beyond the sizes the backends take/))
    assert.throws(() => parseModelConfig(persimmonJson({rope_parameters: {rope_type: 'spiral', rope_theta: 10000}})), loadError(/rope scaling type "spiral" is not supported/))
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^PersimmonForCausalLM \(CPU only until its CUDA path is checked on a GPU\)/)
  })

  it('the tiny model matches transformers 5.18: top-10 last-position logits within 1e-5, greedy tokens equal', async () => {
    assert.ok(await topLogitError('persimmon') < 1e-5)
    await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant: 'persimmon'}), readTransformersFixture('persimmon'))
  })

  it('names a missing q_layernorm as the checkpoint does', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'persimmon'})
    const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-persimmon-'))
    try {
      cpSync(dir, scratch, {recursive: true})
      const tensors = readCheckpointTensors(dir).filter((t) => t.name !== 'model.layers.1.self_attn.q_layernorm.bias')
      writeSafetensors(join(scratch, 'model.safetensors'), tensors.map((t) => ({name: t.name, dtype: 'F32', shape: t.shape, data: () => encodeFloats(readTensorFloat32(t), 'F32')})))
      await assert.rejects(loadModel(scratch), loadError(/Tensor model\.layers\.1\.self_attn\.q_layernorm\.bias is missing from the checkpoint/))
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  })
})

const xglmJson = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'xglm'}), ...extra})

describe('XGLM', () => {
  it('reads XGLMConfig: sqrt(d_model) embedding scale, sinusoidal positions from row p + 2 with pad_token_id\'s row zero, its aliases and defaults', () => {
    const config = parseModelConfig(xglmJson())
    assert.deepEqual([config.architecture, config.hiddenSize, config.numHeads, config.intermediateSize, config.embeddingScale, config.rmsNormEps, config.hiddenAct], ['XGLMForCausalLM', 64, 4, 128, 8, 1e-5, 'gelu'])
    const ln = config.layerNorm!
    assert.deepEqual([ln.learnedPositions, ln.positionOffset, ln.sinusoidalPositions, ln.postNorm, ln.finalNorm, ln.qkvBias, ln.outputBias, ln.mlpBias], [514, 2, {paddingRow: 5}, false, true, true, true, true])
    assert.equal(parseModelConfig(xglmJson({scale_embedding: false})).embeddingScale, 1)
    assert.deepEqual(parseModelConfig(xglmJson({pad_token_id: null})).layerNorm?.sinusoidalPositions, {paddingRow: null})
    const {d_model: _d, attention_heads: _a, num_layers: _l, pad_token_id: _p, ...aliased} = xglmJson()
    const byAlias = parseModelConfig({...aliased, hidden_size: 32, num_attention_heads: 2, num_hidden_layers: 3})
    assert.deepEqual([byAlias.hiddenSize, byAlias.numHeads, byAlias.numLayers, byAlias.layerNorm?.sinusoidalPositions], [32, 2, 3, {paddingRow: 1}])
    assert.equal(parseModelConfig(xglmJson({num_attention_heads: 2})).numHeads, 2) // set after attention_heads, as transformers sets it
    // XGLMConfig's defaults: the 564M's sizes, exact gelu, scaled embeddings, pad_token_id 1, tied.
    const defaults = parseModelConfig({architectures: ['XGLMForCausalLM']})
    assert.deepEqual([defaults.vocabSize, defaults.hiddenSize, defaults.numLayers, defaults.numHeads, defaults.intermediateSize, defaults.maxPositionEmbeddings, defaults.embeddingScale, defaults.hiddenAct, defaults.tieWordEmbeddings],
      [256008, 1024, 24, 16, 4096, 2048, 32, 'gelu', true])
    assert.throws(() => parseModelConfig(xglmJson({add_cross_attention: true})), loadError(/add_cross_attention=true is not supported for XGLMForCausalLM/))
    assert.throws(() => parseModelConfig(xglmJson({pad_token_id: 514})), loadError(/"pad_token_id" 514 must be null or a row of XGLM's 514 sinusoidal positions/))
    assert.throws(() => parseModelConfig(xglmJson({attention_heads: 3})), loadError(/"d_model" 64 is not divisible by "attention_heads" 3/))
    assert.throws(() => parseModelConfig(xglmJson({max_position_embeddings: 2 ** 31 - 2})), loadError(/"max_position_embeddings" 2147483646 is beyond the positions the engine indexes/))
    assert.throws(() => parseModelConfig(xglmJson({scale_embedding: 1})), loadError(/"scale_embedding" must be true or false/))
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^XGLMForCausalLM \(its sinusoidal positions are computed by the CPU LayerNorm chain only\)/)
  })

  it('the tiny model matches transformers 5.18: top-10 last-position logits within 1e-5, greedy tokens equal', async () => {
    assert.ok(await topLogitError('xglm') < 1e-5)
    await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant: 'xglm'}), readTransformersFixture('xglm'))
  })
})

const openAiGptJson = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'openai-gpt'}), ...extra})

describe('GPT-1', () => {
  it('reads OpenAIGPTConfig: post-LN blocks without a final norm, Conv1D weights, learned positions, its own afn names, and its defaults', () => {
    const config = parseModelConfig(openAiGptJson())
    assert.deepEqual([config.architecture, config.hiddenSize, config.intermediateSize, config.numHeads, config.maxPositionEmbeddings, config.hiddenAct], ['OpenAIGPTLMHeadModel', 64, 256, 4, 512, 'gelu_pytorch_tanh'])
    const ln = config.layerNorm!
    assert.deepEqual([ln.postNorm, ln.finalNorm, ln.learnedPositions, ln.positionOffset, ln.qkvBias, ln.outputBias, ln.mlpBias], [true, false, 512, 0, true, true, true])
    assert.deepEqual(['relu', 'silu', 'swish'].map((afn) => parseModelConfig(openAiGptJson({afn})).hiddenAct), ['relu', 'silu', 'silu'])
    assert.equal(parseModelConfig(openAiGptJson({max_position_embeddings: 256})).layerNorm?.learnedPositions, 256) // its attribute_map name wins over n_positions
    // OpenAIGPTConfig's defaults: openai-gpt's sizes, its gelu (the tanh form), 512 positions, tied.
    const defaults = parseModelConfig({architectures: ['OpenAIGPTLMHeadModel']})
    assert.deepEqual([defaults.vocabSize, defaults.hiddenSize, defaults.numLayers, defaults.numHeads, defaults.intermediateSize, defaults.maxPositionEmbeddings, defaults.hiddenAct, defaults.tieWordEmbeddings],
      [40478, 768, 12, 12, 3072, 512, 'gelu_pytorch_tanh', true])
    // transformers' ACT_FNS has no gelu_new (an ACT2FN name): its models fail to build with it.
    assert.throws(() => parseModelConfig(openAiGptJson({afn: 'gelu_new'})), loadError(/"afn" "gelu_new" is not supported for OpenAIGPTLMHeadModel \(its ACT_FNS: gelu, relu, silu, swish\)/))
    assert.throws(() => parseModelConfig(openAiGptJson({n_head: 3})), loadError(/"n_embd" 64 is not divisible by "n_head" 3/))
    assert.throws(() => parseModelConfig(openAiGptJson({n_positions: 0})), loadError(/"n_positions" \(a positive integer\)/))
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^OpenAIGPTLMHeadModel \(CPU only until its CUDA path is checked on a GPU\)/)
  })

  it('loads its Conv1D weights transposed', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'openai-gpt'}))
    const transposed = model.tensors.filter((t) => t.transposed && t.name.startsWith('model.layers.0.')).map((t) => t.name.slice('model.layers.0.'.length))
    assert.deepEqual(transposed, ['self_attn.qkv_proj.weight', 'self_attn.o_proj.weight', 'mlp.fc1.weight', 'mlp.fc2.weight'])
  })

  it('the tiny model matches transformers 5.18: top-10 last-position logits within 1e-5, greedy tokens equal', async () => {
    assert.ok(await topLogitError('openai-gpt') < 1e-5)
    await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant: 'openai-gpt'}), readTransformersFixture('openai-gpt'))
  })
})

const bioGptJson = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'biogpt'}), ...extra})

describe('BioGPT', () => {
  it('reads BioGptConfig: sqrt(hidden_size) embedding scale, learned positions from row p + 2, LayerNorms of eps 1e-5 whatever layer_norm_eps says, and its defaults', () => {
    const config = parseModelConfig(bioGptJson())
    assert.deepEqual([config.architecture, config.embeddingScale, config.rmsNormEps, config.hiddenAct], ['BioGptForCausalLM', 8, 1e-5, 'gelu'])
    const ln = config.layerNorm!
    assert.deepEqual([ln.postNorm, ln.finalNorm, ln.learnedPositions, ln.positionOffset, ln.sinusoidalPositions], [false, true, 514, 2, undefined])
    assert.equal(parseModelConfig(bioGptJson({scale_embedding: false})).embeddingScale, 1)
    // BioGptConfig's defaults: BioGPT's sizes, exact gelu, scaled embeddings, 1024 positions, tied.
    const defaults = parseModelConfig({architectures: ['BioGptForCausalLM']})
    assert.deepEqual([defaults.vocabSize, defaults.hiddenSize, defaults.numLayers, defaults.numHeads, defaults.intermediateSize, defaults.maxPositionEmbeddings, defaults.embeddingScale, defaults.tieWordEmbeddings],
      [42384, 1024, 24, 16, 4096, 1024, 32, true])
    assert.throws(() => parseModelConfig(bioGptJson({num_attention_heads: 3})), loadError(/"hidden_size" 64 is not divisible by "num_attention_heads" 3/))
    assert.throws(() => parseModelConfig(bioGptJson({hidden_act: 'swish2'})), loadError(/hidden_act "swish2" is not supported/))
    assert.throws(() => parseModelConfig(bioGptJson({scale_embedding: 'yes'})), loadError(/"scale_embedding" must be true or false/))
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^BioGptForCausalLM \(its scaled embeddings run on the CPU LayerNorm chain only\)/)
  })

  it('the tiny model matches transformers 5.18: top-10 last-position logits within 1e-5, greedy tokens equal', async () => {
    assert.ok(await topLogitError('biogpt') < 1e-5)
    await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant: 'biogpt'}), readTransformersFixture('biogpt'))
  })

  it('reads a tied checkpoint without output_projection, and names a missing one when untied', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'biogpt'})
    const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-biogpt-'))
    try {
      cpSync(dir, scratch, {recursive: true})
      const tensors = readCheckpointTensors(dir).filter((t) => t.name !== 'output_projection.weight')
      writeSafetensors(join(scratch, 'model.safetensors'), tensors.map((t) => ({name: t.name, dtype: 'F32', shape: t.shape, data: () => encodeFloats(readTensorFloat32(t), 'F32')})))
      await assert.rejects(loadModel(scratch), loadError(/Tensor output_projection\.weight is missing from the checkpoint .*tie_word_embeddings is false/))
      writeFileSync(join(scratch, 'config.json'), JSON.stringify(bioGptJson({tie_word_embeddings: true})))
      assert.equal((await loadModel(scratch)).config.tieWordEmbeddings, true)
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  })
})
