// What every LayerNorm-family config parser shares: config.json values read with the class's defaults and checked,
// refusals by key, the partial rotary with its scaling.
import {ModelLoadError} from '../errors.js'
import type {LayerNormFeatures} from './layernorm-family.js'
import {parseRopeScaling, type RopeScaling} from './rope-scaling.js'
import {switchOn, switchValue} from './config-switch.js'

type Json = Record<string, unknown>

const MAX_SIZE = 2 ** 31 - 1

/** config.json's values by key with the config class's defaults, each checked, and refusals that name the key. */
export function configReader(config: Json, architecture: string, source: string) {
  const integer = (key: string, fallback?: number): number => {
    const value = config[key] ?? fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new ModelLoadError(`${source} is missing "${key}" (a positive integer) for ${architecture}.`)
    // The backends take sizes as 32-bit integers; no tensor checks a rotary model's max_position_embeddings.
    if (value > MAX_SIZE) throw new ModelLoadError(`${source}: "${key}" ${value} is beyond the sizes the backends take (at most ${MAX_SIZE}).`)
    return value
  }
  const number = (key: string, fallback: number): number => {
    const value = config[key] ?? fallback
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new ModelLoadError(`${source}: "${key}" must be a non-negative number.`)
    return value
  }
  const flag = (key: string, fallback: boolean) => switchValue(config, key, fallback, source)
  const refuse = (key: string, why: string) => {
    if (switchOn(config, key, source)) throw new ModelLoadError(`${source}: ${key}=true is not supported for ${architecture} (${why}).`)
  }
  // A class's attribute_map name (hidden_size for n_embd, ...): transformers sets it after the class's own key, so it wins.
  const aliased = (key: string, alias: string, fallback: number): number => (config[alias] !== undefined ? integer(alias) : integer(key, fallback))
  return {integer, number, flag, refuse, aliased}
}

/** What the RMSNorm families' switches say for the LayerNorm family: none of them apply. */
export function layerNormBase(config: Json, architecture: string) {
  return {architecture, modelType: typeof config.model_type === 'string' ? config.model_type : architecture, ropeScaling: {type: 'none'} as RopeScaling,
    qkNorm: false, normWeightOffset: 0, embeddingScale: 1, fusedProjections: false, sandwichNorms: false, attentionScale: 0, attnLogitSoftcap: 0, finalLogitSoftcap: 0}
}

/** The features of a pre-LN model with biases everywhere, no positions of its own and one norm per block part (GPT-2's). */
export const LAYERNORM_DEFAULTS: LayerNormFeatures = {normAffine: true, postNorm: false, finalNorm: true, parallelResidual: false, learnedPositions: 0, positionOffset: 0,
  rotaryDim: 0, embedDim: 0, qkvBias: true, outputBias: true, mlpBias: true, sharedNorm: false, gatedMlp: false, headNorm: 'none', headBias: false, interleavedRotary: false,
  attentionScaleByLayer: false}

/** A LayerNorm-family model's rotary embeddings: base, rotated values per head, scaling, and the context they are exact up to. */
export interface LayerNormRotary {
  ropeTheta: number
  rotaryDim: number
  ropeScaling: RopeScaling
  maxPositionEmbeddings: number
  notes: string[]
}

/**
 * Rotary embeddings over a fraction of each head, as transformers 5 reads them: rope_parameters (or an old
 * rope_scaling) first, then the top-level keys (older configs: `legacy` ones such as GPT-NeoX's rotary_emb_base /
 * rotary_pct, then rope_theta / partial_rotary_factor), then the class's default fraction and base 10000. The scaling
 * is the Llama path's (rope-scaling.ts) over the rotated values only, as transformers' rope init computes it over
 * int(head_dim * partial_rotary_factor); its cos/sin factor (yarn, longrope) touches only those values too.
 */
export function layerNormRotary(config: Json, architecture: string, source: string, headDim: number, maxPositionEmbeddings: number, defaultFraction: number,
  legacy: {theta?: string; fraction?: string} = {}): LayerNormRotary {
  const rope = (config.rope_parameters ?? config.rope_scaling ?? {}) as Json
  if (typeof rope !== 'object' || rope === null) throw new ModelLoadError(`${source}: "rope_parameters" must be an object.`)
  const [thetaKey, fractionKey] = [legacy.theta ?? 'rope_theta', legacy.fraction ?? 'partial_rotary_factor']
  const theta = rope.rope_theta ?? config[thetaKey] ?? config.rope_theta ?? 10000
  const fraction = rope.partial_rotary_factor ?? config[fractionKey] ?? config.partial_rotary_factor ?? defaultFraction
  if (typeof theta !== 'number' || !(theta > 0)) throw new ModelLoadError(`${source}: "${thetaKey}" must be a positive number.`)
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) throw new ModelLoadError(`${source}: "${fractionKey}" must be in (0, 1].`)
  const rotaryDim = Math.floor(headDim * fraction)
  if (rotaryDim % 2 !== 0) throw new ModelLoadError(`${source}: ${fractionKey} ${fraction} rotates ${rotaryDim} of ${headDim} values per head; an odd count is not supported.`)
  const parsed = parseRopeScaling(rope, {headDim: rotaryDim, ropeTheta: theta, maxPositionEmbeddings, topLevelOriginalMax: config.original_max_position_embeddings}, source)
  const notes = parsed.note ? [parsed.note] : []
  let context = maxPositionEmbeddings
  if (parsed.contextCap && parsed.contextCap.tokens < context) {
    notes.push(parsed.contextCap.note)
    context = parsed.contextCap.tokens
  }
  return {ropeTheta: theta, rotaryDim, ropeScaling: parsed.scaling, maxPositionEmbeddings: context, notes}
}
