// Mellum (MellumForCausalLM, JetBrains) as transformers 5.18's MellumConfig reads it: Qwen3-MoE's attention (per-head q/k
// norms) and softmax-routed experts, with the sliding layers layer_types marks (a window of sliding_window, 1024 by
// default; every layer full by default) rotating with rope_parameters.sliding_attention's base and the full ones with
// full_attention's rope (5e5 and 1e4 by default), and the dense layers mlp_layer_types marks (none by default).
import {ModelLoadError, quotedValue} from '../errors.js'
import {layerTypeRopes, localRopeTheta} from './layer-type-rope.js'
import {isObject} from './rope-scaling.js'

export const MELLUM = 'MellumForCausalLM'

type Json = Record<string, unknown>

/** MellumConfig's per-layer-type rope when config.json gives none (it never reads a top-level rope_theta). */
const DEFAULT_ROPE = {full_attention: {rope_type: 'default', rope_theta: 500000}, sliding_attention: {rope_type: 'default', rope_theta: 10000}}

/** The config with the full layers' rope as the one the shared parser reads, layer_types filled in, and the sliding layers' base. */
export function mellumView(config: Json, source: string): {config: Json; ropeLocalTheta: number} {
  const given = config.rope_parameters ?? DEFAULT_ROPE
  // MellumRotaryEmbedding reads rope_parameters[layer_type] for each type the layers use: a flat rope has none.
  const nested = layerTypeRopes({rope_parameters: given})
  if (nested === null || !isObject(nested.full)) throw new ModelLoadError(`${source}: "rope_parameters" must hold "full_attention" and "sliding_attention" ropes for ${MELLUM}, got ${quotedValue(given)}.`)
  if (config.sliding_window === null) throw new ModelLoadError(`${source}: ${MELLUM} needs a "sliding_window" for its sliding layers (null given).`)
  const full = nested.full
  // Its rope init reads each type's rope_theta, with no fallback.
  if (typeof full.rope_theta !== 'number' || !Number.isFinite(full.rope_theta) || full.rope_theta <= 0) {
    throw new ModelLoadError(`${source}: "rope_parameters.full_attention.rope_theta" must be a positive number, got ${quotedValue(full.rope_theta)}.`)
  }
  const layers = typeof config.num_hidden_layers === 'number' && Number.isInteger(config.num_hidden_layers) && config.num_hidden_layers > 0 ? config.num_hidden_layers : 0
  const out: Json = {
    ...config,
    layer_types: config.layer_types ?? Array<string>(layers).fill('full_attention'),
    rope_parameters: {rope_type: 'default', ...full},
    rope_scaling: undefined,
    rope_theta: undefined,
  }
  return {config: out, ropeLocalTheta: localRopeTheta(nested.sliding, undefined, 'rope_parameters.sliding_attention.rope_theta', 'Mellum', source)}
}

/** MellumConfig's mlp_layer_types ("dense" / "sparse" per layer), by default every layer sparse. */
export function mellumSparseLayers(config: Json, numLayers: number, source: string): boolean[] {
  const types = config.mlp_layer_types ?? Array<string>(numLayers).fill('sparse')
  if (!Array.isArray(types) || types.length !== numLayers || types.some((t) => t !== 'dense' && t !== 'sparse')) {
    throw new ModelLoadError(`${source}: "mlp_layer_types" must list "dense" or "sparse" for each of the ${numLayers} layers.`)
  }
  return types.map((t) => t === 'sparse')
}
