// Gemma 3n (text): configs read as transformers 5.18's Gemma3nTextConfig reads them (unsupported or malformed values
// refused by key), AltUp's and LAuReL's tensors, logits and greedy tokens against transformers (also with chunked
// prefill, prefix caching and preemption in a paged engine), and the ConditionalGeneration checkpoint's language model.
import assert from 'node:assert/strict'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {makeEngineConfig} from '../src/engine/config.js'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {expectedTensorShapes, loadModel} from '../src/engine/model/load-model.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {encodeFloats, readTensorFloat32, writeSafetensors} from '../src/engine/model/safetensors.js'
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {kvBytesPerBlock} from '../src/engine/native.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {checkBatchInvariant} from './support/batch-invariance-check.js'
import {checkPagedMatchesAlone} from './support/paged-alone-check.js'
import {promptLogits} from './support/model-logits.js'
import {withMultimodalCheckpoint} from './support/multimodal-checkpoint.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const GEMMA3N = {architectures: ['Gemma3nForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 20, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16}
const fixture = readTransformersFixture('gemma3n')
const greedy = (n: number) => makeSamplingParams({temperature: 0, maxTokens: n, ignoreEos: true})

describe('Gemma 3n config', () => {
  it('as Gemma3nTextConfig reads it: every 5th layer full, the last 15 sharing K/V, the first 10 gates cut at 0.95, 4 AltUp streams on stream 0, LAuReL rank 64', () => {
    const c = parseModelConfig(GEMMA3N)
    const g = c.gemma4!
    assert.deepEqual(c.layerWindows, Array.from({length: 20}, (_, i) => ((i + 1) % 5 === 0 ? 0 : 512)))
    // Layers 5..19 share: sliding ones read layer 3, full ones layer 4.
    assert.deepEqual(g.layers.map((l) => l.kvSource), [0, 1, 2, 3, 4, 3, 3, 3, 3, 4, 3, 3, 3, 3, 4, 3, 3, 3, 3, 4])
    assert.deepEqual(c.gemma3n, {altupInputs: 4, altupActiveIdx: 0, altupCorrectScale: true, laurelRank: 64, activationSparsity: [...Array(10).fill(0.95), ...Array(10).fill(0)]})
    assert.deepEqual([g.perLayerInputSize, g.perLayerVocabSize, g.fullRopeAngles, g.localRopeTheta, c.ropeTheta, c.normWeightOffset, c.attentionScale, c.finalLogitSoftcap, c.embeddingScale, c.hiddenAct, c.tieWordEmbeddings],
      [256, 262144, 8, 10000, 1e6, 0, 1, 30, 8, 'gelu_pytorch_tanh', true])
    // Ten layers or fewer: no sparse layer; the older rope keys; a width per layer.
    const small = parseModelConfig({...GEMMA3N, num_hidden_layers: 3, num_kv_shared_layers: 0, rope_theta: 5e5, rope_local_base_freq: 2e4, intermediate_size: [32, 48, 64]})
    assert.deepEqual([small.gemma3n!.activationSparsity, small.ropeTheta, small.gemma4!.localRopeTheta, small.gemma4!.layers.map((l) => l.intermediateSize)], [[0, 0, 0], 5e5, 2e4, [32, 48, 64]])
  })

  it('refuses unsupported and malformed values by key', () => {
    const refused: [Record<string, unknown>, RegExp][] = [
      [{altup_active_idx: 4}, /"altup_active_idx" 4 names no stream of altup_num_inputs 4/],
      [{altup_num_inputs: 0}, /"altup_num_inputs" must be a positive integer, got 0/],
      [{altup_num_inputs: 2 ** 31 - 1}, /"altup_num_inputs" 2147483647 makes prediction_coefs .* beyond the sizes the backends take/],
      [{altup_coef_clip: 'high'}, /"altup_coef_clip" must be a number, got "high"/],
      // Gemma3nTextConfig refuses null where its fields are typed as numbers or booleans.
      [{altup_coef_clip: null}, /"altup_coef_clip" must be a number, got null/],
      [{altup_active_idx: null}, /"altup_active_idx" must be a non-negative integer, got null/],
      [{num_kv_shared_layers: null}, /"num_kv_shared_layers" must be a non-negative integer, got null/],
      [{laurel_rank: null}, /"laurel_rank" must be a positive integer, got null/],
      [{altup_correct_scale: null}, /"altup_correct_scale" must be true or false, got null/],
      [{final_logit_softcapping: null}, /"final_logit_softcapping" must be a positive number for Gemma 3n \(null given\)/],
      [{altup_correct_scale: 'yes'}, /"altup_correct_scale" must be true or false, got "yes"/],
      [{laurel_rank: 0}, /"laurel_rank" must be a positive integer, got 0/],
      [{activation_sparsity_pattern: 0.95}, /"activation_sparsity_pattern" must list a share in \[0, 1\) for each of the 20 layers, got 0.95/],
      [{activation_sparsity_pattern: [1, ...Array(19).fill(0)]}, /"activation_sparsity_pattern" must list a share in \[0, 1\)/],
      [{activation_sparsity_pattern: [0.5]}, /"activation_sparsity_pattern" must list a share in \[0, 1\) for each of the 20 layers/],
      [{intermediate_size: [128, 128]}, /"intermediate_size" must be a positive integer or a list of one per layer \(20\)/],
      [{num_kv_shared_layers: 20}, /num_kv_shared_layers 20 leaves no layer/],
      [{num_hidden_layers: 3, layer_types: ['sliding_attention', 'sliding_attention', 'full_attention'], num_kv_shared_layers: 1}, /KV-shared layer 2 \(full_attention\) has no earlier full_attention layer/],
      [{layer_types: ['full_attention']}, /"layer_types" must list "full_attention" or "sliding_attention" for each of the 20 layers/],
      [{rope_parameters: {full_attention: {rope_type: 'linear', factor: 2.0}, sliding_attention: {}}}, /rope_parameters.full_attention of type "linear" is not supported/],
      [{rope_parameters: {full_attention: {}, sliding_attention: {rope_theta: -1}}}, /rope_parameters.sliding_attention.rope_theta must be a positive number, got -1/],
      [{rope_scaling: {rope_type: 'linear', factor: 2.0}}, /"rope_scaling" .* is not supported/],
      [{rope_parameters: {rope_type: 'default', rope_theta: 1e4}}, /"rope_parameters" must hold only "full_attention" and "sliding_attention" objects for Gemma 3n/],
      [{rope_parameters: {full_attention: {rope_type: null}, sliding_attention: {}}}, /rope_parameters.full_attention of type null is not supported/],
      [{rope_parameters: {full_attention: {}, sliding_attention: {rope_theta: null}}}, /rope_parameters.sliding_attention.rope_theta must be a positive number, got null/],
      [{attention_bias: true}, /"attention_bias" true .* is not supported/],
      [{sliding_window: null}, /Gemma 3n needs a "sliding_window" \(null given\)/],
      [{hidden_size_per_layer_input: 0}, /"hidden_size_per_layer_input" must be a positive integer, got 0/],
      [{vocab_size_per_layer_input: 0}, /"vocab_size_per_layer_input" must be a positive integer, got 0/],
      [{head_dim: 15}, /"head_dim" 15 must be even/],
      [{num_key_value_heads: 3}, /num_attention_heads \(4\) is not a multiple of num_key_value_heads \(3\)/],
      [{hidden_size: 66}, /"hidden_size" 66 is not a multiple of num_attention_heads \(4\), as Gemma3nTextConfig requires/],
    ]
    for (const [edit, pattern] of refused) assert.throws(() => parseModelConfig({...GEMMA3N, ...edit}), loadError(pattern), JSON.stringify(edit))
  })

  it('Gemma 3n E2B\'s shape (30 layers, 10 KV-shared): shared layers read layer 18 (sliding) or 19 (full); CPU only, by name', () => {
    const text = {
      hidden_size: 2048, num_hidden_layers: 30, num_attention_heads: 8, num_key_value_heads: 2, head_dim: 256, intermediate_size: Array(30).fill(8192),
      num_kv_shared_layers: 10, vocab_size: 262400, vocab_size_per_layer_input: 262144, hidden_size_per_layer_input: 256, laurel_rank: 64,
      activation_sparsity_pattern: [...Array(10).fill(0.95), ...Array(20).fill(0)], altup_num_inputs: 4, altup_active_idx: 0, altup_coef_clip: 120.0,
      layer_types: Array.from({length: 30}, (_, i) => (i % 5 === 4 ? 'full_attention' : 'sliding_attention')), final_logit_softcapping: 30.0,
      rope_parameters: {full_attention: {rope_type: 'default', rope_theta: 1000000.0}, sliding_attention: {rope_type: 'default', rope_theta: 10000.0}},
    }
    const e2b = parseModelConfig({architectures: ['Gemma3nForConditionalGeneration'], model_type: 'gemma3n', text_config: text, vision_config: {}, audio_config: {}, dtype: 'bfloat16'})
    assert.deepEqual([e2b.architecture, e2b.torchDtype, e2b.numLayers], ['Gemma3nForCausalLM', 'bfloat16', 30])
    assert.match(e2b.notes!.join(' '), /Gemma3nForConditionalGeneration: its language model runs text only/)
    assert.match(e2b.notes!.join(' '), /token ids 262144\.\.262399 \(the vision and audio towers' soft tokens\) take per-layer input row 0/)
    const layers = e2b.gemma4!.layers
    assert.deepEqual([layers[19]!.kvSource, layers[20]!.kvSource, layers[24]!.kvSource, layers[29]!.kvSource], [19, 18, 19, 19])
    // 16 sliding + 4 full layers write K and V: 20 of 30.
    assert.equal(kvBytesPerBlock(e2b, 16), 16 * 4 * 2 * 20 * 2 * 256)
    assert.match(cpuOnlyNeed({quantization: undefined, batchInvariant: false}, {config: e2b, tensors: []})!.reason, /Gemma3nForCausalLM \(AltUp streams, LAuReL and sparse MLP gates run on the CPU only\)/)
  })

  it('tensors: AltUp\'s stream projections and per-layer router and coefficients, LAuReL, no k/v on KV-shared layers, no layer_scalar, an MLP width per layer', () => {
    const shapes = new Map(expectedTensorShapes(parseModelConfig(testModelConfigJson('tiny', {variant: 'gemma3n'}))).map((t) => [t.name, t.shape]))
    assert.deepEqual([shapes.get('model.altup_projections.1.weight'), shapes.get('model.altup_unembed_projections.1.weight'), shapes.has('model.altup_projections.2.weight')], [[64, 64], [64, 64], false])
    assert.deepEqual(['prediction_coefs.weight', 'correction_coefs.weight', 'modality_router.weight', 'correct_output_scale'].map((n) => shapes.get(`model.layers.4.altup.${n}`)), [[9, 3], [3, 3], [3, 64], [64]])
    assert.deepEqual([shapes.get('model.layers.0.laurel.linear_left.weight'), shapes.get('model.layers.0.laurel.linear_right.weight')], [[8, 64], [64, 8]])
    assert.deepEqual([shapes.has('model.layers.2.self_attn.k_proj.weight'), shapes.has('model.layers.3.self_attn.k_proj.weight'), shapes.has('model.layers.0.layer_scalar')], [true, false, false])
    assert.deepEqual([shapes.get('model.layers.1.mlp.gate_proj.weight'), shapes.get('model.layers.3.mlp.down_proj.weight')], [[96, 64], [64, 64]])
  })
})

// gemma3n-defaults' ten layers of 0.95 cuts leave transformers' own float32 logits 5.4e-5 from its float64 ones (the
// engine's 1.1e-5), so it is held to 1e-4.
const LOGIT_TOLERANCE = {gemma3n: 1e-5, 'gemma3n-defaults': 1e-4}

for (const variant of ['gemma3n', 'gemma3n-defaults'] as const) {
  describe(`${variant} test model`, () => {
    it(`matches transformers 5.18 (test/fixtures/${variant}-tiny-transformers.json): top-10 logits within ${LOGIT_TOLERANCE[variant]}, 8 greedy tokens`, async () => {
      const expected = readTransformersFixture(variant)
      const dir = await ensureTestModel('tiny', {variant})
      await checkDirAgainstTransformers(dir, expected)
      const model = await loadModel(dir)
      const {logits} = await promptLogits(model, 'f32', expected.prompts.map((p) => p.prompt_token_ids))
      let end = 0
      for (const [i, p] of expected.prompts.entries()) {
        end += p.prompt_token_ids.length
        const last = logits.subarray((end - 1) * model.config.vocabSize)
        const worst = Math.max(...p.last_position_top10.ids.map((id, k) => Math.abs(last[id]! - p.last_position_top10.logits[k]!)))
        assert.ok(worst < LOGIT_TOLERANCE[variant], `prompt ${i}: top-10 logits ${worst} from transformers'`)
      }
    })
  })
}

describe('gemma3n test model', () => {
  it('chunked prefill (4 tokens a step) over pages of 4 gives transformers\' greedy tokens', async () => {
    const engine = await LLMEngine.create(makeEngineConfig({
      modelPath: await ensureTestModel('tiny', {variant: 'gemma3n'}), threads: 2, weightDtype: 'f32', blockSize: 4, numBlocks: 64, enableChunkedPrefill: true, maxNumBatchedTokens: 4,
    }))
    try {
      const results = await engine.generate(fixture.prompts.map((p) => ({prompt: p.prompt_token_ids, params: greedy(p.greedy_token_ids.length)})))
      assert.deepEqual(results.map((r) => r.outputs[0]!.tokenIds), fixture.prompts.map((p) => p.greedy_token_ids))
    } finally {
      await engine.shutdown()
    }
  })

  it('4 requests give alone the tokens and logprobs they give batched with chunked prefill (batch-invariant)', async () => {
    await checkBatchInvariant('gemma3n', {requests: 4, promptStep: 11, maxTokens: 10})
  })

  it('prefix caching, forks and preemption (recompute and swap) give the tokens one request alone gets', async () => {
    await checkPagedMatchesAlone('gemma3n')
  })
})

describe('token ids past vocab_size_per_layer_input', () => {
  it('take per-layer input row 0, as Gemma3nModel gives its towers\' soft tokens: the logits of a checkpoint whose row is row 0', async () => {
    const textDir = await ensureTestModel('tiny', {variant: 'gemma3n'})
    const text = await loadModel(textDir)
    const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-gemma3n-'))
    try {
      // short: a per-layer table of 500 rows, so ids 500..511 are past it; copied: all 512 rows, row 505 a copy of row 0.
      const write = (dir: string, rows: number, edit: (values: Float32Array, width: number) => void) => {
        cpSync(textDir, dir, {recursive: true})
        const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>
        writeFileSync(join(dir, 'config.json'), JSON.stringify({...config, vocab_size_per_layer_input: rows}))
        writeSafetensors(join(dir, 'model.safetensors'), text.tensors.map((t) => {
          let values = readTensorFloat32(t)
          let shape = t.shape
          if (t.name === 'model.embed_tokens_per_layer.weight') {
            values = values.slice(0, rows * t.shape[1]!)
            edit(values, t.shape[1]!)
            shape = [rows, t.shape[1]!]
          }
          return {name: t.name, dtype: 'F32' as const, shape, data: () => encodeFloats(values, 'F32')}
        }))
      }
      write(join(scratch, 'short'), 500, () => {})
      write(join(scratch, 'copied'), 512, (values, width) => values.copyWithin(505 * width, 0, width))
      const prompts = [[1, 505, 7, 9, 300], [2, 3, 505]]
      const short = await loadModel(join(scratch, 'short'))
      assert.match(short.config.notes!.join(' '), /token ids 500\.\.511 .* take per-layer input row 0/)
      assert.deepEqual((await promptLogits(short, 'f32', prompts)).logits, (await promptLogits(await loadModel(join(scratch, 'copied')), 'f32', prompts)).logits)
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  })
})

describe('a Gemma3nForConditionalGeneration checkpoint', () => {
  it('runs its language model (model.language_model.* tensors, the config transformers 5.18 writes) as the text model, the towers unused', async () => {
    const textDir = await ensureTestModel('tiny', {variant: 'gemma3n'})
    const text = await loadModel(textDir)
    const spec = {configFixture: 'gemma3n-multimodal-config.json', rename: (name: string) => name.replace(/^model\./, 'model.language_model.'), visionTensor: 'model.vision_tower.timm_model.conv_stem.conv.weight'}
    await withMultimodalCheckpoint(textDir, text, spec, async (dir) => {
      const multimodal = await loadModel(dir)
      assert.deepEqual([multimodal.config.gemma3n, multimodal.config.gemma4], [text.config.gemma3n, text.config.gemma4])
      assert.deepEqual((await promptLogits(multimodal, 'f32')).logits, (await promptLogits(text, 'f32')).logits)
    })
  })
})
