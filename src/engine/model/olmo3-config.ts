// OLMo 3: OLMo2's block (post-norms, whole-width q/k norms) with sliding-window layers (4096; every 4th layer full) whose
// rope has its own parameters: full layers rotate with rope_parameters.full_attention (an old config's rope_scaling,
// YaRN on OLMo 3 7B, applies to them only), sliding ones with sliding_attention's base, unscaled. Read as transformers
// 5.18's Olmo3Config reads it; rms-variants.ts runs the rest as OLMo2's.
import {ModelLoadError} from '../errors.js'
import {layerTypeRopes, localRopeTheta} from './layer-type-rope.js'
import {isObject} from './rope-scaling.js'

export const OLMO3 = 'Olmo3ForCausalLM'
/** Olmo3Config's default_theta, for both layer types. */
const DEFAULT_THETA = 500000

type Json = Record<string, unknown>

/** The config with the full layers' rope as the only one the shared parser reads, and the sliding layers' base. */
export function olmo3View(config: Json, source: string): {config: Json; ropeLocalTheta: number} {
  // Without a window the sliding layers attend fully but keep their own rope, which the backends take only on windowed layers.
  if (config.sliding_window === null) throw new ModelLoadError(`${source}: OLMo 3 needs a "sliding_window" (null given).`)
  const nested = layerTypeRopes(config)
  const theta = config.rope_theta ?? DEFAULT_THETA
  const full = nested ? nested.full : config.rope_scaling
  const fullRope = isObject(full) ? {...(full.rope_type ?? full.type ? {} : {rope_type: 'default'}), ...full, rope_theta: full.rope_theta ?? theta} : {rope_type: 'default', rope_theta: theta}
  const ropeLocalTheta = localRopeTheta(nested?.sliding ?? {}, theta, 'rope_theta', 'OLMo 3', source)
  return {config: {...config, rope_parameters: fullRope, rope_scaling: undefined, rope_theta: fullRope.rope_theta, rms_norm_eps: config.rms_norm_eps ?? 1e-5}, ropeLocalTheta}
}
