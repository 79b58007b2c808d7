// GGUF files of LFM2 (lfm2, lfm2moe), Mamba / Falcon-Mamba (mamba) and Jamba (jamba), as llama.cpp's converter writes
// them, read as the config.json they stand for (lfm2-config.ts, mamba1-config.ts); gguf-hybrid.ts takes them in with
// the other hybrids. lfm2: the short convolution squeezed to [hidden, kernel], attention.head_count_kv per layer (0 for
// a conv layer), feed_forward_length already as block_auto_adjust_ff_dim makes it, embedding_norm (the final norm) as
// token_embd_norm; q/k rows as in the checkpoint (llama.cpp rotates LFM2 NEOX-style). lfm2moe: the same, dense below
// leading_dense_block_count, then sigmoid-routed experts with expert_bias as exp_probs_b.bias, always renormalised
// (llama.cpp's graph fixes that), scaled by expert_weights_scale when the file has it. Refused: attention.sliding_window
// (llama.cpp's windowed LFM2 layers, which transformers' LFM2 has not), rope scaling, LFM2-ColBERT's dense_2 embedding
// head. mamba and jamba: A stored as -exp(A_log) (taken as it is: decayRateStored), the conv1d squeezed to
// [inner, kernel], dt_proj as ssm_dt (its bias ssm_dt.bias). A mamba file is Falcon-Mamba's when ssm.dt_b_c_rms is
// true; the file has no mixer_rms_eps, so its weightless dt / B / C norms take FalconMambaConfig's default 1e-6
// (llama.cpp uses the layer eps instead). A jamba file's attention layers are those with head_count_kv > 0 and its
// sparse layers those with a router (ffn_gate_inp); each must fall every period-th layer from an offset, as JambaConfig
// lays them out.
import {ggufFlag} from './gguf-file.js'
import {ModelLoadError, quotedValue} from '../errors.js'
import type {TensorInfo} from './safetensors.js'

export const GGUF_LFM2_MAMBA_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  lfm2: {architecture: 'Lfm2ForCausalLM', modelType: 'lfm2', interleavedRope: false},
  lfm2moe: {architecture: 'Lfm2MoeForCausalLM', modelType: 'lfm2_moe', interleavedRope: false},
  mamba: {architecture: 'MambaForCausalLM', modelType: 'mamba', interleavedRope: false},
  jamba: {architecture: 'JambaForCausalLM', modelType: 'jamba', interleavedRope: false},
}

/** LFM2's final norm (the checkpoint's embedding_norm), stored as token_embd_norm. */
export const GGUF_LFM2_MAMBA_GLOBAL_NAMES: Record<string, Record<string, string>> = {lfm2: {'token_embd_norm.weight': 'model.norm.weight'}, lfm2moe: {'token_embd_norm.weight': 'model.norm.weight'}}

/** A Mamba-1 mixer's tensors by GGUF suffix (Jamba's dt / B / C norms among them). */
const MAMBA1_NAMES: Record<string, string> = {
  'ssm_in.weight': 'mamba.in_proj.weight', 'ssm_in.bias': 'mamba.in_proj.bias', 'ssm_conv1d.weight': 'mamba.conv1d.weight', 'ssm_conv1d.bias': 'mamba.conv1d.bias',
  'ssm_x.weight': 'mamba.x_proj.weight', 'ssm_dt.weight': 'mamba.dt_proj.weight', 'ssm_dt.bias': 'mamba.dt_proj.bias', ssm_a: 'mamba.A_log', ssm_d: 'mamba.D',
  'ssm_dt_norm.weight': 'mamba.dt_layernorm.weight', 'ssm_b_norm.weight': 'mamba.b_layernorm.weight', 'ssm_c_norm.weight': 'mamba.c_layernorm.weight',
  'ssm_out.weight': 'mamba.out_proj.weight', 'ssm_out.bias': 'mamba.out_proj.bias',
}
/** LFM2's short convolution (biases named so that conv_bias files are refused) and per-head q/k norms. */
const LFM2_NAMES: Record<string, string> = {
  'shortconv.in_proj.weight': 'conv.in_proj.weight', 'shortconv.conv.weight': 'conv.conv.weight', 'shortconv.out_proj.weight': 'conv.out_proj.weight',
  'shortconv.in_proj.bias': 'conv.in_proj.bias', 'shortconv.conv.bias': 'conv.conv.bias', 'shortconv.out_proj.bias': 'conv.out_proj.bias',
}
export const GGUF_LFM2_MAMBA_LAYER_NAMES: Record<string, Record<string, string>> = {lfm2: LFM2_NAMES, lfm2moe: LFM2_NAMES, mamba: MAMBA1_NAMES, jamba: MAMBA1_NAMES}

type Count = (key: string) => number

const anyTensor = (tensorNames: Set<string>, pattern: RegExp): boolean => [...tensorNames].some((name) => pattern.test(name))

/** The config.json keys an lfm2, lfm2moe, mamba or jamba file's metadata stands for. */
export function lfm2MambaGgufKeys(arch: string, get: (key: string) => unknown, count: Count, tensorNames: Set<string>, path: string): Record<string, unknown> {
  const layers = count('block_count')
  if (arch === 'lfm2' || arch === 'lfm2moe') return lfm2Keys(arch, get, count, tensorNames, layers, path)
  const hidden = count('embedding_length')
  const inner = count('ssm.inner_size')
  if (inner % hidden !== 0) throw new ModelLoadError(`${path}: ${arch}.ssm.inner_size ${inner} must be a multiple of embedding_length ${hidden}.`)
  const convBias = anyTensor(tensorNames, /\.ssm_conv1d\.bias$/)
  const projBias = anyTensor(tensorNames, /\.ssm_(in|out)\.bias$/)
  if (arch === 'mamba') {
    const falcon = ggufFlag(get('ssm.dt_b_c_rms'), `${arch}.ssm.dt_b_c_rms`, path) === true
    return {
      ...(falcon ? {architectures: ['FalconMambaForCausalLM'], model_type: 'falcon_mamba'} : {}),
      state_size: count('ssm.state_size'), conv_kernel: count('ssm.conv_kernel'), expand: inner / hidden, time_step_rank: count('ssm.time_step_rank'),
      use_conv_bias: convBias, use_bias: projBias, layer_norm_epsilon: get('attention.layer_norm_rms_epsilon') ?? 1e-5,
    }
  }
  const {attends, kvHeads} = attentionLayers(arch, get, layers, path)
  const routed = Array.from({length: layers}, (_, l) => tensorNames.has(`blk.${l}.ffn_gate_inp.weight`))
  const attention = periodOf(attends, 'attention layers (head_count_kv > 0)', arch, path)
  const experts = periodOf(routed, 'layers with experts (ffn_gate_inp)', arch, path)
  return {
    mamba_d_state: count('ssm.state_size'), mamba_d_conv: count('ssm.conv_kernel'), mamba_expand: inner / hidden, mamba_dt_rank: count('ssm.time_step_rank'),
    mamba_conv_bias: convBias, mamba_proj_bias: projBias, num_key_value_heads: kvHeads,
    attn_layer_period: attention.period, attn_layer_offset: attention.offset,
    // No router anywhere: a dense Jamba (num_experts 1).
    ...(routed.some(Boolean) ? {num_experts: count('expert_count'), num_experts_per_tok: count('expert_used_count')} : {num_experts: 1, num_experts_per_tok: 1}),
    expert_layer_period: experts.period, expert_layer_offset: experts.offset,
  }
}

/** LFM2's and LFM2-MoE's keys: the layer kinds, the conv kernel; LFM2-MoE's experts. */
function lfm2Keys(arch: string, get: (key: string) => unknown, count: Count, tensorNames: Set<string>, layers: number, path: string): Record<string, unknown> {
  const window = get('attention.sliding_window')
  if (typeof window === 'number' && window > 0) throw new ModelLoadError(`${path}: ${arch}.attention.sliding_window ${window}: sliding-window attention layers are not supported for LFM2 (transformers' LFM2 has none).`)
  // lfm2View sets rope_parameters, which a rope_scaling key would not reach: refused rather than dropped.
  const scaling = get('rope.scaling.type')
  if ((scaling !== undefined && scaling !== 'none') || tensorNames.has('rope_freqs.weight')) throw new ModelLoadError(`${path}: rope scaling (${arch}.rope.scaling.type ${quotedValue(scaling)} or rope_freqs.weight) is not supported for LFM2.`)
  if (tensorNames.has('dense_2.weight')) throw new ModelLoadError(`${path}: a dense_2 output projection (LFM2-ColBERT): an embedding model, not a causal LM.`)
  const {attends, kvHeads} = attentionLayers(arch, get, layers, path)
  const keys = {
    conv_L_cache: count('shortconv.l_cache'), layer_types: attends.map((a) => (a ? 'full_attention' : 'conv')), num_key_value_heads: kvHeads,
    norm_eps: get('attention.layer_norm_rms_epsilon') ?? 1e-5, conv_bias: anyTensor(tensorNames, /\.shortconv\.\w+\.bias$/),
  }
  // The converter writes LFM2's MLP width already adjusted.
  if (arch === 'lfm2') return {...keys, block_auto_adjust_ff_dim: false}
  const gating = get('expert_gating_func')
  if (gating !== 2) throw new ModelLoadError(`${path}: ${arch}.expert_gating_func ${quotedValue(gating)} is not supported (LFM2-MoE routes by sigmoid, 2).`)
  return {
    ...keys, num_experts: count('expert_count'), num_experts_per_tok: count('expert_used_count'), moe_intermediate_size: count('expert_feed_forward_length'),
    num_dense_layers: get('leading_dense_block_count') ?? 0, use_expert_bias: anyTensor(tensorNames, /\.exp_probs_b\.bias$/),
    norm_topk_prob: true, routed_scaling_factor: get('expert_weights_scale') ?? 1,
  }
}

/** Which layers attend (attention.head_count_kv: one count per layer, 0 for a conv or mixer layer) and their one KV head count. */
function attentionLayers(arch: string, get: (key: string) => unknown, layers: number, path: string): {attends: boolean[]; kvHeads: number} {
  const kv = get('attention.head_count_kv')
  if (!Array.isArray(kv) || kv.length !== layers || kv.some((n) => typeof n !== 'number' || !Number.isInteger(n) || n < 0)) {
    throw new ModelLoadError(`${path}: ${arch}.attention.head_count_kv must list one KV head count (0 for a recurrent layer) for each of the ${layers} layers, got ${quotedValue(kv)}.`)
  }
  const counts = [...new Set((kv as number[]).filter((n) => n > 0))]
  if (counts.length > 1) throw new ModelLoadError(`${path}: ${arch}.attention.head_count_kv ${quotedValue(kv)}: attention layers with different KV head counts are not supported.`)
  return {attends: (kv as number[]).map((n) => n > 0), kvHeads: counts[0] ?? 1}
}

/** The period and offset (layer % period == offset) that mark exactly `flags`; a file whose layers no such pair marks is refused. */
function periodOf(flags: boolean[], what: string, arch: string, path: string): {period: number; offset: number} {
  // None marked: a period past the last layer.
  if (!flags.some(Boolean)) return {period: flags.length + 1, offset: flags.length}
  for (let period = 1; period <= flags.length; period++) {
    for (let offset = 0; offset < period; offset++) if (flags.every((on, i) => on === (i % period === offset))) return {period, offset}
  }
  const layers = flags.flatMap((on, i) => (on ? [i] : []))
  throw new ModelLoadError(`${path}: ${arch} ${what} at ${layers.join(', ')} do not recur every period-th layer from an offset, as JambaConfig lays them out.`)
}

/** A conv or mixer tensor in the shape the checkpoint has (the converter's squeeze undone; the bytes are the same). */
export function ggufLfm2MambaTensor(tensor: TensorInfo): TensorInfo {
  const conv = /\.(?:conv\.conv|mamba\.conv1d)\.weight$/.test(tensor.name)
  if (conv && tensor.shape.length === 2) return {...tensor, shape: [tensor.shape[0]!, 1, tensor.shape[1]!]}
  return tensor.name.endsWith('.mamba.A_log') ? {...tensor, decayRateStored: true} : tensor
}
