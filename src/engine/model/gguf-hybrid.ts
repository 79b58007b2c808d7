// GGUF files of the hybrid families, as llama.cpp's converter writes them (conversion/granite.py, mamba.py, qwen.py),
// read as the config.json they stand for (mamba2-config.ts, qwen35-config.ts). granitehybrid (Granite 4.0 hybrid) and
// mamba2: the converter stores each Mamba-2 mixer's A as -exp(A_log) (taken as it is: decayRateStored), the conv1d
// squeezed to [channels, kernel], A and D as [heads, 1], the gated norm as [groups, inner / groups] and dt_bias as
// ssm_dt.bias; all are reshaped back here. The norm runs over the whole inner width, as transformers' mixers and the
// checkpoint do (llama.cpp normalises each group alone, which differs when ssm.group_count > 1). A granitehybrid file's
// attention layers are those with head_count_kv > 0; it rotates only with rope.scaling.finetuned (the converter writes
// false for Granite 4.0), q/k rows permuted for llama.cpp's rope as llama's. time_step_limit is not in the file:
// llama.cpp does not clamp dt, nor do we. qwen3next, qwen35, qwen35moe (Gated DeltaNet): A as -exp(A_log) likewise, the
// conv1d squeezed, every RMSNorm but the linear layers' gated one stored with the 1 of (1 + weight) added, every
// full_attention_interval-th layer full; qwen3next's in_proj_qkvz split into attn_qkv [all q | all k | all v] and
// attn_gate (z), its in_proj_ba kept (ssm_ba); Qwen 3.5's value heads reordered from grouped to tiled over the key heads
// where there are more of them (valueHeadsTiled: each value head reads key head h % key heads, so no row moves back).
// lfm2, mamba (Falcon-Mamba's too) and jamba: gguf-lfm2-mamba.ts; nemotron_h, nemotron_h_moe and falcon-h1:
// gguf-ssm-hybrids.ts (their Mamba-2 tensors reshaped here too); kimi-linear: gguf-kimi-linear.ts.
import {ggufFlag} from './gguf-file.js'
import {ModelLoadError, quotedValue} from '../errors.js'
import {GGUF_KIMI_LINEAR_ARCHITECTURES, GGUF_KIMI_LINEAR_LAYER_NAMES, ggufKimiLinearTensor, kimiLinearGgufKeys} from './gguf-kimi-linear.js'
import {GGUF_LFM2_MAMBA_ARCHITECTURES, GGUF_LFM2_MAMBA_LAYER_NAMES, ggufLfm2MambaTensor, lfm2MambaGgufKeys} from './gguf-lfm2-mamba.js'
import {GGUF_SSM_HYBRID_ARCHITECTURES, GGUF_SSM_HYBRID_LAYER_NAMES, ssmHybridGgufKeys} from './gguf-ssm-hybrids.js'
import type {HybridFeatures} from './qwen35-config.js'
import type {TensorInfo} from './safetensors.js'

export const GGUF_HYBRID_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  granitehybrid: {architecture: 'GraniteMoeHybridForCausalLM', modelType: 'granitemoehybrid', interleavedRope: true},
  mamba2: {architecture: 'Mamba2ForCausalLM', modelType: 'mamba2', interleavedRope: false},
  qwen3next: {architecture: 'Qwen3NextForCausalLM', modelType: 'qwen3_next', interleavedRope: false},
  qwen35: {architecture: 'Qwen3_5ForCausalLM', modelType: 'qwen3_5_text', interleavedRope: false},
  qwen35moe: {architecture: 'Qwen3_5MoeForCausalLM', modelType: 'qwen3_5_moe_text', interleavedRope: false},
  ...GGUF_LFM2_MAMBA_ARCHITECTURES,
  ...GGUF_SSM_HYBRID_ARCHITECTURES,
  ...GGUF_KIMI_LINEAR_ARCHITECTURES,
}
const GATED_DELTA = new Set(['qwen3next', 'qwen35', 'qwen35moe'])
/** Rope over part of each head (rope.dimension_count below the head size): the Qwen hybrids' partial_rotary_factor. */
export const GGUF_HYBRID_PARTIAL_ROTARY = GATED_DELTA
/** Files whose RMSNorm weights hold the 1 of (1 + weight) already. */
export const GGUF_HYBRID_NORMS_WITH_ONE_ADDED = GATED_DELTA

/** A Mamba-2 mixer's tensors by GGUF suffix (its norms, attention and MLP as llama's and gguf-moe.ts's). */
const MAMBA2_NAMES: Record<string, string> = {
  'ssm_in.weight': 'mamba.in_proj.weight', 'ssm_in.bias': 'mamba.in_proj.bias', 'ssm_conv1d.weight': 'mamba.conv1d.weight', 'ssm_conv1d.bias': 'mamba.conv1d.bias',
  'ssm_dt.bias': 'mamba.dt_bias', ssm_a: 'mamba.A_log', ssm_d: 'mamba.D', 'ssm_norm.weight': 'mamba.norm.weight',
  'ssm_out.weight': 'mamba.out_proj.weight', 'ssm_out.bias': 'mamba.out_proj.bias',
}
/** A Gated DeltaNet layer's tensors by GGUF suffix (the gated attention's q_proj is attn_q, as in the checkpoint). */
const GATED_DELTA_NAMES: Record<string, string> = {
  'attn_qkv.weight': 'linear_attn.in_proj_qkv.weight', 'attn_gate.weight': 'linear_attn.in_proj_z.weight', 'ssm_beta.weight': 'linear_attn.in_proj_b.weight',
  'ssm_alpha.weight': 'linear_attn.in_proj_a.weight', 'ssm_ba.weight': 'linear_attn.in_proj_ba.weight', 'ssm_conv1d.weight': 'linear_attn.conv1d.weight',
  'ssm_dt.bias': 'linear_attn.dt_bias', ssm_a: 'linear_attn.A_log', 'ssm_norm.weight': 'linear_attn.norm.weight', 'ssm_out.weight': 'linear_attn.out_proj.weight',
}
export const GGUF_HYBRID_LAYER_NAMES: Record<string, Record<string, string>> = {
  granitehybrid: MAMBA2_NAMES, mamba2: MAMBA2_NAMES, qwen3next: GATED_DELTA_NAMES, qwen35: GATED_DELTA_NAMES, qwen35moe: GATED_DELTA_NAMES,
  ...GGUF_LFM2_MAMBA_LAYER_NAMES,
  ...GGUF_SSM_HYBRID_LAYER_NAMES,
  ...GGUF_KIMI_LINEAR_LAYER_NAMES,
}

/** The config.json keys a hybrid family's file's metadata stands for; {} for other architectures. */
export function hybridGgufKeys(arch: string, get: (key: string) => unknown, tensorNames: Set<string>, path: string): Record<string, unknown> {
  if (!GGUF_HYBRID_ARCHITECTURES[arch]) return {}
  const count = (key: string): number => {
    const value = get(key)
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new ModelLoadError(`${path}: GGUF metadata ${arch}.${key} must be a positive integer, got ${quotedValue(value)}.`)
    return value
  }
  if (GATED_DELTA.has(arch)) return gatedDeltaKeys(arch, get, count, tensorNames, path)
  if (GGUF_LFM2_MAMBA_ARCHITECTURES[arch]) return lfm2MambaGgufKeys(arch, get, count, tensorNames, path)
  if (GGUF_SSM_HYBRID_ARCHITECTURES[arch]) return ssmHybridGgufKeys(arch, get, count, tensorNames, path)
  if (GGUF_KIMI_LINEAR_ARCHITECTURES[arch]) return kimiLinearGgufKeys(get, count, tensorNames, path)
  const hidden = count('embedding_length')
  const inner = count('ssm.inner_size')
  const heads = count('ssm.time_step_rank')
  if (inner % hidden !== 0 || inner % heads !== 0) {
    throw new ModelLoadError(`${path}: ${arch}.ssm.inner_size ${inner} must be a multiple of embedding_length ${hidden} and of ssm.time_step_rank (the heads) ${heads}.`)
  }
  const mixer = {heads, headDim: inner / heads, groups: count('ssm.group_count'), state: count('ssm.state_size'), conv: count('ssm.conv_kernel'), expand: inner / hidden}
  const convBias = [...tensorNames].some((name) => name.endsWith('.ssm_conv1d.bias'))
  const projBias = [...tensorNames].some((name) => /\.ssm_(in|out)\.bias$/.test(name))
  if (arch === 'mamba2') {
    return {
      num_heads: mixer.heads, head_dim: mixer.headDim, n_groups: mixer.groups, state_size: mixer.state, conv_kernel: mixer.conv, expand: mixer.expand,
      use_conv_bias: convBias, use_bias: projBias, layer_norm_epsilon: get('attention.layer_norm_rms_epsilon') ?? 1e-5,
    }
  }
  const headDim = hidden / count('attention.head_count')
  return {
    mamba_n_heads: mixer.heads, mamba_d_head: mixer.headDim, mamba_n_groups: mixer.groups, mamba_d_state: mixer.state, mamba_d_conv: mixer.conv,
    mamba_expand: mixer.expand, mamba_conv_bias: convBias, mamba_proj_bias: projBias,
    ...graniteLayers(get, count('block_count'), path),
    position_embedding_type: ggufFlag(get('rope.scaling.finetuned'), `${arch}.rope.scaling.finetuned`, path) === true ? 'rope' : 'nope',
    ...graniteExperts(get, path),
    // Granite's multipliers; without attention.scale llama.cpp scales by 1 / sqrt(head size).
    embedding_multiplier: get('embedding_scale') ?? 1, residual_multiplier: get('residual_scale') ?? 1, logits_scaling: get('logit_scale') ?? 1,
    attention_multiplier: get('attention.scale') ?? 1 / Math.sqrt(headDim),
  }
}

/** Qwen3-Next / Qwen 3.5 keys: the linear layers' sizes (ssm.state_size is the key head size, ssm.group_count the key heads), the layout, the rotated part, the experts. */
function gatedDeltaKeys(arch: string, get: (key: string) => unknown, count: (key: string) => number, tensorNames: Set<string>, path: string): Record<string, unknown> {
  const valueHeads = count('ssm.time_step_rank')
  const inner = count('ssm.inner_size')
  if (inner % valueHeads !== 0) throw new ModelLoadError(`${path}: ${arch}.ssm.inner_size ${inner} is not a multiple of ssm.time_step_rank (the value heads) ${valueHeads}.`)
  const layers = count('block_count')
  const interval = get('full_attention_interval') ?? 4
  if (typeof interval !== 'number' || !Number.isInteger(interval) || interval <= 0) throw new ModelLoadError(`${path}: ${arch}.full_attention_interval must be a positive integer, got ${quotedValue(interval)}.`)
  const headDim = count('attention.key_length')
  const keys: Record<string, unknown> = {
    linear_conv_kernel_dim: count('ssm.conv_kernel'), linear_key_head_dim: count('ssm.state_size'), linear_num_key_heads: count('ssm.group_count'),
    linear_num_value_heads: valueHeads, linear_value_head_dim: inner / valueHeads,
    layer_types: Array.from({length: layers}, (_, i) => ((i + 1) % interval === 0 ? 'full_attention' : 'linear_attention')),
    head_dim: headDim, partial_rotary_factor: Number(get('rope.dimension_count') ?? headDim) / headDim,
  }
  const experts = get('expert_count')
  if (experts === undefined || experts === 0) {
    if (arch !== 'qwen35') throw new ModelLoadError(`${path}: GGUF metadata ${arch}.expert_count is missing`)
    return keys
  }
  if (arch === 'qwen35') throw new ModelLoadError(`${path}: a qwen35 file with experts (${arch}.expert_count ${quotedValue(experts)}); Qwen 3.5 MoE files are qwen35moe.`)
  const gating = get('expert_gating_func')
  if (gating !== undefined && gating !== 1) throw new ModelLoadError(`${path}: ${arch}.expert_gating_func ${quotedValue(gating)} is not supported (softmax routing only).`)
  // A layer without a router is dense (Qwen3-Next's mlp_only_layers).
  const dense = Array.from({length: layers}, (_, l) => l).filter((l) => !tensorNames.has(`blk.${l}.ffn_gate_inp.weight`))
  return {
    ...keys, num_experts: experts, num_experts_per_tok: get('expert_used_count') ?? null, moe_intermediate_size: get('expert_feed_forward_length') ?? null,
    shared_expert_intermediate_size: get('expert_shared_feed_forward_length') ?? null, norm_topk_prob: get('expert_weights_norm') ?? true,
    decoder_sparse_step: 1, mlp_only_layers: dense,
    ...(arch === 'qwen35moe' ? {intermediate_size: get('feed_forward_length') ?? null} : {}),
  }
}

/** layer_types and the KV head count from attention.head_count_kv: one count per layer, 0 for a Mamba-2 layer. */
function graniteLayers(get: (key: string) => unknown, layers: number, path: string): Record<string, unknown> {
  const kv = get('attention.head_count_kv')
  if (!Array.isArray(kv) || kv.length !== layers || kv.some((n) => typeof n !== 'number' || !Number.isInteger(n) || n < 0)) {
    throw new ModelLoadError(`${path}: granitehybrid.attention.head_count_kv must list one KV head count (0 for a Mamba-2 layer) for each of the ${layers} layers, got ${quotedValue(kv)}.`)
  }
  const attending = [...new Set((kv as number[]).filter((n) => n > 0))]
  if (attending.length > 1) throw new ModelLoadError(`${path}: granitehybrid.attention.head_count_kv ${quotedValue(kv)}: attention layers with different KV head counts are not supported.`)
  return {layer_types: (kv as number[]).map((n) => (n > 0 ? 'attention' : 'mamba')), num_key_value_heads: attending[0] ?? 1}
}

/** The experts (expert_count 0 or absent: a dense model whose MLP is the shared one) and the shared MLP's width. */
function graniteExperts(get: (key: string) => unknown, path: string): Record<string, unknown> {
  const experts = get('expert_count') ?? 0
  const shared = get('expert_shared_feed_forward_length') ?? get('feed_forward_length')
  if (experts === 0) return {num_local_experts: 0, shared_intermediate_size: shared}
  const gating = get('expert_gating_func')
  if (gating !== undefined && gating !== 1) throw new ModelLoadError(`${path}: granitehybrid.expert_gating_func ${quotedValue(gating)} is not supported (softmax routing only).`)
  return {num_local_experts: experts, num_experts_per_tok: get('expert_used_count'), shared_intermediate_size: shared}
}

/** A mixer tensor in the shape the checkpoint has (the converter's reshapes undone; the bytes are the same); others as they are. */
export function ggufHybridTensor(tensor: TensorInfo, arch: string): TensorInfo {
  if (GGUF_LFM2_MAMBA_ARCHITECTURES[arch]) return ggufLfm2MambaTensor(tensor)
  if (GGUF_KIMI_LINEAR_ARCHITECTURES[arch]) return ggufKimiLinearTensor(tensor)
  // Nemotron-H's mixers keep the checkpoint's name (mixer.*) until nemotron-h-tensors.ts folds its layers.
  const mixer = /\.(?:mamba|linear_attn|mixer)\.(conv1d\.weight|A_log|D|norm\.weight)$/.exec(tensor.name)
  if (!mixer) return tensor
  const [first, second] = tensor.shape as [number, number | undefined]
  if (mixer[1] === 'conv1d.weight') return tensor.shape.length === 2 ? {...tensor, shape: [first, 1, second!]} : tensor
  const flat = tensor.shape.length === 2 ? {...tensor, shape: [first * second!]} : tensor
  return mixer[1] === 'A_log' ? {...flat, decayRateStored: true} : flat
}

/** How a qwen3next or qwen35 file lays out its linear projections and value heads (HybridFeatures.qkvzApart, valueHeadsTiled). */
export function withGgufHybridLayout<C extends {hybrid?: HybridFeatures}>(config: C, arch: string): C {
  const hybrid = config.hybrid
  if (!hybrid || !GATED_DELTA.has(arch)) return config
  if (arch === 'qwen3next') return {...config, hybrid: {...hybrid, qkvzApart: true}}
  return hybrid.linearNumValueHeads === hybrid.linearNumKeyHeads ? config : {...config, hybrid: {...hybrid, valueHeadsTiled: true}}
}
