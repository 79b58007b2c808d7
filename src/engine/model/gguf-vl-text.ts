// GGUF qwen2vl (Qwen2-VL, Qwen2.5-VL), qwen3vl, qwen3vlmoe (Qwen3-VL, Qwen3-VL-MoE) and mistral3 files: the language model that
// llama.cpp's converter writes apart from the vision tower (its mmproj file), run text only as the HF path runs these
// checkpoints' text_config (multimodal-text.ts): Qwen2's, Qwen3's and Qwen3-MoE's layers under llama's tensor names.
// Mistral3ForConditionalGeneration's text is written as llama (Mistral Small 3.x: the llama loader's) or as mistral3
// (Ministral 3, also Ministral3ForCausalLM: llama's tensors, q/k rows permuted, with YaRN and Llama 4's query scale).
import {ModelLoadError, quotedValue} from '../errors.js'

export const GGUF_VL_TEXT_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  qwen2vl: {architecture: 'Qwen2ForCausalLM', modelType: 'qwen2', interleavedRope: false},
  qwen3vl: {architecture: 'Qwen3ForCausalLM', modelType: 'qwen3', interleavedRope: false},
  qwen3vlmoe: {architecture: 'Qwen3MoeForCausalLM', modelType: 'qwen3_moe', interleavedRope: false},
  mistral3: {architecture: 'Ministral3ForCausalLM', modelType: 'ministral3', interleavedRope: true},
}

/** Whether the file's rope.scaling.type is the YaRN its architecture is written with. */
export function acceptsVlTextYarn(arch: string, ropeType: unknown): boolean {
  return arch === 'mistral3' && ropeType === 'yarn'
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
  if (arch === 'mistral3') return ministral3Keys(get, path)
  if (get('rope.dimension_sections') === undefined) throw new ModelLoadError(`${path}: GGUF metadata ${arch}.rope.dimension_sections is missing (the M-RoPE sections llama.cpp requires of ${arch} files).`)
  checkRopeSections(arch, get, path)
  const deepstack = get('n_deepstack_layers')
  const layers = get('block_count')
  if (deepstack !== undefined && (typeof deepstack !== 'number' || !Number.isInteger(deepstack) || deepstack < 0 || (typeof layers === 'number' && deepstack > layers))) {
    throw new ModelLoadError(`${path}: ${arch}.n_deepstack_layers must be a whole number of layers from 0 to ${quotedValue(layers)}, got ${quotedValue(deepstack)}.`)
  }
  return {}
}

/** A file's M-RoPE sections, when it has them: up to 4 non-negative integers (plain rope for text, whatever they split). */
export function checkRopeSections(arch: string, get: (key: string) => unknown, path: string): void {
  const sections = get('rope.dimension_sections')
  if (sections === undefined) return
  if (!Array.isArray(sections) || sections.length === 0 || sections.length > 4 || sections.some((s) => typeof s !== 'number' || !Number.isInteger(s) || s < 0)) {
    throw new ModelLoadError(`${path}: ${arch}.rope.dimension_sections must list up to 4 non-negative integers, got ${quotedValue(sections)}.`)
  }
}

/**
 * Ministral 3's rope_parameters from what its converter writes: YaRN (rope.scaling.*; the converter refuses any other)
 * and llama_4_scaling_beta as attention.temperature_scale (0 or none: no query scale). llama.cpp's mistral3 graph passes
 * rope an attention factor that cancels YaRN's magnitude term whatever rope.scaling.yarn_log_multiplier says, as
 * transformers' does when mscale equals mscale_all_dim (Ministral 3's configs): attention_factor 1.
 */
function ministral3Keys(get: (key: string) => unknown, path: string): Record<string, unknown> {
  const type = get('rope.scaling.type')
  if (type !== 'yarn') throw new ModelLoadError(`${path}: mistral3.rope.scaling.type must be "yarn" (Ministral 3's rope), got ${quotedValue(type)}.`)
  const optional = (configKey: string, ggufKey: string) => (get(ggufKey) === undefined ? {} : {[configKey]: get(ggufKey)})
  return {
    rope_parameters: {
      type: 'yarn', rope_theta: get('rope.freq_base') ?? 1e6, factor: get('rope.scaling.factor'), original_max_position_embeddings: get('rope.scaling.original_context_length'),
      ...optional('beta_fast', 'rope.scaling.yarn_beta_fast'), ...optional('beta_slow', 'rope.scaling.yarn_beta_slow'),
      attention_factor: 1, llama_4_scaling_beta: get('attention.temperature_scale') ?? 0,
    },
  }
}
