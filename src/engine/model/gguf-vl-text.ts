// GGUF qwen2vl (Qwen2-VL, Qwen2.5-VL), qwen3vl and qwen3vlmoe (Qwen3-VL, Qwen3-VL-MoE) files: the language model that
// llama.cpp's converter writes apart from the vision tower (its mmproj file), run text only as the HF path runs these
// checkpoints' text_config (multimodal-text.ts): Qwen2's, Qwen3's and Qwen3-MoE's layers under llama's tensor names.
// Mistral3ForConditionalGeneration's text is written as llama (Mistral Small 3.x: the llama loader's) or as mistral3
// (Ministral 3: refused with what it needs).
import {ModelLoadError, quotedValue} from '../errors.js'

export const GGUF_VL_TEXT_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  qwen2vl: {architecture: 'Qwen2ForCausalLM', modelType: 'qwen2', interleavedRope: false},
  qwen3vl: {architecture: 'Qwen3ForCausalLM', modelType: 'qwen3', interleavedRope: false},
  qwen3vlmoe: {architecture: 'Qwen3MoeForCausalLM', modelType: 'qwen3_moe', interleavedRope: false},
}

/** GGUF architectures of these checkpoints' text models that need what this loader lacks. */
export const GGUF_VL_TEXT_NEAR_MISSES: Record<string, string> = {
  mistral3: 'Ministral 3 files need their YaRN log multiplier (rope.scaling.yarn_log_multiplier) and Llama 4 attention temperature (attention.temperature_scale) read; load the Hugging Face checkpoint',
}

/** Whether the file's experts are read as qwen3moe's (gguf-moe.ts). */
export function isQwen3MoeGguf(arch: string): boolean {
  return arch === 'qwen3moe' || arch === 'qwen3vlmoe'
}

/**
 * The config.json keys a file of these architectures stands for beyond Qwen2's / Qwen3's ({} for others): none, once its
 * M-RoPE and DeepStack keys are checked. rope.dimension_sections (which llama.cpp requires) gives each frequency the
 * temporal, height or width position; a text token's three are the same (llama.cpp's and transformers' alike), so it is
 * plain rope over the same dimensions, as the HF path reads mrope_section. n_deepstack_layers counts the vision tower's
 * features llama.cpp adds after the first layers at image positions only (its widened input embedding, zero for text
 * tokens); token_embd holds embedding_length values a token, so a text prompt runs the plain layers.
 */
export function vlTextGgufKeys(arch: string, get: (key: string) => unknown, path: string): Record<string, unknown> {
  if (!Object.hasOwn(GGUF_VL_TEXT_ARCHITECTURES, arch)) return {}
  const sections = get('rope.dimension_sections')
  if (sections === undefined) throw new ModelLoadError(`${path}: GGUF metadata ${arch}.rope.dimension_sections is missing (the M-RoPE sections llama.cpp requires of ${arch} files).`)
  if (!Array.isArray(sections) || sections.length === 0 || sections.length > 4 || sections.some((s) => typeof s !== 'number' || !Number.isInteger(s) || s < 0)) {
    throw new ModelLoadError(`${path}: ${arch}.rope.dimension_sections must list up to 4 non-negative integers, got ${quotedValue(sections)}.`)
  }
  const deepstack = get('n_deepstack_layers')
  const layers = get('block_count')
  if (deepstack !== undefined && (typeof deepstack !== 'number' || !Number.isInteger(deepstack) || deepstack < 0 || (typeof layers === 'number' && deepstack > layers))) {
    throw new ModelLoadError(`${path}: ${arch}.n_deepstack_layers must be a whole number of layers from 0 to ${quotedValue(layers)}, got ${quotedValue(deepstack)}.`)
  }
  return {}
}
