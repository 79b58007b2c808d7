// GGUF granite, granitemoe, olmo, olmo2 (and OLMo 3's), olmoe, command-r and cohere2 files: their metadata as the config.json keys it stands for, and their extra tensor names
// (the experts of granitemoe and olmoe: gguf-moe.ts).
import {isOlmo3Gguf, olmo3GgufKeys} from './gguf-olmo3.js'

/**
 * llama.cpp's converter permutes granite's, granitemoe's and olmo's q/k rows for its interleaved rope, as llama's (put
 * back at load); olmo2 and olmoe rotate with rotate_half, rows as in HF; command-r rotates interleaved pairs as Cohere
 * does, its rows as in HF (the loader's Cohere reordering applies, as to the checkpoint); so does cohere2 (Command R7B).
 */
export const GGUF_RMS_VARIANT_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  granite: {architecture: 'GraniteForCausalLM', modelType: 'granite', interleavedRope: true},
  granitemoe: {architecture: 'GraniteMoeForCausalLM', modelType: 'granitemoe', interleavedRope: true},
  olmo: {architecture: 'OlmoForCausalLM', modelType: 'olmo', interleavedRope: true},
  olmoe: {architecture: 'OlmoeForCausalLM', modelType: 'olmoe', interleavedRope: false},
  olmo2: {architecture: 'Olmo2ForCausalLM', modelType: 'olmo2', interleavedRope: false},
  'command-r': {architecture: 'CohereForCausalLM', modelType: 'cohere', interleavedRope: false},
  cohere2: {architecture: 'Cohere2ForCausalLM', modelType: 'cohere2', interleavedRope: false},
}

/** OLMo2's norms on the sublayer outputs. */
export const GGUF_RMS_VARIANT_LAYER_NAMES: Record<string, string> = {
  'post_attention_norm.weight': 'post_attention_layernorm.weight', 'post_ffw_norm.weight': 'post_feedforward_layernorm.weight',
}

/**
 * The config.json keys granite's multipliers, olmo's clamp and command-r's logit scale and LayerNorm eps stand for; {}
 * for other architectures.
 */
export function rmsVariantGgufKeys(arch: string, get: (key: string) => unknown, tensorNames: Set<string>, path: string): Record<string, unknown> {
  // OLMo's weightless LayerNorms have a fixed eps; llama.cpp reads no clamp for olmoe, so its files run without one.
  if (arch === 'olmo') return {clip_qkv: get('attention.clamp_kqv') ?? null}
  if (arch === 'olmoe') return {clip_qkv: null}
  // OLMo 3's files are olmo2 with sliding-window layers (gguf-olmo3.ts).
  if (isOlmo3Gguf(arch, get)) return olmo3GgufKeys(get, path)
  if (arch === 'granite' || arch === 'granitemoe') {
    const keys = {embedding_multiplier: 'embedding_scale', residual_multiplier: 'residual_scale', attention_multiplier: 'attention.scale', logits_scaling: 'logit_scale'}
    return Object.fromEntries(Object.entries(keys).flatMap(([configKey, ggufKey]) => (get(ggufKey) === undefined ? [] : [[configKey, get(ggufKey)]])))
  }
  // llama.cpp's cohere2: every 4th layer full, the others sliding (Cohere2Config's default pattern).
  if (arch === 'cohere2') return {logit_scale: get('logit_scale'), layer_norm_eps: get('attention.layer_norm_epsilon'), sliding_window: get('attention.sliding_window') ?? null, sliding_window_pattern: 4}
  if (arch !== 'command-r') return {}
  // Command R+'s per-head q/k LayerNorms: attn_q_norm [head_dim, heads] (numpy's [heads, head_dim], as the checkpoint's).
  return {logit_scale: get('logit_scale'), layer_norm_eps: get('attention.layer_norm_epsilon'), use_qk_norm: tensorNames.has('blk.0.attn_q_norm.weight')}
}
