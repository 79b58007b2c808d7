// Gemma 3's config.json seen as the keys the shared parser reads: its two rope bases, and Gemma3TextConfig's defaults where they differ from Gemma 2's.
import {ModelLoadError} from '../errors.js'
import {isObject} from './rope-scaling.js'

type Json = Record<string, unknown>

/**
 * Gemma3TextConfig rotates full-attention layers with rope_theta (1e6 by default) and its rope_scaling (linear, factor 8
 * on 4B and up), sliding layers with rope_local_base_freq (10000), unscaled; transformers 5 may write both as
 * rope_parameters {full_attention, sliding_attention}. Returns the config with the full layers' rope as the only one
 * (what the shared parser reads) and no soft caps unless it sets them, plus the sliding layers' base.
 */
export function gemma3View(config: Json, source: string): {config: Json; ropeLocalTheta: number} {
  const nested = isObject(config.rope_parameters) && ('full_attention' in config.rope_parameters || 'sliding_attention' in config.rope_parameters)
    ? config.rope_parameters
    : null
  const full = nested ? nested.full_attention : config.rope_parameters
  const sliding = nested && isObject(nested.sliding_attention) ? nested.sliding_attention : {}
  const slidingType = sliding.rope_type ?? sliding.type ?? 'default'
  if (slidingType !== 'default') {
    throw new ModelLoadError(`${source}: rope_parameters.sliding_attention of type ${JSON.stringify(slidingType)} is not supported (Gemma 3's local layers use the default rope).`)
  }
  const ropeLocalTheta = sliding.rope_theta ?? config.rope_local_base_freq ?? 10000
  if (typeof ropeLocalTheta !== 'number' || !Number.isFinite(ropeLocalTheta) || ropeLocalTheta <= 0) {
    throw new ModelLoadError(`${source}: "rope_local_base_freq" must be a positive number, got ${JSON.stringify(ropeLocalTheta)}.`)
  }
  const fullRope = isObject(full) ? {...full, rope_theta: full.rope_theta ?? config.rope_theta ?? 1e6} : undefined
  return {
    config: {
      attn_logit_softcapping: null,
      final_logit_softcapping: null,
      ...config,
      rope_parameters: fullRope,
      rope_theta: config.rope_theta ?? 1e6,
    },
    ropeLocalTheta,
  }
}
