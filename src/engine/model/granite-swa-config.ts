// Granite SWA (GraniteSWAForCausalLM): Granite's multipliers (rms-variants.ts) with a learned sink per query head
// (GPT-OSS's: the output scaled by sigmoid(logsumexp - sink) is softmax with one more logit, `attentionSinks`), three
// layers in four sliding (sliding_window 128), and a rope base per layer (layer_rope_theta; 0 or null: no rope). Read as
// transformers 5.18's GraniteSWAConfig reads it. Granite MoE SWA (GraniteMoeSWAForCausalLM): the same attention over
// GraniteMoeShared's experts (granite-moe.ts), under GraniteMoeSharedConfig's other defaults.
import {ModelLoadError, quotedValue} from '../errors.js'
import {isObject} from './rope-scaling.js'

export const GRANITE_SWA = 'GraniteSWAForCausalLM'
export const GRANITE_MOE_SWA = 'GraniteMoeSWAForCausalLM'

/** GraniteSWAConfig's own defaults beside the window; GraniteMoeSWAConfig keeps GraniteMoeSharedConfig's (untied, the parser's). */
const CLASS_DEFAULTS: Record<string, Json> = {
  [GRANITE_SWA]: {sliding_window: 128, tie_word_embeddings: true, bos_token_id: 100257, eos_token_id: 100257},
  [GRANITE_MOE_SWA]: {sliding_window: 128},
}

export function isGraniteSwa(architecture: string): boolean {
  return architecture in CLASS_DEFAULTS
}

type Json = Record<string, unknown>

/**
 * The config with GraniteSWAConfig's layer_types (i % 4 == 0 full) and window when left out, and its per-layer rope
 * bases as the engine runs them: one base for the full layers (rope_theta) and one for the sliding ones (Gemma 3's
 * ropeLocalTheta, unscaled), layers of base 0 or null without rope (ropeLayers). Bases the two types do not share, or a
 * second base under a scaled rope, are refused naming layer_rope_theta.
 */
export function graniteSwaView(config: Json, architecture: string, source: string): {config: Json; ropeLocalTheta?: number; ropeLayers?: boolean[]} {
  const layers = typeof config.num_hidden_layers === 'number' && Number.isInteger(config.num_hidden_layers) && config.num_hidden_layers > 0 ? config.num_hidden_layers : 0
  const types = (config.layer_types ?? Array.from({length: layers}, (_, i) => (i % 4 === 0 ? 'full_attention' : 'sliding_attention'))) as unknown[]
  const rope = isObject(config.rope_parameters) ? config.rope_parameters : null
  const theta = rope?.rope_theta ?? config.rope_theta ?? 10000
  const given = config.layer_rope_theta ?? Array.from({length: layers}, () => theta)
  const out: Json = {...CLASS_DEFAULTS[architecture], ...config, layer_types: types}
  if (!Array.isArray(given) || given.length !== layers || given.some((t) => t != null && (typeof t !== 'number' || !Number.isFinite(t) || t < 0))) {
    throw new ModelLoadError(`${source}: "layer_rope_theta" must list a non-negative rope base (0 or null: no rope) for each of the ${layers} layers, got ${quotedValue(given)}.`)
  }
  const bases = (type: string) => [...new Set(given.filter((t, i) => types[i] === type && t))] as number[]
  const [full, sliding] = [bases('full_attention'), bases('sliding_attention')]
  const scaled = ((rope?.rope_type ?? rope?.type ?? 'default') !== 'default') || config.rope_scaling != null
  if (full.length > 1 || sliding.length > 1 || (full.length === 1 && sliding.length === 1 && full[0] !== sliding[0] && scaled)) {
    throw new ModelLoadError(`${source}: "layer_rope_theta" ${quotedValue(given)} is not supported: the engine runs one rope base for the full layers and one (unscaled when it differs) for the sliding ones.`)
  }
  const fullBase = full[0] ?? sliding[0] ?? theta
  const withBase = {...out, ...(rope ? {rope_parameters: {...rope, rope_theta: fullBase}} : {rope_theta: fullBase})}
  const ropeLayers = given.map((t) => Boolean(t))
  return {
    config: withBase,
    ...(sliding.length === 1 && sliding[0] !== fullBase ? {ropeLocalTheta: sliding[0]} : {}),
    ...(ropeLayers.some((r) => !r) ? {ropeLayers} : {}),
  }
}
