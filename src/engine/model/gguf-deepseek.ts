// GGUF deepseek2 files (DeepSeek V2 / V3, Kimi K2, Moonlight: latent attention and grouped routing) and glm4moe files
// (GLM-4.5 / 4.6), as llama.cpp's converter writes them, read as the DeepseekV2/V3 or Glm4Moe config.json they stand for
// (deepseek-config.ts, glm4-moe-config.ts). Sigmoid gating (expert_gating_func 2) is V3's routing, softmax V2's; a file
// without expert_group_count routes over one group, as llama.cpp does. Newer deepseek2 files write MLA's heads as
// key_length_mla / value_length_mla (key_length then being kv_lora_rank + rope) and split kv_b into attn_k_b (per
// head [kv_lora_rank, nope], transposed) and attn_v_b: both are read. llama.cpp keeps q/k rows as in HF (its rope
// rotates adjacent pairs for deepseek2, as rope_interleave does), and runs YaRN with mscale equal to mscale_all_dim,
// which it writes as rope.scaling.yarn_log_multiplier = 0.1 * mscale_all_dim. GLM's block_count includes its
// nextn (MTP) layers, which are skipped. Youtu-LLM's files are deepseek2 ones with no expert_count and every layer
// dense (leading_dense_block_count = block_count), read as YoutuForCausalLM; every deepseek2 file's latent norms run at
// its layer_norm_rms_epsilon, as llama.cpp's graph runs them. mistral4 files (Mistral Small 4: Mistral3Model's
// Mistral4Model, a DeepseekV2Model) are deepseek2's keys and tensors under their own name, run by llama.cpp's deepseek2
// loader and graph: softmax routing (no expert_gating_func), the experts' gate and up as the checkpoint fuses them
// (ffn_gate_up_exps, gate rows first), and Llama 4's query scale only where attention.temperature_scale says (the
// converter writes none, so llama.cpp runs unscaled queries).
import {ModelLoadError, quotedValue} from '../errors.js'
import type {MlaConfig} from './deepseek-config.js'
import {checkGating} from './gguf-moe-families.js'
import type {TensorInfo} from './safetensors.js'

export const GGUF_DEEPSEEK_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  deepseek2: {architecture: 'DeepseekV2ForCausalLM', modelType: 'deepseek_v2', interleavedRope: false},
  glm4moe: {architecture: 'Glm4MoeForCausalLM', modelType: 'glm4_moe', interleavedRope: false},
  mistral4: {architecture: 'Mistral4ForCausalLM', modelType: 'mistral4', interleavedRope: false},
}

/** Architectures llama.cpp runs with its deepseek2 graph (latent norms at the file's rms eps, YaRN as deepseek2 writes it). */
const DEEPSEEK2_GRAPH = new Set(['deepseek2', 'mistral4'])

/** Whether the file's rope.scaling.type is the YaRN its deepseek2-graph architecture is read with (deepseekYarn checks it). */
export function acceptsDeepseekYarn(arch: string): boolean {
  return DEEPSEEK2_GRAPH.has(arch)
}

/** Latent attention's tensors and V3's router bias, by GGUF suffix (attn_k_b / attn_v_b: ggufDeepseekTensors). */
export const GGUF_DEEPSEEK_LAYER_NAMES: Record<string, string> = {
  'attn_q_a.weight': 'self_attn.q_a_proj.weight', 'attn_q_a_norm.weight': 'self_attn.q_a_layernorm.weight', 'attn_q_b.weight': 'self_attn.q_b_proj.weight',
  'attn_kv_a_mqa.weight': 'self_attn.kv_a_proj_with_mqa.weight', 'attn_kv_a_norm.weight': 'self_attn.kv_a_layernorm.weight',
  'attn_kv_b.weight': 'self_attn.kv_b_proj.weight', 'attn_k_b.weight': 'self_attn.k_b_proj.weight', 'attn_v_b.weight': 'self_attn.v_b_proj.weight',
  'exp_probs_b.bias': 'mlp.gate.e_score_correction_bias',
}

/** The config.json keys a deepseek2, glm4moe or mistral4 file's metadata stands for; {} for other architectures. */
export function deepseekGgufKeys(arch: string, get: (key: string) => unknown, tensorNames: Set<string>, path: string): Record<string, unknown> {
  if (!GGUF_DEEPSEEK_ARCHITECTURES[arch]) return {}
  const required = (key: string): unknown => {
    if (get(key) === undefined) throw new ModelLoadError(`${path}: GGUF metadata ${arch}.${key} is missing`)
    return get(key)
  }
  // Youtu-LLM: the converter writes its dense latent-attention model as deepseek2 with no expert_count and every layer dense.
  if (arch === 'deepseek2' && get('expert_count') === undefined && get('leading_dense_block_count') !== undefined && get('leading_dense_block_count') === get('block_count')) {
    return {architectures: ['YoutuForCausalLM'], model_type: 'youtu', ...latentAttentionKeys(arch, get, required, path)}
  }
  if (arch === 'mistral4') return mistral4Keys(get, required, path)
  const gating = get('expert_gating_func') ?? 1
  if (gating !== 1 && gating !== 2) throw new ModelLoadError(`${path}: ${arch}.expert_gating_func ${quotedValue(gating)} is not supported (1 softmax, 2 sigmoid).`)
  const groups = get('expert_group_count') ?? 1
  const routing = {
    n_routed_experts: required('expert_count'), num_experts_per_tok: required('expert_used_count'), moe_intermediate_size: required('expert_feed_forward_length'),
    n_shared_experts: get('expert_shared_count') ?? 0, first_k_dense_replace: get('leading_dense_block_count') ?? 0, moe_layer_freq: 1,
    routed_scaling_factor: get('expert_weights_scale') ?? 1, norm_topk_prob: get('expert_weights_norm') ?? false,
    n_group: groups, topk_group: get('expert_group_used_count') ?? groups,
  }
  if (arch === 'glm4moe') {
    if (gating !== 2) throw new ModelLoadError(`${path}: glm4moe.expert_gating_func ${quotedValue(gating)}: GLM-4.5 routes with sigmoid scores (2).`)
    const headDim = Number(get('attention.key_length') ?? Number(get('embedding_length')) / Number(get('attention.head_count')))
    const nextn = Number(get('nextn_predict_layers') ?? 0)
    return {
      ...routing, architectures: ['Glm4MoeForCausalLM'], model_type: 'glm4_moe', head_dim: headDim,
      num_hidden_layers: Number(required('block_count')) - nextn,
      partial_rotary_factor: Number(get('rope.dimension_count') ?? headDim) / headDim,
      attention_bias: tensorNames.has('blk.0.attn_q.bias'), use_qk_norm: tensorNames.has('blk.0.attn_q_norm.weight'),
    }
  }
  const v3 = gating === 2
  return {
    ...routing, architectures: [v3 ? 'DeepseekV3ForCausalLM' : 'DeepseekV2ForCausalLM'], model_type: v3 ? 'deepseek_v3' : 'deepseek_v2',
    ...(v3 ? {} : {topk_method: Number(groups) > 1 ? 'group_limited_greedy' : 'greedy'}),
    ...latentAttentionKeys(arch, get, required, path),
  }
}

/**
 * Mistral4Config's keys: DeepSeek-V3's grouped routing (groups ranked by their best two) over softmax scores, no router
 * bias; rope_parameters rather than rope_scaling (mistral4-config.ts), llama_4_scaling_beta from attention.temperature_scale.
 */
function mistral4Keys(get: (key: string) => unknown, required: (key: string) => unknown, path: string): Record<string, unknown> {
  checkGating({arch: 'mistral4', path, get}, 1)
  const groups = get('expert_group_count') ?? 1
  const {rope_scaling: yarn, ...attention} = latentAttentionKeys('mistral4', get, required, path)
  const {type: _, ...yarnKeys} = (yarn ?? {}) as Record<string, unknown>
  const ropeTheta = get('rope.freq_base') ?? 10000
  return {
    architectures: ['Mistral4ForCausalLM'], model_type: 'mistral4', ...attention,
    n_routed_experts: required('expert_count'), num_experts_per_tok: required('expert_used_count'), moe_intermediate_size: required('expert_feed_forward_length'),
    n_shared_experts: get('expert_shared_count') ?? 0, first_k_dense_replace: get('leading_dense_block_count') ?? 0,
    routed_scaling_factor: get('expert_weights_scale') ?? 1, norm_topk_prob: get('expert_weights_norm') ?? false,
    n_group: groups, topk_group: get('expert_group_used_count') ?? groups,
    rope_parameters: yarn === null
      ? {rope_type: 'default', rope_theta: ropeTheta}
      : {...yarnKeys, rope_type: 'yarn', rope_theta: ropeTheta, llama_4_scaling_beta: get('attention.temperature_scale') ?? 0},
  }
}

/** A deepseek2 file's latent attention (llama.cpp rotates adjacent pairs: rope_interleave) and YaRN as DeepSeek's config keys. */
function latentAttentionKeys(arch: string, get: (key: string) => unknown, required: (key: string) => unknown, path: string): Record<string, unknown> {
  const rope = Number(required('rope.dimension_count'))
  const rank = required('attention.kv_lora_rank')
  // With the _mla sizes, key_length / value_length are the MQA cache's rows llama.cpp sizes the latents by.
  if (get('attention.key_length_mla') !== undefined) {
    for (const [key, expected] of [['attention.key_length', Number(rank) + rope], ['attention.value_length', Number(rank)]] as const) {
      const value = get(key)
      if (value !== undefined && value !== expected) throw new ModelLoadError(`${path}: ${key} ${quotedValue(value)} is not ${expected} (kv_lora_rank${key.endsWith('key_length') ? ' + rope.dimension_count' : ''}), the latent cache's width beside key_length_mla.`)
    }
  }
  return {
    head_dim: null, num_key_value_heads: null, rope_interleave: true,
    kv_lora_rank: rank, q_lora_rank: get('attention.q_lora_rank') ?? null,
    qk_rope_head_dim: rope, qk_nope_head_dim: Number(get('attention.key_length_mla') ?? required('attention.key_length')) - rope,
    v_head_dim: get('attention.value_length_mla') ?? required('attention.value_length'),
    rope_scaling: deepseekYarn(arch, get, path),
  }
}

/** The shortest decimal an f32 metadata value was written from (0.1 * 0.707 stored as f32 reads back as 0.0707). */
export function writtenDecimal(value: number): number {
  for (let digits = 1; digits < 10; digits++) {
    const decimal = Number(value.toPrecision(digits))
    if (Math.fround(decimal) === value) return decimal
  }
  return value
}

/** rope.scaling.type yarn as DeepSeek's rope_scaling: mscale and mscale_all_dim both yarn_log_multiplier / 0.1; null for none. */
function deepseekYarn(arch: string, get: (key: string) => unknown, path: string): Record<string, unknown> | null {
  const type = get('rope.scaling.type')
  if (type === undefined || type === 'none') return null
  if (type !== 'yarn') throw new ModelLoadError(`${path}: ${arch} rope scaling ${quotedValue(type)} is not supported (none or yarn).`)
  const multiplier = get('rope.scaling.yarn_log_multiplier')
  if (multiplier !== undefined && (typeof multiplier !== 'number' || !Number.isFinite(multiplier))) throw new ModelLoadError(`${path}: ${arch}.rope.scaling.yarn_log_multiplier must be a number (0.1 x mscale_all_dim), got ${quotedValue(multiplier)}.`)
  const mscale = typeof multiplier === 'number' ? Number((writtenDecimal(multiplier) * 10).toPrecision(12)) : undefined
  return {
    type: 'yarn', factor: get('rope.scaling.factor'), original_max_position_embeddings: get('rope.scaling.original_context_length'),
    beta_fast: get('rope.scaling.yarn_beta_fast') ?? 32, beta_slow: get('rope.scaling.yarn_beta_slow') ?? 1,
    ...(mscale === undefined ? {} : {mscale, mscale_all_dim: mscale}),
  }
}

/** A file with attn_k_b / attn_v_b in place of attn_kv_b says so in its MLA config (deepseekTensorShapes lists them per head). */
export function withKvBApart<C extends {mla?: MlaConfig}>(config: C, tensorNames: Set<string>): C {
  if (!config.mla || tensorNames.has('blk.0.attn_kv_b.weight') || ![...tensorNames].some((name) => name.endsWith('.attn_k_b.weight'))) return config
  return {...config, mla: {...config.mla, kvBApart: true}}
}

/**
 * llama.cpp's deepseek2 graph (mistral4's too) normalizes q's and kv's latents at the file's layer_norm_rms_epsilon (build_norm), where
 * the checkpoints' RMSNorm classes keep 1e-6: run as the file's runner does (equal for DeepSeek's and Youtu's 1e-6).
 */
export function withFileLatentNormEps<C extends {mla?: MlaConfig; rmsNormEps: number}>(config: C, arch: string): C {
  return DEEPSEEK2_GRAPH.has(arch) && config.mla ? {...config, mla: {...config.mla, latentNormEps: writtenDecimal(config.rmsNormEps)}} : config
}

/**
 * attn_k_b [heads, kv_lora_rank, nope] and attn_v_b [heads, v, kv_lora_rank] as one tensor per head (k's transposed
 * at load to [nope, kv_lora_rank], dequantized first when in blocks: model_weights.cpp), which the loader stacks as
 * kv_b's rows (mla.cpp). Others as they are.
 */
export function ggufDeepseekTensors(tensor: TensorInfo): TensorInfo[] {
  const split = /^(model\.layers\.\d+\.self_attn)\.(k|v)_b_proj\.weight$/.exec(tensor.name)
  if (!split) return [tensor]
  if (tensor.shape.length !== 3) throw new ModelLoadError(`${tensor.path}: tensor ${tensor.name.replace(/^model\.layers\.(\d+)\.self_attn\.(k|v)_b_proj/, 'blk.$1.attn_$2_b')} has shape [${tensor.shape.join(', ')}]; llama.cpp writes it per head, 3D.`)
  const [heads, rows, cols] = tensor.shape as [number, number, number]
  const isK = split[2] === 'k'
  const slab = tensor.nbytes / heads
  return Array.from({length: heads}, (_, h): TensorInfo => ({
    ...tensor, name: `${split[1]}.${split[2]}_b_proj.${h}.weight`, shape: isK ? [cols, rows] : [rows, cols], offset: tensor.offset + h * slab, nbytes: slab,
    ...(isK ? {transposed: true} : {}),
  }))
}
