// Mistral Small 4 (Mistral4ForCausalLM, and as the text model of a Mistral3ForConditionalGeneration checkpoint): its
// config keys and refusals, and the tiny model against transformers 5.18 (test/fixtures/mistral4-tiny-transformers.json);
// OLMo Hybrid (OlmoHybridForCausalLM) likewise (test/fixtures/olmo-hybrid-tiny-transformers.json); transformers' newest
// families the engine lacks the pieces of, refused naming what they need.
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
import {ensureTestModel, testModelConfigJson} from '../src/engine/model/test-model.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'
import {checkSlotBatchLogits} from './support/slot-batch-logits.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {makeEngineConfig} from '../src/engine/config.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const configJson = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'mistral4'}), ...extra})

/** The tiny model rewritten as a Mistral3ForConditionalGeneration checkpoint (model.language_model.*, a vision tensor too). */
async function withMistral3Checkpoint(check: (dir: string) => Promise<void>): Promise<void> {
  const textDir = await ensureTestModel('tiny', {variant: 'mistral4'})
  const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-mistral3-'))
  try {
    cpSync(textDir, scratch, {recursive: true})
    const {architectures: _, pagedllm_test_model: __, bos_token_id, eos_token_id, torch_dtype, ...text} = configJson()
    writeFileSync(join(scratch, 'config.json'), JSON.stringify({architectures: ['Mistral3ForConditionalGeneration'], model_type: 'mistral3', bos_token_id, eos_token_id, torch_dtype,
      image_token_index: 10, spatial_merge_size: 2, text_config: text, vision_config: {model_type: 'pixtral', hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, head_dim: 8}}))
    const tensors = [...readCheckpointTensors(textDir).map((t) => ({name: t.name.replace(/^model\./, 'model.language_model.'), shape: t.shape, values: readTensorFloat32(t)})),
      {name: 'model.vision_tower.ln_pre.weight', shape: [16], values: new Float32Array(16)}]
    writeSafetensors(join(scratch, 'model.safetensors'), tensors.map((t) => ({name: t.name, dtype: 'F32', shape: t.shape, data: () => encodeFloats(t.values, 'F32')})))
    await check(scratch)
  } finally {
    rmSync(scratch, {recursive: true, force: true})
  }
}

describe('Mistral Small 4', () => {
  it('reads Mistral4Config: latent attention, softmax routing ranked by groups\' best two, fused experts, the context capped by the query scale', () => {
    const config = parseModelConfig(configJson())
    assert.deepEqual([config.mla?.qLoraRank, config.mla?.kvLoraRank, config.mla?.vHeadDim, config.headDim, config.rotaryDim, config.numKvHeads], [24, 32, 12, 24, 8, 4])
    assert.deepEqual(config.moe?.grouped, {groups: 2, topkGroups: 1, sigmoid: false, groupTop2: true, routerBias: false, routedScalingFactor: 1.5})
    assert.deepEqual([config.moe?.fusedExperts, config.moe?.sparseLayers, config.moe?.sharedExpertIntermediateSize, config.moe?.ungatedSharedExpert], [true, [false, true, true], 24, true])
    assert.equal(config.maxPositionEmbeddings, 64)
    assert.match(config.notes?.join(' ') ?? '', /Mistral4ForCausalLM: the context is capped at 64 tokens/)
    // Mistral4Config's defaults: kv_lora_rank 256, q_lora_rank 1024, 128 experts top-4, YaRN x128 over 8192 (so 8192 positions).
    const {kv_lora_rank: _k, q_lora_rank: _q, n_routed_experts: _e, num_experts_per_tok: _t, rope_parameters: _r, n_group: _g, topk_group: _tg, max_position_embeddings: _m, ...byDefault} = configJson()
    const defaults = parseModelConfig(byDefault)
    assert.deepEqual([defaults.mla?.kvLoraRank, defaults.mla?.qLoraRank, defaults.moe?.numExperts, defaults.moe?.numExpertsPerToken, defaults.maxPositionEmbeddings, defaults.ropeScaling.type, defaults.moe?.grouped?.groups],
      [256, 1024, 128, 4, 8192, 'yarn', 1])
    const wrapped = parseModelConfig({architectures: ['Mistral3ForConditionalGeneration'], text_config: {...byDefault, architectures: undefined, model_type: 'mistral4'}})
    assert.deepEqual([wrapped.architecture, wrapped.mla?.kvLoraRank], ['Mistral4ForCausalLM', 256])
    assert.throws(() => parseModelConfig(configJson({moe_layer_freq: 2})), /"moe_layer_freq" 2 is not read by Mistral4ForCausalLM/)
    assert.throws(() => parseModelConfig(configJson({num_key_value_heads: 2})), /num_key_value_heads 2 must equal num_attention_heads/)
    assert.throws(() => parseModelConfig(configJson({attention_bias: true})), /attention_bias=true is not supported for Mistral4ForCausalLM/)
    assert.throws(() => parseModelConfig(configJson({n_group: 8, topk_group: 1})), /n_group 8 .*leave one per group|ranks a group by its best two/)
    assert.throws(() => parseModelConfig(configJson({rope_parameters: {rope_type: 'yarn', factor: 4, llama_4_scaling_beta: 0.1}})), /"rope_parameters.llama_4_scaling_beta" needs a positive integer "original_max_position_embeddings"/)
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^Mistral4ForCausalLM \(multi-head latent attention and grouped expert routing run on the CPU only\)/)
  })

  it('the tiny model matches transformers 5.18: top-10 last-position logits within 1e-4, greedy tokens equal', async () => {
    await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant: 'mistral4'}), readTransformersFixture('mistral4'))
  })

  it('as the text model of a Mistral3ForConditionalGeneration checkpoint: the same logits and tokens', async () => {
    await withMistral3Checkpoint(async (dir) => {
      assert.match((await loadModel(dir)).config.notes?.join(' ') ?? '', /Mistral3ForConditionalGeneration: its language model runs text only/)
      await checkDirAgainstTransformers(dir, readTransformersFixture('mistral4'))
    })
  })

  it('refuses experts stored transposed ([experts, in, out]), which transformers does not load for it', async () => {
    const textDir = await ensureTestModel('tiny', {variant: 'mistral4'})
    const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-mistral4-'))
    try {
      cpSync(textDir, scratch, {recursive: true})
      const tensors = readCheckpointTensors(textDir).map((t) => ({name: t.name, shape: /experts\.(gate_up|down)_proj$/.test(t.name) ? [t.shape[0]!, t.shape[2]!, t.shape[1]!] : t.shape, values: readTensorFloat32(t)}))
      writeSafetensors(join(scratch, 'model.safetensors'), tensors.map((t) => ({name: t.name, dtype: 'F32', shape: t.shape, data: () => encodeFloats(t.values, 'F32')})))
      await assert.rejects(loadModel(scratch), /Tensor model\.layers\.\d\.mlp\.experts\.(gate_up_proj has shape \[8, 64, 48\], but config\.json implies \[8, 48, 64\]|down_proj has shape \[8, 24, 64\], but config\.json implies \[8, 64, 24\])/)
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  })
})

describe('the newest transformers families', () => {
  it('are refused naming what they need', () => {
    const sizes = {vocab_size: 512, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4}
    const refusals: [string, RegExp][] = [
      ['DeepseekV4ForCausalLM', /DeepSeek-V4 needs compressed sparse attention .*hyper-connections/],
      ['Qwen4ExpForCausalLM', /Qwen4-Exp needs hyper-connections over several residual streams/],
      ['Qwen4ExpForConditionalGeneration', /Qwen4-Exp's language model needs hyper-connections/],
      ['GlmMoeDsaForCausalLM', /GLM-5 \(GlmMoeDsa\) needs DeepSeek sparse attention's lightning indexer/],
      ['MiniMaxForCausalLM', /MiniMax-Text-01 needs lightning attention \(a linear attention decaying by a fixed per-head, per-layer slope/],
    ]
    for (const [architecture, why] of refusals) {
      assert.throws(() => parseModelConfig({architectures: [architecture], ...sizes}), (error: Error) => error instanceof ModelLoadError && error.message.startsWith(`Unsupported architecture ${architecture} in config.json`) && why.test(error.message), architecture)
    }
  })
})

const olmoJson = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'olmo-hybrid'}), ...extra})

describe('OLMo Hybrid', () => {
  it('reads OlmoHybridConfig: Gated DeltaNet sizes, doubled beta, the gated norm\'s eps, NoPE when rope_theta is null, and its defaults', () => {
    const config = parseModelConfig(olmoJson())
    assert.deepEqual(config.hybrid?.linearLayers, [true, false, true])
    assert.deepEqual([config.hybrid?.linearNumKeyHeads, config.hybrid?.linearNumValueHeads, config.hybrid?.linearKeyHeadDim, config.hybrid?.linearValueHeadDim, config.hybrid?.attentionOutputGate], [2, 4, 16, 12, false])
    assert.deepEqual(config.hybrid?.olmoHybrid, {betaScale: 2, gatedNormEps: 1e-5})
    assert.deepEqual([config.rmsVariant?.wholeQkNorm, config.rmsVariant?.ropeLayers], [true, [false, false, false]])
    assert.equal(parseModelConfig(olmoJson({linear_allow_neg_eigval: false})).hybrid?.olmoHybrid?.betaScale, 1)
    assert.equal(parseModelConfig(olmoJson({rope_parameters: {rope_type: 'default', rope_theta: 5e5}})).rmsVariant?.ropeLayers, undefined)
    // OlmoHybridConfig's defaults: linear heads as the attention's, key size 0.75 * hidden / heads, value size twice that; every 4th layer full, the last where that leaves none.
    const {layer_types: _l, linear_num_key_heads: _k, linear_num_value_heads: _v, linear_key_head_dim: _kd, linear_value_head_dim: _vd, ...byDefault} = olmoJson()
    const defaults = parseModelConfig({...byDefault, num_hidden_layers: 5})
    assert.deepEqual([defaults.hybrid?.linearNumKeyHeads, defaults.hybrid?.linearNumValueHeads, defaults.hybrid?.linearKeyHeadDim, defaults.hybrid?.linearValueHeadDim], [4, 4, 12, 24])
    assert.deepEqual(defaults.hybrid?.linearLayers, [true, true, true, false, true])
    assert.deepEqual(parseModelConfig({...byDefault, num_hidden_layers: 2}).hybrid?.linearLayers, [true, false])
    assert.throws(() => parseModelConfig(olmoJson({hidden_act: 'gelu'})), /"hidden_act" "gelu" is not supported for OlmoHybridForCausalLM/)
    assert.throws(() => parseModelConfig(olmoJson({attention_bias: true})), /"attention_bias" true is not supported for OlmoHybridForCausalLM/)
    assert.throws(() => parseModelConfig(olmoJson({linear_allow_neg_eigval: 'yes'})), /"linear_allow_neg_eigval" must be a boolean/)
    assert.throws(() => parseModelConfig(olmoJson({head_dim: 8})), /"head_dim" 8 is not read by OlmoHybridForCausalLM/)
    assert.throws(() => parseModelConfig(olmoJson({layer_types: ['linear_attention', 'linear_attention', 'linear_attention']})), /"layer_types" must hold both/)
    assert.throws(() => parseModelConfig(olmoJson({linear_num_value_heads: 3})), /linear_num_value_heads \(3\) is not a multiple of linear_num_key_heads \(2\)/)
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^OlmoHybridForCausalLM \(Gated DeltaNet linear-attention layers have CPU kernels only\)/)
  })

  it('the tiny model matches transformers 5.18: top-10 last-position logits within 1e-4 (one batch on state slots), greedy tokens equal, in chunks of 3 too', async () => {
    const fixture = readTransformersFixture('olmo-hybrid')
    const dir = await ensureTestModel('tiny', {variant: 'olmo-hybrid'})
    await checkSlotBatchLogits(await loadModel(dir), fixture)
    for (const chunks of [{}, {enableChunkedPrefill: true, maxNumBatchedTokens: 3}]) {
      const engine = await LLMEngine.create(makeEngineConfig({modelPath: dir, kvMemoryBytes: 4 << 20, threads: 2, weightDtype: 'f32', ...chunks}))
      try {
        const results = await engine.generate(fixture.prompts.map((p) => ({prompt: p.prompt_token_ids, params: makeSamplingParams({temperature: 0, maxTokens: 8, ignoreEos: true})})))
        assert.deepEqual(results.map((r) => r.outputs[0]!.tokenIds), fixture.prompts.map((p) => p.greedy_token_ids))
      } finally {
        await engine.shutdown()
      }
    }
  })

  it('names a missing or misshapen checkpoint tensor as the checkpoint does', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'olmo-hybrid'})
    const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-olmo-hybrid-'))
    try {
      cpSync(dir, scratch, {recursive: true})
      const tensors = readCheckpointTensors(dir).filter((t) => t.name !== 'model.layers.1.post_feedforward_layernorm.weight')
        .map((t) => ({name: t.name, shape: t.name === 'model.layers.0.linear_attn.g_proj.weight' ? [t.shape[0]! / 2, t.shape[1]! * 2] : t.shape, values: readTensorFloat32(t)}))
      writeSafetensors(join(scratch, 'model.safetensors'), tensors.map((t) => ({name: t.name, dtype: 'F32', shape: t.shape, data: () => encodeFloats(t.values, 'F32')})))
      await assert.rejects(loadModel(scratch), /Tensor model\.layers\.0\.linear_attn\.g_proj\.weight has shape \[24, 128\], but config\.json implies \[48, 64\]/)
      const kept = tensors.map((t) => (t.name === 'model.layers.0.linear_attn.g_proj.weight' ? {...t, shape: [48, 64]} : t))
      writeSafetensors(join(scratch, 'model.safetensors'), kept.map((t) => ({name: t.name, dtype: 'F32', shape: t.shape, data: () => encodeFloats(t.values, 'F32')})))
      await assert.rejects(loadModel(scratch), /Tensor model\.layers\.1\.post_feedforward_layernorm\.weight is missing/)
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  })
})
