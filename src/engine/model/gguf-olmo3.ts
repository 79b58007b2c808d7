// OLMo 3's GGUF files: llama.cpp's converter writes Olmo3ForCausalLM as olmo2 with attention.sliding_window (and
// attention.sliding_window_pattern, one flag per layer), and its YaRN rope_scaling as rope.scaling.*. They are read as
// the Olmo3ForCausalLM config.json they stand for (olmo3-config.ts): the flagged layers slide, every 4th full without the
// flags (llama.cpp's fixed pattern, Olmo3Config's default); sliding layers rotate at rope.freq_base unscaled, full ones
// with the YaRN (llama.cpp's olmo2 graph likewise turns YaRN off on its sliding layers).
import {ModelLoadError, quotedValue} from '../errors.js'

/** True for an olmo2 file that carries a sliding window (OLMo 3). */
export function isOlmo3Gguf(arch: string, get: (key: string) => unknown): boolean {
  return arch === 'olmo2' && get('attention.sliding_window') !== undefined
}

/** A file's attention.sliding_window_pattern (one flag per layer, true where it slides), checked; undefined without it. */
export function ggufSlidingPattern(arch: string, get: (key: string) => unknown, path: string): boolean[] | undefined {
  const layers = get('block_count')
  const pattern = get('attention.sliding_window_pattern')
  if (pattern !== undefined && (!Array.isArray(pattern) || pattern.length !== layers || pattern.some((flag) => typeof flag !== 'boolean'))) {
    throw new ModelLoadError(`${path}: ${arch}.attention.sliding_window_pattern must hold one true/false per layer (${quotedValue(layers)}), got ${quotedValue(pattern)}.`)
  }
  return pattern as boolean[] | undefined
}

/** The config.json keys an OLMo 3 file's metadata stands for. */
export function olmo3GgufKeys(get: (key: string) => unknown, path: string): Record<string, unknown> {
  const pattern = ggufSlidingPattern('olmo2', get, path)
  const layerTypes = pattern?.map((slides) => (slides ? 'sliding_attention' : 'full_attention'))
  return {
    architectures: ['Olmo3ForCausalLM'], model_type: 'olmo3', sliding_window: get('attention.sliding_window'),
    ...(layerTypes ? {layer_types: layerTypes} : {}),
    rope_scaling: olmo3Yarn(get, path),
  }
}

/** rope.scaling.type yarn as the rope_scaling it was converted from; null for none. */
function olmo3Yarn(get: (key: string) => unknown, path: string): Record<string, unknown> | null {
  const type = get('rope.scaling.type')
  if (type === undefined || type === 'none') return null
  if (type !== 'yarn') throw new ModelLoadError(`${path}: OLMo 3 (olmo2 with attention.sliding_window) rope scaling ${quotedValue(type)} is not supported (none or yarn).`)
  return ggufYarnScaling(get)
}

/** A file's rope.scaling.* keys of type yarn as the rope_scaling config.json holds (its parser checks the values). */
export function ggufYarnScaling(get: (key: string) => unknown): Record<string, unknown> {
  const optional = (configKey: string, ggufKey: string) => (get(ggufKey) === undefined ? {} : {[configKey]: get(ggufKey)})
  return {
    rope_type: 'yarn', factor: get('rope.scaling.factor'), original_max_position_embeddings: get('rope.scaling.original_context_length'),
    ...optional('attention_factor', 'rope.scaling.attn_factor'), ...optional('beta_fast', 'rope.scaling.yarn_beta_fast'), ...optional('beta_slow', 'rope.scaling.yarn_beta_slow'),
  }
}
