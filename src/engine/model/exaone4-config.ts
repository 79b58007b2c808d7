// EXAONE 4.0 (Exaone4ForCausalLM): OLMo2's block (no pre-norms; post_attention_layernorm and post_feedforward_layernorm on
// the sublayer outputs) with Qwen3's per-head q/k norms, and with a sliding_window, sliding layers that rotate q and k
// beside full layers that do not (as Cohere2's). Read as transformers 5.18's Exaone4Config reads it; rms-variants.ts runs it.
import {ModelLoadError, quotedValue} from '../errors.js'

export const EXAONE4 = 'Exaone4ForCausalLM'

type Json = Record<string, unknown>

/**
 * The config.json with Exaone4Config's defaults (32 KV heads, eps 1e-5) and layer_types filled in when absent: every
 * sliding_window_pattern-th (4th) layer full, the others sliding. Exaone4Config cannot build them without a window
 * (its pattern becomes 0) or from a string pattern ("LLLG"): such configs need layer_types, as transformers needs them.
 */
export function exaone4View(config: Json, source: string): Json {
  const layers = config.num_hidden_layers
  let layerTypes = config.layer_types
  if (layerTypes == null && typeof layers === 'number' && Number.isInteger(layers) && layers > 0 && layers <= 10_000) {
    if (config.sliding_window === null) throw new ModelLoadError(`${source}: EXAONE 4 without a "sliding_window" needs "layer_types" (Exaone4Config cannot build them).`)
    const every = config.sliding_window_pattern ?? 4
    if (typeof every !== 'number' || !Number.isInteger(every) || every <= 0) {
      throw new ModelLoadError(`${source}: "sliding_window_pattern" ${quotedValue(every)} builds no layer types (a positive integer, or give "layer_types").`)
    }
    layerTypes = Array.from({length: layers}, (_, i) => ((i + 1) % every !== 0 ? 'sliding_attention' : 'full_attention'))
  }
  return {...config, num_key_value_heads: config.num_key_value_heads ?? 32, rms_norm_eps: config.rms_norm_eps ?? 1e-5, layer_types: layerTypes}
}

/** Which layers rotate q and k: every one without a sliding_window, else the sliding ones; undefined when all do. */
export function exaone4RopeLayers(config: Json): boolean[] | undefined {
  if (config.sliding_window === null || !Array.isArray(config.layer_types)) return undefined
  const rope = config.layer_types.map((type) => type === 'sliding_attention')
  return rope.every(Boolean) ? undefined : rope
}
