// Gemma 4 (text): configs read as transformers 5.18's Gemma4TextConfig reads them, tensors named and shaped per layer,
// KV-shared layers holding no cache, logits and greedy tokens against transformers, and windows crossed in a paged engine.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {expectedTensorShapes, loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {ensureTestModel, testModelConfigJson, type TestModelVariant} from '../src/engine/model/test-model.js'
import {kvBytesPerBlock, loadNativeModel} from '../src/engine/native.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {checkBatchInvariant} from './support/batch-invariance-check.js'
import {checkPagedMatchesAlone} from './support/paged-alone-check.js'
import {promptLogits} from './support/model-logits.js'
import {withMultimodalCheckpoint} from './support/multimodal-checkpoint.js'
import {runCommand} from './support/run-command.js'
import {checkDirAgainstTransformers, checkServerAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const GEMMA4 = {architectures: ['Gemma4ForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 6, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16}
const fixture = (variant: TestModelVariant) => readTransformersFixture(variant)

describe('Gemma 4 config', () => {
  it('as Gemma4TextConfig reads it: every 6th layer full (the last always), full layers of global_head_dim with proportional rope on a quarter, norms by the weight, unscaled scores, per-layer inputs of 256 by default', () => {
    const c = parseModelConfig(GEMMA4)
    const g = c.gemma4!
    assert.deepEqual(c.layerWindows, [512, 512, 512, 512, 512, 0])
    assert.deepEqual(g.layers.map((l) => [l.headDim, l.numKvHeads, l.kvSource, l.kEqV]), [[16, 2, 0, false], [16, 2, 1, false], [16, 2, 2, false], [16, 2, 3, false], [16, 2, 4, false], [512, 2, 5, false]])
    assert.deepEqual([g.perLayerInputSize, g.perLayerVocabSize, g.fullRopeAngles, g.localRopeTheta, c.ropeTheta, c.normWeightOffset, c.attentionScale, c.finalLogitSoftcap, c.qkNorm, c.hiddenAct, c.tieWordEmbeddings],
      [256, 262144, 64, 10000, 1e6, 0, 1, 0, true, 'gelu_pytorch_tanh', true])
    // The last layer is forced full, as Gemma4TextConfig forces it.
    assert.deepEqual(parseModelConfig({...GEMMA4, num_hidden_layers: 2, layer_types: ['sliding_attention', 'sliding_attention']}).layerWindows, [512, 0])
  })

  it('KV-shared layers read the last earlier writing layer of their type; double-wide MLPs there; keys as values with num_global_key_value_heads on full layers', () => {
    const types = ['sliding_attention', 'full_attention', 'sliding_attention', 'sliding_attention', 'full_attention', 'full_attention']
    const c = parseModelConfig({...GEMMA4, layer_types: types, num_kv_shared_layers: 3, use_double_wide_mlp: true, global_head_dim: 32, hidden_size_per_layer_input: 0})
    assert.deepEqual(c.gemma4!.layers.map((l) => [l.kvSource, l.intermediateSize, l.headDim]), [[0, 128, 16], [1, 128, 32], [2, 128, 16], [2, 256, 16], [1, 256, 32], [1, 256, 32]])
    const keqv = parseModelConfig({...GEMMA4, attention_k_eq_v: true, num_global_key_value_heads: 1, hidden_size_per_layer_input: 0})
    assert.deepEqual(keqv.gemma4!.layers.map((l) => [l.numKvHeads, l.kEqV]).slice(4), [[2, false], [1, true]])
    // transformers 5.18 saves the full layers' shape as per_layer_config.
    const saved = parseModelConfig({...GEMMA4, per_layer_config: {5: {head_dim: 24, num_key_value_heads: 1}}})
    assert.deepEqual(saved.gemma4!.layers.map((l) => l.headDim), [16, 16, 16, 16, 16, 24])
    // The KV pool counts only the layers that write: sharing 3 of 6 layers saves their bytes.
    const unshared = parseModelConfig({...GEMMA4, layer_types: types, global_head_dim: 32, hidden_size_per_layer_input: 0})
    assert.deepEqual([kvBytesPerBlock(unshared, 16), kvBytesPerBlock(c, 16)], [16 * 4 * 2 * 2 * (16 * 3 + 32 * 3), 16 * 4 * 2 * 2 * (16 * 2 + 32)])
  })

  it('refuses what it cannot run, by key: bidirectional attention over all tokens, an MoE block without its sizes, sharing with no earlier layer, bad per_layer_config', () => {
    assert.throws(() => parseModelConfig({...GEMMA4, use_bidirectional_attention: 'all'}), loadError(/use_bidirectional_attention "all" makes Gemma 4 an encoder/))
    assert.equal(parseModelConfig({...GEMMA4, use_bidirectional_attention: 'vision'}).gemma4!.layers.length, 6)
    assert.throws(() => parseModelConfig({...GEMMA4, enable_moe_block: true}), loadError(/"num_experts" must be a positive integer, got undefined/))
    assert.throws(() => parseModelConfig({...GEMMA4, enable_moe_block: true, num_experts: 2, top_k_experts: 3, moe_intermediate_size: 8}), loadError(/top_k_experts 3 is more than num_experts 2/))
    assert.throws(() => parseModelConfig({...GEMMA4, num_kv_shared_layers: 6}), loadError(/num_kv_shared_layers 6 leaves no layer/))
    assert.throws(() => parseModelConfig({...GEMMA4, num_hidden_layers: 3, layer_types: ['sliding_attention', 'sliding_attention', 'full_attention'], num_kv_shared_layers: 1}), loadError(/KV-shared layer 2 \(full_attention\) has no earlier full_attention layer/))
    assert.throws(() => parseModelConfig({...GEMMA4, per_layer_config: {5: {intermediate_size: 8}}}), loadError(/per_layer_config.5 sets intermediate_size/))
    assert.throws(() => parseModelConfig({...GEMMA4, rope_parameters: {full_attention: {rope_type: 'yarn'}, sliding_attention: {rope_type: 'default'}}}), loadError(/full_attention of type "yarn" is not supported/))
    assert.throws(() => parseModelConfig({...GEMMA4, vocab_size_per_layer_input: 50}), loadError(/vocab_size_per_layer_input 50 is below vocab_size 100/))
    assert.throws(() => parseModelConfig({...GEMMA4, sliding_window: null}), loadError(/Gemma 4 needs a "sliding_window" \(null given\)/))
    assert.throws(() => parseModelConfig({...GEMMA4, attention_bias: true}), loadError(/"attention_bias" true .* is not supported/))
    for (const rope of [0.5, [4, 4]]) {
      assert.throws(() => parseModelConfig({...GEMMA4, rope_parameters: rope}), loadError(/"rope_parameters" must be an object, got/))
    }
    for (const rope of [{full_attention: null, sliding_attention: {}}, {full_attention: {}, sliding_attention: -1}]) {
      assert.throws(() => parseModelConfig({...GEMMA4, rope_parameters: rope}), loadError(/"rope_parameters" must hold a "full_attention" and a "sliding_attention" object/))
    }
    // Hostile sizes are refused before any per-layer list is built.
    assert.throws(() => parseModelConfig({...GEMMA4, num_hidden_layers: 2 ** 31 - 1}), loadError(/"num_hidden_layers" 2147483647 is beyond any model's/))
    assert.throws(() => parseModelConfig({...GEMMA4, hidden_size_per_layer_input: 2 ** 30}), loadError(/hidden_size_per_layer_input 1073741824 x 6 layers is beyond/))
    assert.throws(() => parseModelConfig({...GEMMA4, global_head_dim: 32, num_global_key_value_heads: 3, attention_k_eq_v: true}), loadError(/not a multiple of layer 5's 3 key\/value heads/))
  })

  it('Gemma4ForConditionalGeneration runs its language model (text_config) on the CPU; image parts stay refused by the server', () => {
    const c = parseModelConfig({architectures: ['Gemma4ForConditionalGeneration'], text_config: {...GEMMA4, architectures: undefined}, vision_config: {}, dtype: 'bfloat16'})
    assert.deepEqual([c.architecture, c.torchDtype, c.numLayers], ['Gemma4ForCausalLM', 'bfloat16', 6])
    assert.match(c.notes!.join(' '), /text only/)
    assert.match(cpuOnlyNeed({quantization: undefined, batchInvariant: false}, {config: c, tensors: []})!.reason, /Gemma4ForCausalLM .*CPU only/)
  })

  it('Gemma 4 E2B\'s shape (35 layers, 20 KV-shared, double-wide): shared layers read layer 13 (sliding) or 14 (full); its KV cache is 43% of an unshared one', () => {
    const types = Array.from({length: 35}, (_, i) => (i % 5 === 4 ? 'full_attention' : 'sliding_attention'))
    const text = {
      hidden_size: 1536, num_hidden_layers: 35, num_attention_heads: 8, num_key_value_heads: 1, head_dim: 256, global_head_dim: 512, num_global_key_value_heads: null,
      attention_k_eq_v: false, sliding_window: 512, vocab_size: 262144, vocab_size_per_layer_input: 262144, hidden_size_per_layer_input: 256, num_kv_shared_layers: 20,
      use_double_wide_mlp: true, intermediate_size: 6144, final_logit_softcapping: 30.0, layer_types: types,
      rope_parameters: {full_attention: {partial_rotary_factor: 0.25, rope_theta: 1000000.0, rope_type: 'proportional'}, sliding_attention: {rope_theta: 10000.0, rope_type: 'default'}},
    }
    const e2b = parseModelConfig({architectures: ['Gemma4ForConditionalGeneration'], model_type: 'gemma4', eos_token_id: [1, 106], text_config: text, vision_config: {}, audio_config: {}})
    const layers = e2b.gemma4!.layers
    assert.deepEqual([layers[13]!.kvSource, layers[14]!.kvSource, layers[15]!.kvSource, layers[19]!.kvSource, layers[34]!.kvSource], [13, 14, 13, 14, 14])
    assert.deepEqual([layers[14]!.intermediateSize, layers[15]!.intermediateSize, layers[14]!.headDim, e2b.finalLogitSoftcap, e2b.eosTokenIds], [6144, 12288, 512, 30, [1, 106]])
    const unshared = parseModelConfig({...text, architectures: ['Gemma4ForCausalLM'], num_kv_shared_layers: 0})
    // 12 sliding x 256 + 3 full x 512 values of K and of V per token, against 28 x 256 + 7 x 512.
    assert.deepEqual([kvBytesPerBlock(e2b, 16), kvBytesPerBlock(unshared, 16)], [16 * 36864, 16 * 86016])
  })

  it('tensors: q only on KV-shared layers, no v_proj where keys are values, per-layer input weights, each layer its own shapes', () => {
    const c = parseModelConfig(testModelConfigJson('tiny', {variant: 'gemma4'}))
    const names = expectedTensorShapes(c).map((t) => t.name)
    assert.ok(names.includes('model.embed_tokens_per_layer.weight') && names.includes('model.layers.3.per_layer_input_gate.weight'))
    assert.ok(!names.includes('model.layers.2.self_attn.k_proj.weight') && names.includes('model.layers.1.self_attn.v_proj.weight'))
    const keqv = expectedTensorShapes(parseModelConfig(testModelConfigJson('tiny', {variant: 'gemma4-keqv'})))
    assert.deepEqual(keqv.filter((t) => t.name.startsWith('model.layers.1.self_attn.')).map((t) => [t.name.slice(25), t.shape]),
      [['q_proj.weight', [192, 64]], ['q_norm.weight', [48]], ['k_proj.weight', [48, 64]], ['k_norm.weight', [48]], ['o_proj.weight', [64, 192]]])
    // Every preset of every Gemma 4 variant is a config transformers could load (its layer_types fit its layer count).
    for (const preset of ['tiny', 'small', 'bench'] as const) {
      for (const variant of ['gemma4', 'gemma4-keqv', 'gemma4-moe'] as const) assert.ok(parseModelConfig(testModelConfigJson(preset, {variant})).gemma4)
    }
    const moe = parseModelConfig(testModelConfigJson('tiny', {variant: 'gemma4-moe'}))
    assert.deepEqual(moe.gemma4!.moe, {numExperts: 4, topK: 2, intermediateSize: 32})
    assert.deepEqual(expectedTensorShapes(moe).filter((t) => t.name.startsWith('model.layers.0.experts.')).map((t) => t.shape), [[4, 64, 64], [4, 64, 32]])
  })

  it('the CPU backend holds K/V only for the layers that write them: its bytes per block are the sizing\'s', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'gemma4'}))
    const native = await loadNativeModel({config: model.config, tensors: model.tensors, numBlocks: 4, blockSize: 4, numSwapBlocks: 2, weightFormat: 'f32', threads: 1, device: 'cpu'})
    try {
      // Layers 0 (sliding, 2 KV heads of 32) and 1 (full, 2 of 64) write; layers 2 and 3 share theirs.
      assert.deepEqual([native.info.kvBytesPerBlock, kvBytesPerBlock(model.config, 4)], [4 * 2 * 4 * (2 * 32 + 2 * 64), 4 * 2 * 4 * (2 * 32 + 2 * 64)])
    } finally {
      native.close()
    }
  })

  it('the MoE block\'s fused experts load cut per expert, each a byte window of its tensor', async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'gemma4-moe'}))
    const parts = model.tensors.filter((t) => t.name.startsWith('model.layers.1.experts.'))
    assert.deepEqual(parts.map((t) => [t.name, t.shape]).slice(0, 3), [['model.layers.1.experts.0.gate_up_proj', [64, 64]], ['model.layers.1.experts.1.gate_up_proj', [64, 64]], ['model.layers.1.experts.2.gate_up_proj', [64, 64]]])
    assert.equal(parts[1]!.offset - parts[0]!.offset, 64 * 64 * 4)
  })
})

for (const variant of ['gemma4', 'gemma4-keqv', 'gemma4-moe'] as const) {
  describe(`${variant} test model`, () => {
    it(`matches transformers 5.18 (test/fixtures/${variant}-tiny-transformers.json): top-10 logits of the engine, 8 greedy tokens`, async () => {
      await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant}), fixture(variant))
    })

    it('4 requests give alone the tokens and logprobs they give batched with chunked prefill (batch-invariant)', async () => {
      await checkBatchInvariant(variant, {requests: 4, promptStep: 11, maxTokens: 10})
    })
  })
}

describe('a Gemma4ForConditionalGeneration checkpoint', () => {
  it('runs its language model (model.language_model.* tensors, the config transformers 5.18 writes: per_layer_config) as the text model, the towers unused', async () => {
    const textDir = await ensureTestModel('tiny', {variant: 'gemma4'})
    const text = await loadModel(textDir)
    const spec = {configFixture: 'gemma4-multimodal-config.json', rename: (name: string) => name.replace(/^model\./, 'model.language_model.'), visionTensor: 'model.vision_tower.patch_embedder.input_proj.weight'}
    await withMultimodalCheckpoint(textDir, text, spec, async (dir) => {
      const multimodal = await loadModel(dir)
      assert.match(multimodal.config.notes!.join('\n'), /Gemma4ForConditionalGeneration: its language model runs text only/)
      assert.deepEqual(multimodal.config.gemma4, text.config.gemma4)
      assert.deepEqual((await promptLogits(multimodal, 'f32')).logits, (await promptLogits(text, 'f32')).logits)
    })
  })
})

describe('gemma4 in a paged engine', () => {
  const params = (n: number) => makeSamplingParams({temperature: 0, maxTokens: 20, ignoreEos: true, n})

  it('chunked prefill, prefix caching, forks and preemption give the tokens one request alone gets', async () => {
    await checkPagedMatchesAlone('gemma4')
  })

  it('generate --json gives the engine\'s greedy tokens for the text\'s prompt', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'gemma4'})
    const result = await runCommand('generate', ['--model', dir, '--threads', '1', '--json', '--temperature', '0', '--max-tokens', '8', '--ignore-eos', 'the sea and the sky'])
    assert.equal(result.code, 0, result.stderr)
    const [reply] = JSON.parse(result.stdout) as {prompt_token_ids: number[]; outputs: {token_ids: number[]}[]}[]
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: dir, threads: 2, weightDtype: 'f32', kvMemoryBytes: 4 << 20}))
    try {
      const [expected] = await engine.generate([{prompt: reply!.prompt_token_ids, params: params(1)}])
      assert.deepEqual(reply!.outputs[0]!.token_ids, expected!.outputs[0]!.tokenIds.slice(0, 8))
    } finally {
      await engine.shutdown()
    }
  })

  it('/v1/completions replies with transformers\' greedy tokens', async () => {
    await checkServerAgainstTransformers('gemma4')
  })
})
