// Models whose full-attention and sliding layers rotate differently (Gemma 3, OLMo 3): transformers 5 writes their rope as
// rope_parameters {full_attention, sliding_attention}. The full layers' rope is the one the shared parser reads; the
// sliding layers' must be the default (unscaled) rope, the second cos/sin table the CPU backend computes (ropeLocalTheta).
import {ModelLoadError, quotedValue} from '../errors.js'
import {isObject} from './rope-scaling.js'

type Json = Record<string, unknown>

/** The per-layer-type rope parameters, or null when config.json gives one rope for every layer (or none). */
export function layerTypeRopes(config: Json): {full: unknown; sliding: Json} | null {
  const rope = config.rope_parameters
  if (!isObject(rope) || !('full_attention' in rope || 'sliding_attention' in rope)) return null
  return {full: rope.full_attention, sliding: isObject(rope.sliding_attention) ? rope.sliding_attention : {}}
}

/** The sliding layers' rope base (`fallback` when their parameters give none); any rope type but the default is refused. */
export function localRopeTheta(sliding: Json, fallback: unknown, fallbackKey: string, model: string, source: string): number {
  const type = sliding.rope_type ?? sliding.type ?? 'default'
  if (type !== 'default') throw new ModelLoadError(`${source}: rope_parameters.sliding_attention of type ${quotedValue(type)} is not supported (${model}'s local layers use the default rope).`)
  const theta = sliding.rope_theta ?? fallback
  if (typeof theta !== 'number' || !Number.isFinite(theta) || theta <= 0) throw new ModelLoadError(`${source}: "${fallbackKey}" must be a positive number, got ${quotedValue(theta)}.`)
  return theta
}
