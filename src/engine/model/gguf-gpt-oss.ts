// GGUF gpt-oss files (llama.cpp's converter, e.g. ggml-org's gpt-oss-20b / 120b): their metadata as the GptOssConfig
// config.json keys it stands for, and their tensors under the engine's names. The converter splits each layer's fused,
// interleaved gate_up experts into ffn_gate_exps and ffn_up_exps (or, fused, ffn_gate_up_exps: gate rows then up rows),
// each with its bias, keeps MXFP4 experts as ggml MXFP4 blocks (dequantized at load), and writes q/k rows as in HF
// (gpt-oss rotates with rotate_half). llama.cpp fixes what the file does not say: every other layer slides, layer 0
// first; the clamped SwiGLU's limit 7; YaRN's betas 32 and 1 (GptOssConfig's), untruncated as transformers runs it.
import {ModelLoadError, quotedValue} from '../errors.js'
import {ggufSlidingPattern} from './gguf-olmo3.js'

export const GGUF_GPT_OSS_ARCHITECTURES = {'gpt-oss': {architecture: 'GptOssForCausalLM', modelType: 'gpt_oss', interleavedRope: false}}

/** gpt-oss's per-layer tensor names beyond llama's (its post-attention norm is olmo2's name: gguf-rms-variants.ts). */
export const GGUF_GPT_OSS_LAYER_NAMES: Record<string, string> = {
  'attn_output.bias': 'self_attn.o_proj.bias', 'attn_sinks.weight': 'self_attn.sinks', 'ffn_gate_inp.bias': 'mlp.gate.bias',
}

/** The config.json keys a gpt-oss file's metadata stands for; {} for other architectures. */
export function gptOssGgufKeys(arch: string, get: (key: string) => unknown, path: string): Record<string, unknown> {
  if (arch !== 'gpt-oss') return {}
  const required = (key: string): unknown => {
    if (get(key) === undefined) throw new ModelLoadError(`${path}: GGUF metadata gpt-oss.${key} is missing`)
    return get(key)
  }
  const layers = Number(get('block_count'))
  const slides = ggufSlidingPattern('gpt-oss', get, path) ?? Array.from({length: Number.isInteger(layers) && layers > 0 && layers <= 10000 ? layers : 0}, (_, i) => i % 2 === 0)
  return {
    architectures: ['GptOssForCausalLM'], model_type: 'gpt_oss',
    num_local_experts: required('expert_count'), num_experts_per_tok: required('expert_used_count'),
    intermediate_size: get('expert_feed_forward_length') ?? get('feed_forward_length'),
    sliding_window: required('attention.sliding_window'),
    layer_types: slides.map((slide) => (slide ? 'sliding_attention' : 'full_attention')),
    attention_bias: true, swiglu_limit: 7.0,
    rope_scaling: gptOssYarn(get, path),
  }
}

/** rope.scaling.type yarn as GptOssConfig's rope_scaling; a file without scaling runs unscaled. */
function gptOssYarn(get: (key: string) => unknown, path: string): Record<string, unknown> | null {
  const type = get('rope.scaling.type')
  if (type === undefined || type === 'none') return {rope_type: 'default'}
  if (type !== 'yarn') throw new ModelLoadError(`${path}: gpt-oss rope scaling ${quotedValue(type)} is not supported (none or yarn).`)
  return {
    rope_type: 'yarn', factor: get('rope.scaling.factor'), original_max_position_embeddings: get('rope.scaling.original_context_length'),
    beta_fast: get('rope.scaling.yarn_beta_fast') ?? 32.0, beta_slow: get('rope.scaling.yarn_beta_slow') ?? 1.0, truncate: false,
  }
}

/** A gpt-oss file converted with gate and up apart (ffn_gate_exps, ffn_up_exps) says so in its MoE config; others as they are. */
export function withGptOssGateUpApart<C extends {moe?: {gptOssExperts?: boolean; gptOssGateUpApart?: boolean}}>(config: C, tensorNames: Set<string>): C {
  if (!config.moe?.gptOssExperts || ![...tensorNames].some((name) => name.endsWith('.ffn_gate_exps.weight'))) return config
  return {...config, moe: {...config.moe, gptOssGateUpApart: true}}
}
