// GGUF minicpm3 files (MiniCPM3: latent attention over dense MLPs) as llama.cpp's converter writes them, read as the
// MiniCPM3 config.json they stand for (minicpm3-config.ts). Latent attention's tensors carry deepseek2's names
// (gguf-deepseek.ts) with q/k rows as in HF (llama.cpp rotates minicpm3 NEOX-style, as rotate_half). The converter
// writes none of MiniCPM3's multipliers: llama.cpp's graph fixes them at MiniCPM3-4B's (scale_emb 12, scale_depth 1.4,
// dim_model_base 256), and so does this. Its LongRoPE factors are rope_factors_short / _long tensors with no original
// context written, so llama.cpp takes the training context for it and runs the short factors within it.
import {ModelLoadError} from '../errors.js'
import type {GgufFile} from './gguf-file.js'
import {ggufF32Vector} from './gguf-phi3-gemma.js'

export const GGUF_MINICPM3_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  minicpm3: {architecture: 'MiniCPM3ForCausalLM', modelType: 'minicpm3', interleavedRope: false},
}

/** The config.json keys a minicpm3 file's metadata stands for; {} for other architectures. */
export function minicpm3GgufKeys(arch: string, get: (key: string) => unknown, file: GgufFile): Record<string, unknown> {
  if (arch !== 'minicpm3') return {}
  const required = (key: string): unknown => {
    if (get(key) === undefined) throw new ModelLoadError(`${file.path}: GGUF metadata minicpm3.${key} is missing`)
    return get(key)
  }
  const rope = Number(required('rope.dimension_count'))
  const keyLength = Number(required('attention.key_length'))
  if (!Number.isInteger(rope) || rope <= 0 || rope % 2 !== 0 || rope >= keyLength) {
    throw new ModelLoadError(`${file.path}: minicpm3.rope.dimension_count ${rope} must be even and less than attention.key_length ${keyLength} (the rotated part of each query/key head).`)
  }
  const short = ggufF32Vector(file, 'rope_factors_short.weight', rope / 2)
  const long = ggufF32Vector(file, 'rope_factors_long.weight', rope / 2)
  if ((short === null) !== (long === null)) throw new ModelLoadError(`${file.path}: minicpm3 LongRoPE needs rope_factors_short.weight and rope_factors_long.weight together`)
  return {
    head_dim: null, q_lora_rank: required('attention.q_lora_rank'), kv_lora_rank: required('attention.kv_lora_rank'),
    qk_rope_head_dim: rope, qk_nope_head_dim: keyLength - rope, v_head_dim: get('attention.value_length') ?? null,
    scale_emb: 12, scale_depth: 1.4, dim_model_base: 256,
    rope_scaling: short && long ? {type: 'longrope', short_factor: [...short], long_factor: [...long], original_max_position_embeddings: required('context_length')} : null,
  }
}
