// GGUF files of Nemotron-H (nemotron_h), Nemotron 3 Nano (nemotron_h_moe) and Falcon-H1 (falcon-h1), as llama.cpp's
// converter writes them (conversion/nemotron.py, falcon_h1.py over mamba.py / granite.py), read as the config.json they
// stand for (nemotron-h-config.ts, falcon-h1-config.ts); gguf-hybrid.ts takes them in with the other hybrids.
// Mamba-2 tensors as granitehybrid's (A as -exp(A_log), conv1d squeezed, A and D [heads, 1], the gated norm
// [groups, inner / groups], dt_bias as ssm_dt.bias), reshaped back by ggufHybridTensor.
// nemotron_h / nemotron_h_moe: one block per checkpoint layer, each a norm (attn_norm) and one mixer; a block is
// attention when attention.head_count_kv > 0, an MLP (nemotron_h) or MoE (nemotron_h_moe) layer when its
// feed_forward_length > 0, else Mamba-2, as llama.cpp tells them apart. The tensors are named back to the checkpoint's
// (model.layers.C.norm / mixer.*), which nemotron-h-tensors.ts folds into the engine's layers; q/k rows are permuted
// for llama.cpp's rope (though Nemotron-H does not rotate) and undone. The MoE: experts fused per layer (ffn_{up,down}_exps),
// exp_probs_b the router's correction bias, the latent projections ffn_latent_down (fc1) and ffn_latent_up (fc2);
// sigmoid routing is llama.cpp's fixed choice. The converter writes expert_group_count but not topk_group; a file with
// more than one group must carry expert_group_used_count, as llama.cpp requires.
// falcon-h1: the converter folds every muP multiplier into the weights (embeddings, lm_head, q/k/v, o, in_proj's
// z / x / B / C / dt rows, out_proj, the MLP's gate and down), so the file runs with all multipliers 1. Its mixer norm
// is llama.cpp's, after the gate (mamba_norm_before_gate false, as Falcon-H1 ships); without ssm_norm, y x silu(z) goes
// straight to out_proj. q/k rows as in the checkpoint (NEOX rope).
import {ModelLoadError, quotedValue} from '../errors.js'

export const GGUF_SSM_HYBRID_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  nemotron_h: {architecture: 'NemotronHForCausalLM', modelType: 'nemotron_h', interleavedRope: true},
  nemotron_h_moe: {architecture: 'NemotronHForCausalLM', modelType: 'nemotron_h', interleavedRope: true},
  'falcon-h1': {architecture: 'FalconH1ForCausalLM', modelType: 'falcon_h1', interleavedRope: false},
}

/** A Nemotron-H block's tensors by GGUF suffix, as the checkpoint names them under model.layers.C. */
const NEMOTRON_H_NAMES: Record<string, string> = {
  'attn_norm.weight': 'norm.weight',
  'ssm_in.weight': 'mixer.in_proj.weight', 'ssm_in.bias': 'mixer.in_proj.bias', 'ssm_conv1d.weight': 'mixer.conv1d.weight', 'ssm_conv1d.bias': 'mixer.conv1d.bias',
  'ssm_dt.bias': 'mixer.dt_bias', ssm_a: 'mixer.A_log', ssm_d: 'mixer.D', 'ssm_norm.weight': 'mixer.norm.weight', 'ssm_out.weight': 'mixer.out_proj.weight', 'ssm_out.bias': 'mixer.out_proj.bias',
  'attn_q.weight': 'mixer.q_proj.weight', 'attn_k.weight': 'mixer.k_proj.weight', 'attn_v.weight': 'mixer.v_proj.weight', 'attn_output.weight': 'mixer.o_proj.weight',
  'ffn_up.weight': 'mixer.up_proj.weight', 'ffn_down.weight': 'mixer.down_proj.weight',
  'ffn_gate_inp.weight': 'mixer.gate.weight', 'exp_probs_b.bias': 'mixer.gate.e_score_correction_bias',
  'ffn_up_exps.weight': 'mixer.experts.up_proj.weight', 'ffn_down_exps.weight': 'mixer.experts.down_proj.weight',
  'ffn_up_shexp.weight': 'mixer.shared_experts.up_proj.weight', 'ffn_down_shexp.weight': 'mixer.shared_experts.down_proj.weight',
  'ffn_latent_down.weight': 'mixer.fc1_latent_proj.weight', 'ffn_latent_up.weight': 'mixer.fc2_latent_proj.weight',
}
/** Falcon-H1's mixer beside llama's attention and MLP names (gguf-model.ts's LAYER_NAMES). */
const FALCON_H1_NAMES: Record<string, string> = {
  'ssm_in.weight': 'mamba.in_proj.weight', 'ssm_in.bias': 'mamba.in_proj.bias', 'ssm_conv1d.weight': 'mamba.conv1d.weight', 'ssm_conv1d.bias': 'mamba.conv1d.bias',
  'ssm_dt.bias': 'mamba.dt_bias', ssm_a: 'mamba.A_log', ssm_d: 'mamba.D', 'ssm_norm.weight': 'mamba.norm.weight', 'ssm_out.weight': 'mamba.out_proj.weight', 'ssm_out.bias': 'mamba.out_proj.bias',
}
export const GGUF_SSM_HYBRID_LAYER_NAMES: Record<string, Record<string, string>> = {nemotron_h: NEMOTRON_H_NAMES, nemotron_h_moe: NEMOTRON_H_NAMES, 'falcon-h1': FALCON_H1_NAMES}

type Count = (key: string) => number

const anyTensor = (tensorNames: Set<string>, pattern: RegExp): boolean => [...tensorNames].some((name) => pattern.test(name))

/** The config.json keys a nemotron_h, nemotron_h_moe or falcon-h1 file's metadata stands for. */
export function ssmHybridGgufKeys(arch: string, get: (key: string) => unknown, count: Count, tensorNames: Set<string>, path: string): Record<string, unknown> {
  const hidden = count('embedding_length')
  const inner = count('ssm.inner_size')
  const heads = count('ssm.time_step_rank')
  if (inner % heads !== 0) throw new ModelLoadError(`${path}: ${arch}.ssm.inner_size ${inner} must be a multiple of ssm.time_step_rank (the heads) ${heads}.`)
  const convBias = anyTensor(tensorNames, /\.ssm_conv1d\.bias$/)
  const [inBias, outBias] = [anyTensor(tensorNames, /\.ssm_in\.bias$/), anyTensor(tensorNames, /\.ssm_out\.bias$/)]
  if (arch === 'falcon-h1') {
    return {
      mamba_d_ssm: inner, mamba_n_heads: heads, mamba_d_head: inner / heads, mamba_n_groups: count('ssm.group_count'), mamba_d_state: count('ssm.state_size'),
      mamba_d_conv: count('ssm.conv_kernel'), mamba_expand: inner / hidden, mamba_conv_bias: convBias, mamba_proj_bias: inBias, projectors_bias: outBias,
      mamba_rms_norm: anyTensor(tensorNames, /\.ssm_norm\.weight$/), mamba_norm_before_gate: false,
    }
  }
  const layers = count('block_count')
  const kv = perLayer(arch, 'attention.head_count_kv', get, layers, path)
  const ff = perLayer(arch, 'feed_forward_length', get, layers, path)
  const moe = arch === 'nemotron_h_moe'
  // llama.cpp's layer kinds: attention with KV heads, an MLP (MoE) with a width, else Mamba-2.
  const pattern = kv.map((n, l) => (n > 0 ? '*' : ff[l]! > 0 ? (moe ? 'E' : '-') : 'M')).join('')
  const kvHeads = [...new Set(kv.filter((n) => n > 0))]
  if (kvHeads.length > 1) throw new ModelLoadError(`${path}: ${arch}.attention.head_count_kv ${quotedValue(kv)}: attention layers with different KV head counts are not supported.`)
  const keys: Record<string, unknown> = {
    hybrid_override_pattern: pattern, num_key_value_heads: kvHeads[0] ?? 1, intermediate_size: Math.max(1, ...ff),
    mamba_num_heads: heads, mamba_head_dim: inner / heads, n_groups: count('ssm.group_count'), ssm_state_size: count('ssm.state_size'), conv_kernel: count('ssm.conv_kernel'),
    use_conv_bias: convBias, use_bias: inBias || outBias, layer_norm_epsilon: get('attention.layer_norm_rms_epsilon') ?? 1e-5, mlp_hidden_act: 'relu2', mamba_hidden_act: 'silu',
  }
  return moe ? {...keys, ...nemotronHExperts(get, count, path)} : keys
}

/** A per-layer array key (one value per block); a single number stands for every block. */
function perLayer(arch: string, key: string, get: (key: string) => unknown, layers: number, path: string): number[] {
  const value = get(key)
  const list = typeof value === 'number' ? Array<number>(layers).fill(value) : value
  if (!Array.isArray(list) || list.length !== layers || list.some((n) => typeof n !== 'number' || !Number.isInteger(n) || n < 0)) {
    throw new ModelLoadError(`${path}: ${arch}.${key} must list one count (0 where the block has none) for each of the ${layers} blocks, got ${quotedValue(value)}.`)
  }
  return list as number[]
}

/** Nemotron 3 Nano's experts: NemotronHConfig's MoE keys from the expert_* metadata. */
function nemotronHExperts(get: (key: string) => unknown, count: Count, path: string): Record<string, unknown> {
  const gating = get('expert_gating_func')
  if (gating !== undefined && gating !== 2) throw new ModelLoadError(`${path}: nemotron_h_moe.expert_gating_func ${quotedValue(gating)} is not supported (Nemotron-H routes by sigmoid, 2).`)
  const shared = get('expert_shared_count')
  if (shared !== undefined && shared !== 1) throw new ModelLoadError(`${path}: nemotron_h_moe.expert_shared_count ${quotedValue(shared)} is not supported (one shared expert).`)
  const groups = get('expert_group_count') ?? 1
  const used = get('expert_group_used_count')
  if (groups !== 1 && used === undefined) throw new ModelLoadError(`${path}: GGUF metadata nemotron_h_moe.expert_group_used_count is missing (expert_group_count ${quotedValue(groups)}: how many groups each token uses).`)
  const latent = get('moe_latent_size')
  return {
    n_routed_experts: count('expert_count'), num_experts_per_tok: count('expert_used_count'), moe_intermediate_size: count('expert_feed_forward_length'),
    moe_shared_expert_intermediate_size: count('expert_shared_feed_forward_length'), n_group: groups, topk_group: used ?? 1,
    norm_topk_prob: get('expert_weights_norm') ?? false, routed_scaling_factor: get('expert_weights_scale') ?? 1,
    moe_latent_size: latent === undefined || latent === 0 ? null : latent,
  }
}
