// Command R7B (Cohere2): Command-R's block (LayerNorm without bias, parallel attention and MLP, logit_scale, interleaved
// rope) with sliding-window layers that rotate q and k beside full-attention layers that do not, read as transformers
// 5.18's Cohere2Config reads it (rms-variants.ts runs the rest as Cohere's).
import {ModelLoadError, quotedValue} from '../errors.js'

export const COHERE2 = 'Cohere2ForCausalLM'

type Json = Record<string, unknown>

/**
 * The config.json as the shared parser should read it: layer_eps as the norm's eps (head_dim, as transformers 5.18's
 * attention reads it: as given, else hidden / heads), and layer_types filled in from sliding_window_pattern (4: every 4th
 * layer full) when absent.
 */
export function cohere2View(config: Json, source: string): Json {
  // Without a window transformers rotates no layer at all (rope goes with the window), a model no checkpoint is.
  if (config.sliding_window === null) throw new ModelLoadError(`${source}: Cohere2 needs a "sliding_window" (null given): its sliding layers are the ones that rotate q and k.`)
  const layers = config.num_hidden_layers
  let layerTypes = config.layer_types
  if (layerTypes == null && typeof layers === 'number' && Number.isInteger(layers) && layers > 0 && layers <= 10_000) {
    const every = config.sliding_window_pattern ?? 4
    if (typeof every !== 'number' || !Number.isInteger(every) || every <= 0) throw new ModelLoadError(`${source}: "sliding_window_pattern" must be a positive integer, got ${quotedValue(every)}.`)
    layerTypes = Array.from({length: layers}, (_, i) => ((i + 1) % every !== 0 ? 'sliding_attention' : 'full_attention'))
  }
  return {...config, rms_norm_eps: config.layer_norm_eps ?? 1e-5, layer_types: layerTypes}
}

/** Which layers rotate q and k: the sliding ones (the view's layer_types, already checked by sliding-windows.ts); undefined when all do. */
export function cohere2RopeLayers(config: Json): boolean[] | undefined {
  const rope = (config.layer_types as string[]).map((type) => type === 'sliding_attention')
  return rope.every(Boolean) ? undefined : rope
}
