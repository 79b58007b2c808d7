// More of transformers 5.18's decoder families on the CPU engine, each read as its config class reads config.json and
// its tiny model held to transformers (test/fixtures/<variant>-tiny-transformers.json: top-10 last-position logits
// within 1e-5 relative, greedy tokens equal): Emu3's language model (Emu3ForCausalLM), HyperCLOVA X SEED
// (HyperCLOVAXForCausalLM), Youtu-LLM (YoutuForCausalLM), Granite MoE SWA
// (GraniteMoeSWAForCausalLM), Hy3 (HYV3ForCausalLM), Mellum (MellumForCausalLM), Aria's
// language model (AriaTextForCausalLM), A.X K1 (AXK1ForCausalLM); and the families of transformers 5.18 it lacks the pieces of,
// refused naming what they need.
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
import {fixtureGreedyTokens, readTransformersFixture} from './support/transformers-fixture.js'
import {promptLogits} from './support/model-logits.js'
import {relativeError} from './support/relative-error.js'

/** The variant's tiny model against its fixture: the worst top-10 relative logit error (under 1e-5) and the engine's greedy tokens. */
async function checkAgainstFixture(variant: TestModelVariant): Promise<void> {
  const fixture = readTransformersFixture(variant)
  const dir = await ensureTestModel('tiny', {variant})
  const model = await loadModel(dir)
  const {logits} = await promptLogits(model, 'f32', fixture.prompts.map((p) => p.prompt_token_ids))
  const vocab = model.config.vocabSize
  let end = 0
  const errors = fixture.prompts.map((p) => {
    end += p.prompt_token_ids.length
    const last = logits.subarray((end - 1) * vocab, end * vocab)
    return relativeError(p.last_position_top10.ids.map((id) => last[id]!), p.last_position_top10.logits)
  })
  assert.ok(Math.max(...errors) < 1e-5, `${variant}: top-10 logits off by ${Math.max(...errors)} (relative)`)
  assert.deepEqual(await fixtureGreedyTokens(dir, fixture), fixture.prompts.map((p) => p.greedy_token_ids))
}

/** The variant's tiny model copied with its config.json changed by `extra` and the tensors `keep` keeps. */
async function withEditedCopy(variant: TestModelVariant, extra: Record<string, unknown>, keep: (name: string) => boolean, check: (dir: string) => Promise<void>): Promise<void> {
  const dir = await ensureTestModel('tiny', {variant})
  const scratch = mkdtempSync(join(tmpdir(), `pagedllm-${variant}-`))
  try {
    cpSync(dir, scratch, {recursive: true})
    writeFileSync(join(scratch, 'config.json'), JSON.stringify({...testModelConfigJson('tiny', {variant}), ...extra}))
    const tensors = readCheckpointTensors(dir).filter((t) => keep(t.name))
    writeSafetensors(join(scratch, 'model.safetensors'), tensors.map((t) => ({name: t.name, dtype: 'F32', shape: t.shape, data: () => encodeFloats(readTensorFloat32(t), 'F32')})))
    await check(scratch)
  } finally {
    rmSync(scratch, {recursive: true, force: true})
  }
}

const refusedByKey = (json: Record<string, unknown>, key: string) => assert.throws(() => parseModelConfig(json), (error: Error) => error instanceof ModelLoadError && error.message.includes(`"${key}"`), key)

describe('Emu3ForCausalLM', () => {
  const json = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'emu3'}), ...extra})

  it('reads Emu3TextConfig: Llama\'s biases, its rope base 1e6, 9216 positions and eps 1e-5 by default', () => {
    const config = parseModelConfig(json())
    assert.deepEqual([config.attentionBias, config.attentionOutputBias, config.mlpBias, config.ropeTheta, config.rmsNormEps], [true, true, true, 1e6, 1e-5])
    const {rms_norm_eps: _e, max_position_embeddings: _m, ...byDefault} = json()
    const defaults = parseModelConfig(byDefault)
    assert.deepEqual([defaults.maxPositionEmbeddings, defaults.rmsNormEps, defaults.tieWordEmbeddings], [9216, 1e-5, false])
    refusedByKey(json({mlp_bias: 'yes'}), 'mlp_bias')
    refusedByKey(json({rope_parameters: {rope_type: 'default', rope_theta: -1}}), 'rope_theta')
  })

  it('the tiny model matches transformers 5.18', async () => {
    await checkAgainstFixture('emu3')
  })
})

describe('HyperCLOVAXForCausalLM', () => {
  const json = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'hyperclovax'}), ...extra})

  it('reads HyperCLOVAXConfig: Granite\'s multipliers, logits times logits_scaling, head_dim^-0.5 by default, the post-norms by use_post_norm', () => {
    const config = parseModelConfig(json())
    assert.deepEqual([config.embeddingScale, config.rmsVariant?.residualMultiplier, config.rmsVariant?.logitsMultiplier, config.attentionScale, config.sandwichNorms], [1.75, 0.625, 1.5, 0.25, true])
    assert.equal(parseModelConfig(json({attention_multiplier: 0.5})).attentionScale, 0.5)
    assert.equal(parseModelConfig(json({use_post_norm: false})).sandwichNorms, false)
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^HyperCLOVAXForCausalLM \(CPU only/)
    refusedByKey(json({use_post_norm: 'yes'}), 'use_post_norm')
    refusedByKey(json({logits_scaling: 0}), 'logits_scaling')
    refusedByKey(json({num_attention_heads: 3, num_key_value_heads: 1}), 'hidden_size')
  })

  it('the tiny model matches transformers 5.18', async () => {
    await checkAgainstFixture('hyperclovax')
  })

  it('names a missing post-norm as the checkpoint does, and loads Granite\'s tensors alone without use_post_norm', async () => {
    await withEditedCopy('hyperclovax', {}, (name) => !name.endsWith('layers.1.post_norm2.weight'), async (dir) => {
      await assert.rejects(loadModel(dir), /Tensor model\.layers\.1\.post_norm2\.weight is missing/)
    })
    await withEditedCopy('hyperclovax', {use_post_norm: false}, (name) => !/post_norm[12]/.test(name), async (dir) => {
      const model = await loadModel(dir)
      assert.ok(model.tensors.some((t) => t.name === 'model.layers.1.post_attention_layernorm.weight'))
      assert.ok(!model.tensors.some((t) => /post_feedforward_layernorm|pre_feedforward_layernorm/.test(t.name)))
    })
  })
})

describe('YoutuForCausalLM', () => {
  const json = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'youtu'}), ...extra})

  it('reads YoutuConfig: DeepSeek-V3\'s latent attention over dense MLPs, interleaved rope by default, tied by default', () => {
    const config = parseModelConfig(json())
    assert.deepEqual([config.mla?.qLoraRank, config.mla?.kvLoraRank, config.mla?.vHeadDim, config.mla?.ropeInterleaved, config.mla?.latentNormEps, config.headDim, config.rotaryDim, config.numKvHeads, config.moe], [24, 32, 12, true, 1e-6, 24, 8, 4, undefined])
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^YoutuForCausalLM \(multi-head latent attention run on the CPU only\)/)
    // YoutuConfig's defaults: V3's attention sizes, 131072 positions, tied embeddings.
    const {q_lora_rank: _q, kv_lora_rank: _k, qk_nope_head_dim: _n, qk_rope_head_dim: _r, v_head_dim: _v, max_position_embeddings: _m, tie_word_embeddings: _t, ...byDefault} = json()
    const defaults = parseModelConfig({...byDefault, rope_parameters: {rope_type: 'default', rope_theta: 1e4}})
    assert.deepEqual([defaults.mla?.qLoraRank, defaults.mla?.kvLoraRank, defaults.mla?.vHeadDim, defaults.headDim, defaults.maxPositionEmbeddings, defaults.tieWordEmbeddings], [1536, 512, 128, 192, 131072, true])
    assert.equal(parseModelConfig(json({rope_interleave: false})).mla?.ropeInterleaved, false)
    refusedByKey(json({rope_interleave: 'no'}), 'rope_interleave')
    refusedByKey(json({qk_rope_head_dim: 7}), 'qk_rope_head_dim')
    assert.throws(() => parseModelConfig(json({attention_bias: true})), /attention_bias=true is not supported for YoutuForCausalLM/)
    // Not an object: read as absent, the YaRN (and its attention scale) would be dropped.
    for (const hostile of [0, 'yarn', [4, 4], true]) refusedByKey(json({rope_parameters: hostile}), 'rope_parameters')
  })

  it('the tiny model matches transformers 5.18', async () => {
    await checkAgainstFixture('youtu')
  })
})

describe('GraniteMoeSWAForCausalLM', () => {
  const json = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'granitemoe-swa'}), ...extra})

  it('reads GraniteMoeSWAConfig: Granite SWA\'s attention over GraniteMoeShared\'s experts, under GraniteMoeSharedConfig\'s other defaults', () => {
    const config = parseModelConfig(json())
    assert.deepEqual([config.attentionSinks, config.layerWindows, config.ropeTheta, config.ropeLocalTheta, config.rmsVariant?.ropeLayers], [true, [0, 8, 8, 8], 1e6, 1e4, [true, true, false, true]])
    assert.deepEqual([config.moe?.numExperts, config.moe?.numExpertsPerToken, config.moe?.expertIntermediateSize, config.moe?.sharedExpertIntermediateSize, config.moe?.ungatedSharedExpert], [4, 2, 64, 32, true])
    assert.deepEqual([config.embeddingScale, config.attentionScale, config.rmsVariant?.residualMultiplier, config.rmsVariant?.logitsMultiplier], [1.75, 0.375, 0.625, 1 / 1.5])
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^GraniteMoeSWAForCausalLM \(attention sinks have no CUDA path\)/)
    // GraniteMoeSWAConfig's defaults: a window of 128, untied (GraniteMoeShared's, not Granite SWA's tied), every 4th layer full.
    const {sliding_window: _w, tie_word_embeddings: _t, layer_rope_theta: _r, ...byDefault} = json()
    const defaults = parseModelConfig(byDefault)
    assert.deepEqual([defaults.layerWindows, defaults.tieWordEmbeddings, defaults.ropeLocalTheta], [[0, 128, 128, 128], false, undefined])
    refusedByKey(json({layer_rope_theta: [1e6, 1e4]}), 'layer_rope_theta')
    refusedByKey(json({layer_rope_theta: [1e6, 1e4, 5e5, 1e4]}), 'layer_rope_theta')
    refusedByKey(json({sliding_window: 0}), 'sliding_window')
    refusedByKey(json({num_local_experts: 0}), 'num_local_experts')
    refusedByKey(json({rope_parameters: 'default'}), 'rope_parameters')
  })

  it('the tiny model matches transformers 5.18', async () => {
    await checkAgainstFixture('granitemoe-swa')
  })

  it('refuses a shared_mlp in the checkpoint that shared_intermediate_size 0 (or its default) leaves unread', async () => {
    for (const extra of [{shared_intermediate_size: 0}, {shared_intermediate_size: undefined}]) {
      await withEditedCopy('granitemoe-swa', extra, () => true, async (dir) => {
        await assert.rejects(loadModel(dir), /Tensor model\.layers\.0\.shared_mlp\.input_linear\.weight is in the checkpoint .* no shared expert/)
      })
    }
  })

  it('names a misshapen fused expert tensor as the checkpoint does', async () => {
    await withEditedCopy('granitemoe-swa', {num_local_experts: 5}, () => true, async (dir) => {
      await assert.rejects(loadModel(dir), /Tensor model\.layers\.\d\.block_sparse_moe\.(experts\.gate_up_proj|router\.weight|experts\.down_proj) has shape \[4, /)
    })
  })
})

describe('HYV3ForCausalLM', () => {
  const json = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'hy-v3'}), ...extra})

  it('reads HYV3Config: per-head q/k norms, a dense first layer, one-group sigmoid routing with its bias and scale, a shared MLP', () => {
    const config = parseModelConfig(json())
    assert.deepEqual([config.qkNorm, config.headDim, config.numKvHeads, config.ropeTheta, config.rmsNormEps], [true, 24, 2, 11158840, 1e-5])
    assert.deepEqual(config.moe?.grouped, {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: true, routerBias: true, routedScalingFactor: 1.5})
    assert.deepEqual([config.moe?.sparseLayers, config.moe?.numExperts, config.moe?.expertIntermediateSize, config.moe?.sharedExpertIntermediateSize, config.moe?.ungatedSharedExpert, config.moe?.normTopkProb], [[false, true, true], 8, 32, 32, true, true])
    assert.deepEqual(parseModelConfig(json({mlp_layer_types: ['sparse', 'dense', 'sparse']})).moe?.sparseLayers, [true, false, true])
    // HYV3Config's defaults: 192 experts top-8 of 1536 scaled by 2.826, one shared expert, 8 KV heads, heads of 128.
    const {num_experts: _e, num_experts_per_tok: _k, moe_intermediate_size: _m, num_shared_experts: _s, router_scaling_factor: _r, num_key_value_heads: _kv, head_dim: _h, ...byDefault} = json()
    const defaults = parseModelConfig({...byDefault, num_attention_heads: 16})
    assert.deepEqual([defaults.moe?.numExperts, defaults.moe?.numExpertsPerToken, defaults.moe?.expertIntermediateSize, defaults.moe?.sharedExpertIntermediateSize, defaults.moe?.grouped?.routedScalingFactor, defaults.numKvHeads, defaults.headDim],
      [192, 8, 1536, 1536, 2.826, 8, 128])
    refusedByKey(json({mlp_bias: true}), 'mlp_bias')
    refusedByKey(json({num_shared_experts: 0}), 'num_shared_experts')
    refusedByKey(json({router_scaling_factor: -1}), 'router_scaling_factor')
    refusedByKey(json({enable_moe_fp32_combine: 'yes'}), 'enable_moe_fp32_combine')
    refusedByKey(json({mlp_layer_types: ['dense', 'sparse']}), 'mlp_layer_types')
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^HYV3ForCausalLM \(grouped expert routing run on the CPU only\)/)
  })

  it('the tiny model matches transformers 5.18', async () => {
    await checkAgainstFixture('hy-v3')
  })

  it('reads the router, its bias and the shared MLP under transformers\' own names too', async () => {
    const renamed = (name: string) => name.replace('.mlp.router.gate.', '.mlp.gate.').replace('.mlp.expert_bias', '.mlp.e_score_correction_bias').replace('.mlp.shared_mlp.', '.mlp.shared_experts.')
    const dir = await ensureTestModel('tiny', {variant: 'hy-v3'})
    const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-hy-v3-'))
    try {
      cpSync(dir, scratch, {recursive: true})
      const tensors = readCheckpointTensors(dir)
      writeSafetensors(join(scratch, 'model.safetensors'), tensors.map((t) => ({name: renamed(t.name), dtype: 'F32', shape: t.shape, data: () => encodeFloats(readTensorFloat32(t), 'F32')})))
      const [a, b] = [await loadModel(dir), await loadModel(scratch)]
      assert.deepEqual(b.tensors.map((t) => t.name), a.tensors.map((t) => t.name))
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  })
})

describe('MellumForCausalLM', () => {
  const json = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'mellum'}), ...extra})

  it('reads MellumConfig: Qwen3-MoE\'s layers, sliding layers with their own rope base, dense layers by mlp_layer_types', () => {
    const config = parseModelConfig(json())
    assert.deepEqual([config.qkNorm, config.headDim, config.layerWindows, config.ropeTheta, config.ropeScaling.type, config.ropeLocalTheta], [true, 24, [8, 0, 8], 1e6, 'yarn', 1e4])
    assert.deepEqual([config.moe?.sparseLayers, config.moe?.numExperts, config.moe?.numExpertsPerToken, config.moe?.expertIntermediateSize, config.moe?.normTopkProb, config.moe?.sharedExpertIntermediateSize], [[false, true, true], 8, 2, 32, true, 0])
    // MellumConfig's defaults: every layer full and sparse, its own rope bases (5e5 full), 64 experts top-8 of 896, heads of 128.
    const {layer_types: _l, mlp_layer_types: _m, rope_parameters: _r, num_experts: _e, num_experts_per_tok: _k, moe_intermediate_size: _i, head_dim: _h, ...byDefault} = json()
    const defaults = parseModelConfig({...byDefault, rope_theta: 1234})
    assert.deepEqual([defaults.layerWindows, defaults.moe?.sparseLayers, defaults.ropeTheta, defaults.moe?.numExperts, defaults.moe?.numExpertsPerToken, defaults.moe?.expertIntermediateSize, defaults.headDim],
      [undefined, [true, true, true], 5e5, 64, 8, 896, 128])
    refusedByKey(json({rope_parameters: {rope_type: 'default', rope_theta: 1e4}}), 'rope_parameters')
    refusedByKey(json({rope_parameters: {full_attention: {rope_type: 'default'}, sliding_attention: {rope_type: 'default', rope_theta: 1e4}}}), 'rope_parameters.full_attention.rope_theta')
    assert.throws(() => parseModelConfig(json({rope_parameters: {full_attention: {rope_type: 'default', rope_theta: 1e6}, sliding_attention: {rope_type: 'linear', factor: 2, rope_theta: 1e4}}})), /rope_parameters\.sliding_attention of type "linear" is not supported/)
    refusedByKey(json({mlp_layer_types: ['dense', 'sparse']}), 'mlp_layer_types')
    refusedByKey(json({sliding_window: null}), 'sliding_window')
    refusedByKey(json({layer_types: ['sliding_attention', 'chunked_attention', 'full_attention']}), 'layer_types')
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^MellumForCausalLM \(CPU only until its CUDA path is checked on a GPU\)/)
  })

  it('the tiny model matches transformers 5.18', async () => {
    await checkAgainstFixture('mellum')
  })
})

describe('AriaTextForCausalLM', () => {
  const json = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'aria-text'}), ...extra})

  it('reads AriaTextConfig: Llama\'s attention over softmax top-k experts stored fused and a shared MLP in every layer', () => {
    const config = parseModelConfig(json())
    assert.deepEqual([config.attentionBias, config.attentionOutputBias, config.moe?.numExperts, config.moe?.numExpertsPerToken, config.moe?.expertIntermediateSize, config.moe?.sharedExpertIntermediateSize, config.moe?.ungatedSharedExpert, config.moe?.normTopkProb, config.moe?.fusedExperts, config.moe?.sparseLayers],
      [true, true, 4, 2, 48, 48, true, true, true, [true, true]])
    // AriaTextConfig's defaults: 8 experts top-2, two shared experts' width.
    const {moe_num_experts: _e, moe_topk: _k, moe_num_shared_experts: _s, ...byDefault} = json()
    const defaults = parseModelConfig(byDefault)
    assert.deepEqual([defaults.moe?.numExperts, defaults.moe?.numExpertsPerToken, defaults.moe?.sharedExpertIntermediateSize], [8, 2, 96])
    refusedByKey(json({hidden_act: 'gelu'}), 'hidden_act')
    refusedByKey(json({mlp_bias: true}), 'mlp_bias')
    refusedByKey(json({moe_num_shared_experts: -1}), 'moe_num_shared_experts')
    refusedByKey(json({moe_topk: 5}), 'moe_topk')
    refusedByKey(json({moe_num_experts: 0}), 'moe_num_experts')
    assert.match(cpuOnlyNeed({}, {config, tensors: []})?.reason ?? '', /^AriaTextForCausalLM \(experts stored fused per layer are loaded by the CPU backend only\)/)
  })

  it('the tiny model matches transformers 5.18', async () => {
    await checkAgainstFixture('aria-text')
  })

  it('reads the experts under their original names (fc1, fc2) too, and refuses them stored [out, in]', async () => {
    const dir = await ensureTestModel('tiny', {variant: 'aria-text'})
    const renamed = (name: string) => name.replace('.mlp.experts.gate_up_proj', '.mlp.experts.fc1.weight').replace('.mlp.experts.down_proj', '.mlp.experts.fc2.weight')
    const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-aria-'))
    try {
      cpSync(dir, scratch, {recursive: true})
      const tensors = readCheckpointTensors(dir)
      writeSafetensors(join(scratch, 'model.safetensors'), tensors.map((t) => ({name: renamed(t.name), dtype: 'F32', shape: t.shape, data: () => encodeFloats(readTensorFloat32(t), 'F32')})))
      const [a, b] = [await loadModel(dir), await loadModel(scratch)]
      assert.deepEqual(b.tensors.map((t) => [t.name, t.shape, t.nbytes, t.transposed]), a.tensors.map((t) => [t.name, t.shape, t.nbytes, t.transposed]))
      const outIn = readCheckpointTensors(dir).map((t) => ({name: t.name, shape: t.name.endsWith('experts.gate_up_proj') ? [t.shape[0]!, t.shape[2]!, t.shape[1]!] : t.shape, values: readTensorFloat32(t)}))
      writeSafetensors(join(scratch, 'model.safetensors'), outIn.map((t) => ({name: t.name, dtype: 'F32', shape: t.shape, data: () => encodeFloats(t.values, 'F32')})))
      await assert.rejects(loadModel(scratch), /Tensor model\.layers\.0\.mlp\.experts\.gate_up_proj has shape \[4, 96, 64\], but config\.json implies \[4, 64, 96\]/)
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  })
})

describe('AXK1ForCausalLM', () => {
  const json = (extra: Record<string, unknown> = {}) => ({...testModelConfigJson('tiny', {variant: 'axk1'}), ...extra})

  it('reads AXK1Config: DeepSeek-V3\'s layers, a norm on each sparse layer\'s output, its defaults', () => {
    const config = parseModelConfig(json())
    assert.deepEqual([config.mla?.qLoraRank, config.mla?.kvLoraRank, config.mla?.latentNormEps, config.moe?.postMlpNorm, config.moe?.sparseLayers, config.moe?.sharedExpertIntermediateSize], [24, 32, 1e-6, true, [false, true, true], 24])
    assert.deepEqual(config.moe?.grouped, {groups: 2, topkGroups: 1, sigmoid: true, groupTop2: true, routerBias: true, routedScalingFactor: 1.5})
    // AXK1Config's defaults: 192 experts top-8 in 8 groups (4 kept) scaled by 2.5, 32768 positions.
    const {n_routed_experts: _e, n_group: _g, topk_group: _t, routed_scaling_factor: _r, max_position_embeddings: _m, num_experts_per_tok: _k, ...byDefault} = json()
    const defaults = parseModelConfig(byDefault)
    assert.deepEqual([defaults.moe?.numExperts, defaults.moe?.numExpertsPerToken, defaults.moe?.grouped?.groups, defaults.moe?.grouped?.topkGroups, defaults.moe?.grouped?.routedScalingFactor, defaults.maxPositionEmbeddings], [192, 8, 8, 4, 2.5, 32768])
    refusedByKey(json({q_lora_rank: null}), 'q_lora_rank')
    refusedByKey(json({first_k_dense_replace: -1}), 'first_k_dense_replace')
    refusedByKey(json({n_shared_experts: 'one'}), 'n_shared_experts')
    refusedByKey(json({rope_parameters: 1e30}), 'rope_parameters')
  })

  it('the tiny model matches transformers 5.18', async () => {
    await checkAgainstFixture('axk1')
  })

  it('names a missing sparse-output norm as the checkpoint does', async () => {
    await withEditedCopy('axk1', {}, (name) => name !== 'model.layers.2.post_mlp_layernorm.weight', async (dir) => {
      await assert.rejects(loadModel(dir), /Tensor model\.layers\.2\.post_mlp_layernorm\.weight is missing/)
    })
  })
})

describe('transformers 5.18 families the engine lacks the pieces of', () => {
  it('are refused naming what they need', () => {
    const sizes = {vocab_size: 512, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4}
    const refusals: [string, RegExp][] = [
      ['LagunaForCausalLM', /Laguna needs a query head count per layer \(num_attention_heads_per_layer\), a softplus gate per attention head \(g_proj\) and a rotary fraction per layer type/],
      ['ZayaForCausalLM', /ZAYA needs compressed convolutional attention/],
      ['HYV4ForCausalLM', /Hy4 \(HYV4\) needs DeepSeek-V4's hyper-connections/],
      ['AXK2ForCausalLM', /A\.X K2 \(AXK2\) needs DeepSeek-V3\.2's lightning indexer/],
      ['InklingForCausalLM', /Inkling needs hidden-state-conditioned relative-position logits/],
      ['HrmTextForCausalLM', /HRM-Text needs its hierarchical recurrent stacks/],
      ['MiMoV2FlashForCausalLM', /MiMo-V2-Flash needs a KV head count per layer/],
      ['LongcatFlashForCausalLM', /LongCat-Flash needs shortcut-connected MoE/],
      ['CohereCompassForCausalLM', /Cohere Compass needs its pre-rotated rope/],
    ]
    for (const [architecture, why] of refusals) {
      assert.throws(() => parseModelConfig({architectures: [architecture], ...sizes}), (error: Error) => error instanceof ModelLoadError && error.message.startsWith(`Unsupported architecture ${architecture} in config.json`) && why.test(error.message), architecture)
    }
  })
})
