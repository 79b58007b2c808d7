// GGUF llama4 files (Llama 4 Scout / Maverick text), as llama.cpp's converter writes them (conversion/llama4.py), read
// as the Llama4TextConfig config.json they stand for (llama4-config.ts). q/k rows are as in the checkpoint (interleaved
// pairs; llama4-tensors.ts reorders them as for it); the experts are transposed to [out, in] and stored as
// ffn_gate_exps / ffn_up_exps apart (or ffn_gate_up_exps fused: gate rows then up rows), down as ffn_down_exps; Llama 3
// rope scaling as rope_freqs.weight. The file does not say what llama.cpp fixes for llama4 and we take as it does:
// chunks of 8192 positions on every layer but each 4th, which is NoPE and global; the NoPE layers' query temperature
// with floor_scale 8192 and attn_scale 0.1; the rope layers' q/k RMS norm unless the model has 128 experts (Maverick).
// A file with attention.sliding_window 0 or no experts (MobileLLM) is refused, as llama.cpp runs those its own way.
import {ModelLoadError, quotedValue} from '../errors.js'

export const GGUF_LLAMA4_ARCHITECTURES = {llama4: {architecture: 'Llama4ForCausalLM', modelType: 'llama4_text', interleavedRope: false}}

/** The config.json keys a llama4 file's metadata stands for; {} for other architectures. */
export function llama4GgufKeys(arch: string, get: (key: string) => unknown, path: string): Record<string, unknown> {
  if (arch !== 'llama4') return {}
  const required = (key: string): unknown => {
    if (get(key) === undefined) throw new ModelLoadError(`${path}: GGUF metadata llama4.${key} is missing`)
    return get(key)
  }
  // llama.cpp reads only whether the window is 0; any other value runs chunks of 8192.
  const window = get('attention.sliding_window')
  if (window === 0) throw new ModelLoadError(`${path}: llama4.attention.sliding_window 0: llama4 files without chunked attention (MobileLLM) are not supported.`)
  const experts = required('expert_count')
  if (typeof experts !== 'number' || experts < 1) {
    throw new ModelLoadError(`${path}: llama4.expert_count ${quotedValue(experts)}: llama4 files without experts (MobileLLM) are not supported.`)
  }
  return {
    intermediate_size_mlp: required('feed_forward_length'), intermediate_size: required('expert_feed_forward_length'),
    num_local_experts: experts, num_experts_per_tok: required('expert_used_count'), interleave_moe_layer_step: required('interleave_moe_layer_step'),
    attention_chunk_size: 8192, no_rope_layer_interval: 4, attn_temperature_tuning: true, floor_scale: 8192, attn_scale: 0.1,
    use_qk_norm: experts !== 128,
  }
}

/** A file with each expert's gate and up apart (ffn_gate_exps, ffn_up_exps) drops the MoE config's fusedExperts; others as they are. */
export function withLlama4GateUpApart<C extends {moe?: {inputScaledExperts?: boolean; fusedExperts?: true}}>(config: C, tensorNames: Set<string>): C {
  if (!config.moe?.inputScaledExperts || ![...tensorNames].some((name) => name.endsWith('.ffn_gate_exps.weight'))) return config
  const {fusedExperts: _, ...moe} = config.moe
  return {...config, moe}
}
