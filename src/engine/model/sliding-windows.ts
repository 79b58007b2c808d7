// Which layers attend through a sliding window and how wide it is, as transformers 5.18's config classes decide it per family.
import {ModelLoadError, quotedValue} from '../errors.js'
import type {ArchitectureTraits} from './architectures.js'
import {PHIMOE_ARCHITECTURES} from './phimoe-config.js'

type Json = Record<string, unknown>

/** Gemma 2, Gemma 3, Cohere2 and OLMo 3 build layer_types, when config.json has none, as every `pattern`-th layer full, the others sliding. */
const DEFAULT_SLIDING_PATTERN: Record<string, number> = {Gemma2ForCausalLM: 2, GptOssForCausalLM: 2, Gemma3ForCausalLM: 6, Gemma4ForCausalLM: 6, Gemma3nForCausalLM: 5, Cohere2ForCausalLM: 4, Olmo3ForCausalLM: 4, Exaone4ForCausalLM: 4, ExaoneMoeForCausalLM: 4, VaultGemmaForCausalLM: 2, Cohere2MoeForCausalLM: 4, AfmoeForCausalLM: 4}
/** Architectures whose every layer slides when sliding_window is set (their config classes have no layer_types). */
const ALL_LAYERS_SLIDE = new Set(['MistralForCausalLM', 'Ministral3ForCausalLM', 'MixtralForCausalLM', 'Phi3ForCausalLM', ...PHIMOE_ARCHITECTURES])
/** Ministral: the layers layer_types marks, by default every one when sliding_window is set. */
const LAYER_TYPES_ELSE_ALL = new Set(['MinistralForCausalLM', 'CwmForCausalLM', 'GraniteSWAForCausalLM', 'GraniteMoeSWAForCausalLM', 'MellumForCausalLM'])

/**
 * One window per layer (0: full attention), or undefined when no layer slides. A query at position p sees keys at
 * positions (p - window, p]: transformers' masking_utils `kv_idx > q_idx - sliding_window`, the same for every family.
 * Mistral, Mixtral, Phi-3 and PhiMoE slide on every layer; Qwen2/Qwen3 only with use_sliding_window, on the layers layer_types marks
 * "sliding_attention" or else from max_window_layers on; Gemma 2/3 on the layers layer_types marks, by default all but
 * every 2nd (Gemma 2) or every sliding_window_pattern-th (Gemma 3, 6), or every 4th (Cohere2, OLMo 3). Llama and Gemma have no window.
 */
export function parseLayerWindows(config: Json, architecture: string, traits: ArchitectureTraits, numLayers: number, source: string): number[] | undefined {
  const pattern = DEFAULT_SLIDING_PATTERN[architecture]
  if (!traits.qwenSlidingLayers && pattern === undefined && !ALL_LAYERS_SLIDE.has(architecture) && !LAYER_TYPES_ELSE_ALL.has(architecture)) return undefined
  // Without use_sliding_window transformers sets no window at all on Qwen, whatever the layer types say.
  if (traits.qwenSlidingLayers && config.use_sliding_window !== true) return undefined
  const raw = config.sliding_window === undefined ? traits.defaultSlidingWindow : config.sliding_window
  if (raw === null) return undefined
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw <= 0) {
    throw new ModelLoadError(`${source}: "sliding_window" must be a positive integer or null, got ${quotedValue(raw)}.`)
  }
  const sliding = slidingLayers(config, architecture, numLayers, pattern, source)
  // A window past any context is full attention; the backends take windows as 32-bit integers.
  const window = Math.min(raw, 2 ** 31 - 1)
  return sliding.some(Boolean) ? sliding.map((slides) => (slides ? window : 0)) : undefined
}

function slidingLayers(config: Json, architecture: string, numLayers: number, pattern: number | undefined, source: string): boolean[] {
  if (ALL_LAYERS_SLIDE.has(architecture)) return Array.from({length: numLayers}, () => true)
  const layerTypes = config.layer_types
  if (layerTypes != null) {
    if (!Array.isArray(layerTypes) || layerTypes.length !== numLayers || layerTypes.some((t) => t !== 'full_attention' && t !== 'sliding_attention')) {
      throw new ModelLoadError(`${source}: "layer_types" must list "full_attention" or "sliding_attention" for each of the ${numLayers} layers.`)
    }
    return layerTypes.map((t) => t === 'sliding_attention')
  }
  if (LAYER_TYPES_ELSE_ALL.has(architecture)) return Array.from({length: numLayers}, () => true)
  if (pattern !== undefined) {
    const every = architecture === 'Gemma3ForCausalLM' ? positiveInteger(config.sliding_window_pattern, pattern, 'sliding_window_pattern', source) : pattern
    return Array.from({length: numLayers}, (_, i) => (i + 1) % every !== 0)
  }
  const first = positiveInteger(config.max_window_layers, 28, 'max_window_layers', source, 0)
  return Array.from({length: numLayers}, (_, i) => i >= first)
}

function positiveInteger(value: unknown, fallback: number, key: string, source: string, min = 1): number {
  if (value == null) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ModelLoadError(`${source}: "${key}" must be an integer of at least ${min}, got ${quotedValue(value)}.`)
  }
  return value
}
