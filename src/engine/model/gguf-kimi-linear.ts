// GGUF kimi-linear files (Kimi Linear: Kimi Delta Attention layers among NoPE latent-attention layers over DeepSeek-V3's
// experts), as llama.cpp's converter writes them (conversion/kimi_linear.py), read as the config.json they stand for
// (kimi-linear-config.ts); gguf-hybrid.ts takes them in with the other hybrids. The layout: attention.head_count_kv
// lists one count per layer, 0 for a KDA layer; a KDA layer has as many heads as attention.head_count (llama.cpp sizes
// its q/k/v, beta and A by n_head: there is no key of their own), each kda.head_dim wide, with ssm.conv_kernel taps.
// The KDA tensors: q/k/v_proj as attn_q/k/v, their three short convolutions apart as ssm_conv1d_q/k/v (reshaped to
// [1, channels, 1, kernel], or 3D), f_a / f_b as ssm_f_a / ssm_f_b, b_proj as ssm_beta, g_a / g_b as ssm_g_a / ssm_g_b,
// o_norm as ssm_norm, A stored as -exp(A_log) (taken as it is: decayRateStored) and dt_bias as ssm_dt.bias. The latent
// attention: key_length_mla / value_length_mla, kv_b split into attn_k_b / attn_v_b as newer deepseek2 files
// (gguf-deepseek.ts; a legacy attn_kv_b is read too), rope.dimension_count the k_pe part (never rotated).
// The experts: block_sparse_moe's w1 / w3 / w2 fused into ffn_gate/up/down_exps, the router bias as exp_probs_b.
// llama.cpp renormalises the chosen weights for kimi-linear whatever the file says (no key is written) and routes
// as expert_gating_func says (the converter writes 2, sigmoid, from moe_router_activation_func). The converter reads
// the group count from a config key "n_group", which Kimi's config.json calls num_expert_group, so files carry
// expert_group_used_count (topk_group) alone (our reading of set_gguf_parameters): such a file routes over one group. The f32
// expert_weights_scale is read as the decimal it was written from (2.446, not 2.4460001).
import {ModelLoadError, quotedValue} from '../errors.js'
import {writtenDecimal} from './gguf-deepseek.js'
import type {TensorInfo} from './safetensors.js'

export const GGUF_KIMI_LINEAR_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  'kimi-linear': {architecture: 'KimiLinearForCausalLM', modelType: 'kimi_linear', interleavedRope: false},
}

/** A KDA layer's tensors by GGUF suffix, under the checkpoint's self_attn.* (kimi-linear-tensors.ts renames them). */
export const GGUF_KIMI_LINEAR_LAYER_NAMES: Record<string, Record<string, string>> = {
  'kimi-linear': {
    'ssm_conv1d_q.weight': 'self_attn.q_conv1d.weight', 'ssm_conv1d_k.weight': 'self_attn.k_conv1d.weight', 'ssm_conv1d_v.weight': 'self_attn.v_conv1d.weight',
    'ssm_f_a.weight': 'self_attn.f_a_proj.weight', 'ssm_f_b.weight': 'self_attn.f_b_proj.weight', 'ssm_beta.weight': 'self_attn.b_proj.weight',
    'ssm_g_a.weight': 'self_attn.g_a_proj.weight', 'ssm_g_b.weight': 'self_attn.g_b_proj.weight', 'ssm_norm.weight': 'self_attn.o_norm.weight',
    ssm_a: 'self_attn.A_log', 'ssm_dt.bias': 'self_attn.dt_bias',
  },
}

/** The config.json keys (as Kimi's released config.json names them) a kimi-linear file's metadata stands for. */
export function kimiLinearGgufKeys(get: (key: string) => unknown, count: (key: string) => number, tensorNames: Set<string>, path: string): Record<string, unknown> {
  const layers = count('block_count')
  const kv = get('attention.head_count_kv')
  if (!Array.isArray(kv) || kv.length !== layers || kv.some((n) => typeof n !== 'number' || !Number.isInteger(n) || n < 0)) {
    throw new ModelLoadError(`${path}: kimi-linear.attention.head_count_kv must list one KV head count (0 for a Kimi Delta Attention layer) for each of the ${layers} layers, got ${quotedValue(kv)}.`)
  }
  const kdaLayers = (kv as number[]).flatMap((n, i) => (n === 0 ? [i + 1] : []))
  const fullLayers = (kv as number[]).flatMap((n, i) => (n > 0 ? [i + 1] : []))
  // llama.cpp also reads a one-matrix output gate (attn_gate) in either kind of layer, which Kimi Linear's converter never writes; unnamed here, it would be skipped.
  const gate = [...tensorNames].find((name) => name.endsWith('.attn_gate.weight'))
  if (gate) throw new ModelLoadError(`${path}: tensor ${gate} (a one-matrix output gate) is not supported: Kimi Linear's KDA gate is ssm_g_a / ssm_g_b, its latent attention has none.`)
  const gating = get('expert_gating_func')
  if (gating !== 2) throw new ModelLoadError(`${path}: kimi-linear.expert_gating_func ${quotedValue(gating)} is not supported: Kimi Linear routes by sigmoid scores (2).`)
  const heads = count('attention.head_count')
  const rope = count('rope.dimension_count')
  const keyLength = count('attention.key_length_mla')
  if (keyLength <= rope) throw new ModelLoadError(`${path}: kimi-linear.attention.key_length_mla ${keyLength} must exceed rope.dimension_count ${rope} (the k_pe part).`)
  const groups = get('expert_group_count') ?? 1
  const scale = get('expert_weights_scale')
  return {
    head_dim: null, num_key_value_heads: heads, mla_use_nope: true,
    kv_lora_rank: count('attention.kv_lora_rank'), q_lora_rank: get('attention.q_lora_rank') ?? null,
    qk_rope_head_dim: rope, qk_nope_head_dim: keyLength - rope, v_head_dim: count('attention.value_length_mla'),
    num_experts: count('expert_count'), num_experts_per_token: count('expert_used_count'), moe_intermediate_size: count('expert_feed_forward_length'),
    num_shared_experts: get('expert_shared_count') ?? 0, first_k_dense_replace: get('leading_dense_block_count') ?? 0,
    routed_scaling_factor: typeof scale === 'number' ? writtenDecimal(scale) : scale ?? 1, moe_renormalize: true, moe_router_activation_func: 'sigmoid',
    num_expert_group: groups, topk_group: get('expert_group_used_count') ?? groups,
    linear_attn_config: {kda_layers: kdaLayers, full_attn_layers: fullLayers, num_heads: heads, head_dim: count('kda.head_dim'), short_conv_kernel_size: count('ssm.conv_kernel')},
  }
}

/** A KDA conv or A tensor in the checkpoint's shape (the converter's reshapes undone; the bytes are the same); others as they are. */
export function ggufKimiLinearTensor(tensor: TensorInfo): TensorInfo {
  const part = /\.self_attn\.(q_conv1d\.weight|k_conv1d\.weight|v_conv1d\.weight|A_log)$/.exec(tensor.name)
  if (!part) return tensor
  const dims = tensor.shape
  if (part[1] === 'A_log') {
    // ggml [1, heads, 1, 1] as written, or [1, heads] (llama.cpp reads both: a quantizer may drop the trailing ones).
    const heads = dims.length === 4 && dims[0] === 1 && dims[1] === 1 && dims[3] === 1 ? dims[2] : dims.length === 2 && dims[1] === 1 ? dims[0] : undefined
    return heads === undefined ? tensor : {...tensor, shape: [1, 1, heads, 1], decayRateStored: true}
  }
  // ggml [kernel, 1, channels, 1] as written, or [kernel, 1, channels]: the checkpoint's [channels, 1, kernel].
  if (dims.length === 4 && dims[0] === 1 && dims[2] === 1) return {...tensor, shape: [dims[1]!, 1, dims[3]!]}
  return tensor
}
