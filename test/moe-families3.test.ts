// MoE families of the third batch (Qwen3-VL-MoE's text model, DBRX, Cohere2-MoE, AFMoE) and GLM-4.1V's / GLM-4.5V's text models: configs read as transformers 5.18's config classes read
// them, what cannot run refused by key, CPU only, and each tiny checkpoint held to transformers' logits and greedy tokens.
import assert from 'node:assert/strict'
import {copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {cpuOnlyNeed} from '../src/engine/engine-parts.js'
import {ModelLoadError} from '../src/engine/errors.js'
import {loadModel, selectModelTensors} from '../src/engine/model/load-model.js'
import {readCheckpointTensors, writeSafetensors, type TensorInfo} from '../src/engine/model/safetensors.js'
import {parseModelConfig} from '../src/engine/model/model-config.js'
import {MOE3_TEST_VARIANTS} from '../src/engine/model/moe3-test-models.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {checkDirAgainstTransformers, readTransformersFixture} from './support/transformers-fixture.js'

const loadError = (pattern: RegExp) => (error: unknown) => error instanceof ModelLoadError && pattern.test(error.message)
const TEXT = {vocab_size: 100, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 4, num_attention_heads: 4}
const CPU = {quantization: undefined, batchInvariant: false}

describe('Qwen3-VL-MoE config', () => {
  const wrapper = {architectures: ['Qwen3VLMoeForConditionalGeneration'], model_type: 'qwen3_vl_moe'}

  it("reads text_config as Qwen3-MoE under Qwen3VLMoeTextConfig's defaults: top-k always renormalised, no window, fused experts, mrope as plain rope", () => {
    const c = parseModelConfig({...wrapper, text_config: {...TEXT, norm_topk_prob: false, use_sliding_window: true, sliding_window: 8,
      rope_scaling: {rope_type: 'default', mrope_section: [6, 5, 5], mrope_interleaved: true}}})
    assert.deepEqual([c.architecture, c.qkNorm, c.headDim, c.ropeTheta, c.rmsNormEps, c.maxPositionEmbeddings, c.layerWindows, c.tieWordEmbeddings], ['Qwen3MoeForCausalLM', true, 16, 5e5, 1e-6, 128000, undefined, false])
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.moe!.expertIntermediateSize, c.moe!.normTopkProb, c.moe!.fusedExperts, c.moe!.inputScaledExperts, c.moe!.sparseLayers],
      [60, 4, 1408, true, true, undefined, [true, true, true, true]])
    assert.ok(c.notes?.some((n) => /Qwen3VLMoeForConditionalGeneration: its language model runs text only/.test(n)))
    const sparse = parseModelConfig({...wrapper, text_config: {...TEXT, num_experts: 8, num_experts_per_tok: 2, mlp_only_layers: [0], decoder_sparse_step: 1}})
    assert.deepEqual([sparse.moe!.numExperts, sparse.moe!.numExpertsPerToken, sparse.moe!.sparseLayers], [8, 2, [false, true, true, true]])
    assert.match(cpuOnlyNeed(CPU, {config: c, tensors: []})?.reason ?? '', /experts stored fused per layer are loaded by the CPU backend only/)
    // Qwen3-MoE itself (experts apart) still runs on CUDA.
    assert.equal(cpuOnlyNeed(CPU, {config: parseModelConfig({...TEXT, architectures: ['Qwen3MoeForCausalLM']}), tensors: []}), null)
  })

  it("splits each layer's fused experts into per-expert windows (layer 0 dense), transposed unless stored [out, in] already; another shape is refused by name", async () => {
    const dir = await ensureTestModel('tiny', {variant: 'qwen3-vl-moe'})
    const model = await loadModel(dir)
    const expert3 = (tensors: typeof model.tensors) => tensors.filter((t) => /layers\.1\.mlp\.experts\.3\./.test(t.name)).map((t) => [t.name, t.shape, t.transposed])
    assert.deepEqual(expert3(model.tensors), [['model.layers.1.mlp.experts.3.gate_up_proj.weight', [96, 64], true], ['model.layers.1.mlp.experts.3.down_proj.weight', [64, 48], true]])
    assert.ok(!model.tensors.some((t) => t.name.startsWith('model.layers.0.mlp.experts')))
    const stored = (shape: number[]) => readCheckpointTensors(dir).map((t) => (t.name.endsWith('layers.1.mlp.experts.down_proj') ? {...t, shape} : t))
    assert.deepEqual(expert3(selectModelTensors(model.config, stored([4, 64, 48]), dir))[1], ['model.layers.1.mlp.experts.3.down_proj.weight', [64, 48], undefined])
    assert.throws(() => selectModelTensors(model.config, stored([4, 32, 64]), dir), loadError(/Tensor model\.layers\.1\.mlp\.experts\.down_proj has shape \[4, 32, 64\], but config\.json implies \[4, 48, 64\]/))
  })
})

/** The qwen3-vl-moe test checkpoint with each expert apart (gate_proj, up_proj, down_proj [out, in]), as Qwen's FP8 releases store them. */
function expertsApart(dir: string, out: string): void {
  for (const file of readdirSync(dir)) if (file !== 'model.safetensors') copyFileSync(join(dir, file), join(out, file))
  const floats = (t: TensorInfo) => new Float32Array(readFileSync(t.path).buffer.slice(t.offset, t.offset + t.nbytes))
  // Rows [from, from + rows) of the transpose of a stored [in, out] matrix.
  const transposed = (data: Float32Array, inDim: number, outDim: number, from: number, rows: number) => {
    const result = new Float32Array(rows * inDim)
    for (let r = 0; r < rows; r++) for (let i = 0; i < inDim; i++) result[r * inDim + i] = data[i * outDim + from + r]!
    return result
  }
  const tensors = readCheckpointTensors(dir).flatMap((t) => {
    const fused = /^(.+\.mlp\.experts\.)(gate_up|down)_proj$/.exec(t.name)
    if (!fused) return [{name: t.name, dtype: t.dtype, shape: t.shape, data: () => new Uint8Array(floats(t).buffer)}]
    const [experts, inDim, outDim] = t.shape as [number, number, number]
    return Array.from({length: experts}, (_, e) => {
      const expert = () => floats(t).subarray(e * inDim * outDim, (e + 1) * inDim * outDim)
      const part = (name: string, from: number, rows: number) => ({name: `${fused[1]}${e}.${name}.weight`, dtype: t.dtype, shape: [rows, inDim], data: () => new Uint8Array(transposed(expert(), inDim, outDim, from, rows).buffer)})
      return fused[2] === 'down' ? [part('down_proj', 0, outDim)] : [part('gate_proj', 0, outDim / 2), part('up_proj', outDim / 2, outDim / 2)]
    }).flat()
  })
  writeSafetensors(join(out, 'model.safetensors'), tensors, {format: 'pt'})
}

describe('DBRX config', () => {
  const dbrx = {architectures: ['DbrxForCausalLM'], vocab_size: 100, d_model: 64, n_heads: 4, n_layers: 2}

  it("as DbrxConfig reads it: d_model / n_heads / n_layers, attn_config's KV heads and clip_qkv, ffn_config's experts, LayerNorms without bias; CPU only", () => {
    const c = parseModelConfig({...dbrx, attn_config: {kv_n_heads: 2, clip_qkv: 8, rope_theta: 500000}, ffn_config: {ffn_hidden_size: 32, moe_num_experts: 16, moe_top_k: 4, moe_jitter_eps: 0.01}})
    assert.deepEqual([c.hiddenSize, c.numHeads, c.numKvHeads, c.headDim, c.numLayers, c.maxPositionEmbeddings, c.ropeTheta, c.rmsNormEps, c.hiddenAct, c.tieWordEmbeddings, c.attentionBias],
      [64, 4, 2, 16, 2, 2048, 500000, 1e-5, 'silu', false, false])
    assert.deepEqual([c.rmsVariant?.normMean, c.rmsVariant?.clipQkv, c.rmsVariant?.parallelBlock, c.rmsVariant?.normBias], [true, 8, false, undefined])
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.moe!.expertIntermediateSize, c.moe!.normTopkProb, c.moe!.sparseLayers, c.moe!.mixtralNames], [16, 4, 32, true, [true, true], false])
    // DbrxConfig's defaults: one KV head, 4 experts top-1 of 3584, no clamp; rope_theta (as transformers reads it) wins over attn_config's.
    const plain = parseModelConfig({...dbrx, rope_theta: 1000, attn_config: {rope_theta: 500000}})
    assert.deepEqual([plain.numKvHeads, plain.ropeTheta, plain.rmsVariant?.clipQkv, plain.moe!.numExperts, plain.moe!.numExpertsPerToken, plain.moe!.expertIntermediateSize], [1, 1000, 0, 4, 1, 3584])
    assert.equal(parseModelConfig({...dbrx, ffn_config: {moe_normalize_expert_weights: null}}).moe!.normTopkProb, false)
    assert.match(cpuOnlyNeed(CPU, {config: c, tensors: []})?.reason ?? '', /DbrxForCausalLM \(CPU only/)
  })

  it('refuses what it cannot run, by key: another expert-weight norm, tied embeddings, a sub-config that is not an object', () => {
    assert.throws(() => parseModelConfig({...dbrx, ffn_config: {moe_normalize_expert_weights: 2}}), loadError(/"ffn_config\.moe_normalize_expert_weights" 2 is not supported for DbrxForCausalLM/))
    assert.throws(() => parseModelConfig({...dbrx, tie_word_embeddings: true}), loadError(/"tie_word_embeddings" true is not supported for DbrxForCausalLM/))
    assert.throws(() => parseModelConfig({...dbrx, attn_config: 'x'}), loadError(/"attn_config" of DbrxForCausalLM must be an object, got "x"/))
  })

  it("reads its checkpoint names: Wqkv cut into q/k/v rows, w1 / v1 per-expert row windows, w2 transposed ones; a wrong or missing matrix is named by the checkpoint's name", async () => {
    const dir = await ensureTestModel('tiny', {variant: 'dbrx'})
    const model = await loadModel(dir)
    const layer1 = model.tensors.filter((t) => /layers\.1\.(self_attn\.[qkv]_proj|mlp\.experts\.3\.)/.test(t.name)).map((t) => [t.name, t.shape, t.transposed])
    assert.deepEqual(layer1, [['model.layers.1.self_attn.q_proj.weight', [64, 64], undefined], ['model.layers.1.self_attn.k_proj.weight', [32, 64], undefined],
      ['model.layers.1.self_attn.v_proj.weight', [32, 64], undefined], ['model.layers.1.mlp.experts.3.gate_proj.weight', [48, 64], undefined],
      ['model.layers.1.mlp.experts.3.up_proj.weight', [48, 64], undefined], ['model.layers.1.mlp.experts.3.down_proj.weight', [64, 48], true]])
    const wrong = readCheckpointTensors(dir).map((t) => (t.name === 'transformer.blocks.1.ffn.experts.mlp.w2' ? {...t, shape: [96, 64]} : t))
    assert.throws(() => selectModelTensors(model.config, wrong, dir), loadError(/Tensor transformer\.blocks\.1\.ffn\.experts\.mlp\.w2 has shape \[96, 64\], but config\.json implies \[192, 64\]/))
    const missing = readCheckpointTensors(dir).filter((t) => t.name !== 'transformer.blocks.1.norm_attn_norm.attn.Wqkv.weight')
    assert.throws(() => selectModelTensors(model.config, missing, dir), loadError(/Tensor transformer\.blocks\.1\.norm_attn_norm\.attn\.Wqkv\.weight is missing/))
  })
})

describe('Cohere2-MoE config', () => {
  const cohere = {...TEXT, architectures: ['Cohere2MoeForCausalLM']}

  it("as Cohere2MoeConfig reads it: heads of 128, every 4th layer full and unrotated, a dense prefix that rotates, LayerNorms unless rms_norm_eps, softmax top-k; CPU only", () => {
    const c = parseModelConfig({...cohere, first_k_dense_replace: 1, prefix_dense_intermediate_size: 200, num_shared_experts: 2, shared_expert_combination_strategy: 'sum'})
    assert.deepEqual([c.headDim, c.numKvHeads, c.rmsNormEps, c.tieWordEmbeddings, c.bosTokenId, c.maxPositionEmbeddings, c.intermediateSize], [128, 4, 1e-5, true, 5, 8192, 200])
    assert.deepEqual([c.layerWindows, c.rmsVariant?.ropeLayers, c.rmsVariant?.normMean, c.rmsVariant?.parallelBlock, c.rmsVariant?.logitsMultiplier], [[0, 4096, 4096, 4096], undefined, true, true, 0.0625])
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.moe!.expertIntermediateSize, c.moe!.sharedExpertIntermediateSize, c.moe!.ungatedSharedExpert, c.moe!.normTopkProb, c.moe!.sparseLayers, c.moe!.grouped],
      [8, 2, 96, 192, true, true, [false, true, true, true], undefined])
    const plain = parseModelConfig({...cohere, num_hidden_layers: 5, rms_norm_eps: 1e-6, expert_selection_fn: 'sigmoid', norm_topk_prob: false})
    assert.deepEqual([plain.rmsNormEps, plain.rmsVariant?.normMean, plain.layerWindows, plain.rmsVariant?.ropeLayers, plain.moe!.sparseLayers.every(Boolean), plain.moe!.normTopkProb, plain.moe!.sharedExpertIntermediateSize],
      [1e-6, false, [4096, 4096, 4096, 0, 4096], [true, true, true, false, true], true, false, 0])
    // The default strategy averages the routed and shared outputs.
    assert.deepEqual([c.moe!.sharedExpertAverage, parseModelConfig({...cohere, num_shared_experts: 1}).moe!.sharedExpertAverage, plain.moe!.sharedExpertAverage], [undefined, true, undefined])
    assert.deepEqual(plain.moe!.grouped, {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: false, routerBias: false, routedScalingFactor: 1})
    assert.match(cpuOnlyNeed(CPU, {config: c, tensors: []})?.reason ?? '', /Cohere2MoeForCausalLM \(CPU only/)
  })

  it('refuses what it cannot run, by key: another combination strategy or routing, a window of null', () => {
    assert.throws(() => parseModelConfig({...cohere, num_shared_experts: 1, shared_expert_combination_strategy: 'max'}), loadError(/"shared_expert_combination_strategy" must be "sum" or "average", got "max"/))
    assert.throws(() => parseModelConfig({...cohere, expert_selection_fn: 'softplus'}), loadError(/"expert_selection_fn" must be "softmax" or "sigmoid", got "softplus"/))
    assert.throws(() => parseModelConfig({...cohere, sliding_window: null}), loadError(/needs a "sliding_window"/))
    assert.throws(() => parseModelConfig({...cohere, mlp_layer_types: ['dense']}), loadError(/"mlp_layer_types" must list "dense" or "sparse" for each of the 4 layers/))
  })
})

describe('AFMoE config', () => {
  const afmoe = {...TEXT, architectures: ['AfmoeForCausalLM']}

  it("as AfmoeConfig reads it: heads of 128, q/k norms and an output gate, rope on the sliding layers only, sandwich norms, sigmoid routing with the bias scaled by route_scale; CPU only", () => {
    const c = parseModelConfig({...afmoe, num_hidden_layers: 8})
    assert.deepEqual([c.headDim, c.qkNorm, c.sandwichNorms, c.maxPositionEmbeddings, c.rmsNormEps, c.tieWordEmbeddings, c.embeddingScale], [128, true, true, 16384, 1e-5, false, 1])
    assert.deepEqual([c.layerWindows, c.rmsVariant?.ropeLayers, c.rmsVariant?.attentionOutputGate], [[1024, 1024, 1024, 0, 1024, 1024, 1024, 0], [true, true, true, false, true, true, true, false], true])
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.moe!.expertIntermediateSize, c.moe!.sharedExpertIntermediateSize, c.moe!.ungatedSharedExpert, c.moe!.normTopkProb, c.moe!.sparseLayers],
      [64, 6, 1408, 2 * 1408, true, true, [false, true, true, true, true, true, true, true]])
    assert.deepEqual(c.moe!.grouped, {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: false, routerBias: true, routedScalingFactor: 1})
    const mup = parseModelConfig({...afmoe, mup_enabled: true, route_scale: 2.5, num_dense_layers: 0, num_shared_experts: 0, global_attn_every_n_layers: 2})
    assert.deepEqual([mup.embeddingScale, mup.moe!.grouped?.routedScalingFactor, mup.moe!.sparseLayers, mup.moe!.sharedExpertIntermediateSize, mup.rmsVariant?.ropeLayers], [8, 2.5, [true, true, true, true], 0, [true, false, true, false]])
    assert.match(cpuOnlyNeed(CPU, {config: c, tensors: []})?.reason ?? '', /AfmoeForCausalLM \(an attention output gate\)/)
    assert.throws(() => parseModelConfig({...afmoe, route_scale: 0}), loadError(/"route_scale" must be a positive number, got 0/))
    assert.throws(() => parseModelConfig({...afmoe, mup_enabled: 'yes'}), loadError(/"mup_enabled" must be true or false/))
  })

  it("reads its checkpoint names: the router, expert_bias, shared_experts and the MLP's sandwich norms; q_proj and gate_proj cut per head", async () => {
    const model = await loadModel(await ensureTestModel('tiny', {variant: 'afmoe'}))
    const names = model.tensors.map((t) => t.name)
    for (const name of ['model.layers.1.mlp.gate.weight', 'model.layers.1.mlp.shared_expert.down_proj.weight', 'model.layers.1.pre_feedforward_layernorm.weight', 'model.layers.1.post_feedforward_layernorm.weight',
      'model.layers.1.self_attn.q_query.3.weight', 'model.layers.1.self_attn.q_gate.3.weight']) assert.ok(names.includes(name), name)
    assert.deepEqual(model.tensors.find((t) => t.name === 'model.layers.1.mlp.gate.e_score_correction_bias')?.shape, [1, 4])
  })
})

describe('GLM-4.1V / GLM-4.5V config', () => {
  it("reads text_config as GLM-4-0414 under Glm4vTextConfig's defaults: q/k/v biases always, heads hidden / heads wide, the whole head rotated unless partial_rotary_factor says less, mrope as plain rope", () => {
    const wrapper = {architectures: ['Glm4vForConditionalGeneration'], model_type: 'glm4v'}
    const c = parseModelConfig({...wrapper, text_config: {...TEXT, model_type: 'glm4v_text', head_dim: 128, attention_bias: false, rope_parameters: {rope_type: 'default', rope_theta: 10000, mrope_section: [2, 3, 3]}}})
    assert.deepEqual([c.architecture, c.headDim, c.rotaryDim, c.attentionBias, c.numKvHeads, c.rmsNormEps, c.maxPositionEmbeddings, c.sandwichNorms, c.fusedProjections, c.tieWordEmbeddings],
      ['Glm4ForCausalLM', 16, undefined, true, 2, 1e-5, 32768, true, true, false])
    assert.equal(parseModelConfig({...wrapper, text_config: {...TEXT, partial_rotary_factor: 0.5}}).rotaryDim, 8)
    const glm4 = parseModelConfig({...TEXT, architectures: ['Glm4ForCausalLM'], head_dim: 16, partial_rotary_factor: 1})
    assert.deepEqual(cpuOnlyNeed(CPU, {config: c, tensors: []}), cpuOnlyNeed(CPU, {config: glm4, tensors: []}))
  })

  it("reads GLM-4.5V's text_config as GLM-4.5 under Glm4vMoeTextConfig's defaults: q/k/v biases, half of each head rotated, no q/k norms whatever use_qk_norm says; CPU only", () => {
    const c = parseModelConfig({architectures: ['Glm4vMoeForConditionalGeneration'], text_config: {...TEXT, model_type: 'glm4v_moe_text', num_attention_heads: 16, use_qk_norm: true}})
    assert.deepEqual([c.architecture, c.attentionBias, c.attentionOutputBias, c.qkNorm, c.headDim, c.rotaryDim, c.numKvHeads, c.maxPositionEmbeddings], ['Glm4MoeForCausalLM', true, undefined, false, 4, 2, 8, 65536])
    assert.deepEqual([c.moe!.numExperts, c.moe!.numExpertsPerToken, c.moe!.sparseLayers, c.moe!.sharedExpertIntermediateSize, c.moe!.grouped?.routedScalingFactor], [128, 8, [false, true, true, true], 1408, 1])
    assert.match(cpuOnlyNeed(CPU, {config: c, tensors: []})?.reason ?? '', /grouped expert routing run on the CPU only/)
  })
})

describe('MoE families (third batch): checkpoints against transformers 5.18', () => {
  for (const variant of MOE3_TEST_VARIANTS) {
    it(`${variant}: top-10 logits and 8 greedy tokens as test/fixtures/${variant}-tiny-transformers.json`, async () => {
      await checkDirAgainstTransformers(await ensureTestModel('tiny', {variant}), readTransformersFixture(variant))
    })
  }

  it('qwen3-vl-moe with each expert apart (its FP8 releases\' layout) reads as Qwen3-MoE and computes the same', async () => {
    const out = mkdtempSync(join(tmpdir(), 'pagedllm-qwen3-vl-moe-apart-'))
    try {
      expertsApart(await ensureTestModel('tiny', {variant: 'qwen3-vl-moe'}), out)
      const model = await loadModel(out)
      assert.equal(model.config.moe!.fusedExperts, undefined)
      assert.equal(cpuOnlyNeed(CPU, model), null)
      await checkDirAgainstTransformers(out, readTransformersFixture('qwen3-vl-moe'))
    } finally {
      rmSync(out, {recursive: true, force: true})
    }
  })
})
