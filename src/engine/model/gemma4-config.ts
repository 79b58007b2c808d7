// Gemma 4's config.json (Gemma4TextConfig, transformers 5.18) seen as the keys the shared parser reads, plus what sets
// Gemma 4 apart: layers of two shapes, KV-shared layers, per-layer input embeddings (gemma4-tensors.ts names the tensors).
import {ModelLoadError, quotedValue} from '../errors.js'
import {gemmaEmbeddingScale} from './architectures.js'
import {layerTypeRopes, localRopeTheta} from './layer-type-rope.js'
import {isObject} from './rope-scaling.js'
import {switchOn} from './config-switch.js'

type Json = Record<string, unknown>

export const GEMMA4 = 'Gemma4ForCausalLM'
/** As model-config.ts bounds them: no model has more layers; the backends take sizes as 32-bit integers. */
const MAX_LAYERS = 10_000
const MAX_SIZE = 2 ** 31 - 1

/** One decoder layer's shape and where its keys and values come from. */
export interface Gemma4Layer {
  headDim: number
  numKvHeads: number
  intermediateSize: number
  /** The layer whose K/V cache this layer reads: itself, or (a KV-shared layer) the last earlier layer of its type that writes. */
  kvSource: number
  /** attention_k_eq_v on a full layer: no v_proj, the key projection (before k_norm and rope) is the value too. */
  kEqV: boolean
}

export interface Gemma4Features {
  layers: Gemma4Layer[]
  /** hidden_size_per_layer_input: each layer adds a gated [this]-wide per-layer input; 0: none. */
  perLayerInputSize: number
  /** vocab_size_per_layer_input: rows of embed_tokens_per_layer. */
  perLayerVocabSize: number
  /** The per-layer embedding rows are multiplied by sqrt(perLayerInputSize), rounded to the checkpoint's dtype. */
  perLayerEmbeddingScale: number
  /** Full layers' "proportional" rope: the first fullRopeAngles frequency pairs turn (base^(2i / head_dim) / factor), the rest stay. */
  fullRopeAngles: number
  fullRopeFactor: number
  /** Sliding layers' default rope base. */
  localRopeTheta: number
  /** enable_moe_block: beside each layer's dense MLP, numExperts experts of intermediateSize, topK per token; null: none. */
  moe: {numExperts: number; topK: number; intermediateSize: number} | null
}

/** Gemma4TextConfig's defaults where a config.json may leave keys out. */
const TEXT_DEFAULTS: Json = {
  vocab_size: 262_144, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 30, num_attention_heads: 8, num_key_value_heads: 4,
  head_dim: 256, max_position_embeddings: 131_072, sliding_window: 512, final_logit_softcapping: null,
}

/** A Gemma4ForConditionalGeneration config.json as its language model's: text_config, with the top level's dtype, ids and tying. */
export function gemma4LanguageModel(config: Json, source: string): Json {
  const text = config.text_config
  if (!isObject(text)) throw new ModelLoadError(`${source}: Gemma4ForConditionalGeneration needs a "text_config" object.`)
  const inherited = Object.fromEntries(['torch_dtype', 'dtype', 'eos_token_id', 'bos_token_id', 'pad_token_id', 'tie_word_embeddings'].flatMap((key) => (config[key] !== undefined ? [[key, config[key]]] : [])))
  return {...inherited, ...text, architectures: [GEMMA4], model_type: 'gemma4_text'}
}

/**
 * The config as the shared parser reads it (full layers' rope base as the one rope, layer_types with the last layer
 * full as Gemma4TextConfig forces it), and the Gemma 4 features. use_bidirectional_attention "all" (an encoder) is
 * refused; "vision" makes only image tokens attend both ways, so text-only serving runs it causally.
 */
export function gemma4View(raw: Json, source: string): {config: Json; features: Gemma4Features} {
  const config = {...TEXT_DEFAULTS, ...raw}
  if (config.use_bidirectional_attention === 'all') throw new ModelLoadError(`${source}: use_bidirectional_attention "all" makes Gemma 4 an encoder; only causal decoding is supported.`)
  if (config.use_bidirectional_attention != null && config.use_bidirectional_attention !== 'vision') {
    throw new ModelLoadError(`${source}: "use_bidirectional_attention" must be "vision", "all" or null, got ${quotedValue(config.use_bidirectional_attention)}.`)
  }
  const numLayers = positiveInt(config, 'num_hidden_layers', source)
  // Per-layer lists are built here, before the shared parser's own bound on the layer count.
  if (numLayers > MAX_LAYERS) throw new ModelLoadError(`${source}: "num_hidden_layers" ${numLayers} is beyond any model's (at most ${MAX_LAYERS}).`)
  const layerTypes = gemma4LayerTypes(config.layer_types, numLayers, source)
  // transformers reads a bias on q/k/v/o with attention_bias; no Gemma 4 has one, and the loader reads none.
  // Gemma4TextConfig's sliding_window is an int: a null one would leave the sliding layers unbounded.
  if (config.sliding_window === null) throw new ModelLoadError(`${source}: Gemma 4 needs a "sliding_window" (null given).`)
  if (switchOn(config, 'attention_bias', source)) throw new ModelLoadError(`${source}: "attention_bias" true (biases on Gemma 4's attention projections) is not supported.`)
  const {full, sliding} = gemma4Ropes(config.rope_parameters, source)
  const fullType = full.rope_type ?? 'default'
  if (fullType !== 'default' && fullType !== 'proportional') throw new ModelLoadError(`${source}: rope_parameters.full_attention of type ${quotedValue(fullType)} is not supported (Gemma 4 uses "proportional").`)
  const fullTheta = finitePositive(full.rope_theta ?? 1e6, 'rope_parameters.full_attention.rope_theta', source)
  const localTheta = localRopeTheta(sliding, 10000, 'rope_parameters.sliding_attention.rope_theta', 'Gemma 4', source)
  const layers = gemma4Layers(config, layerTypes, source)
  const fullHeadDim = layers[layerTypes.lastIndexOf('full_attention')]!.headDim
  const fraction = fullType === 'proportional' ? finitePositive(full.partial_rotary_factor ?? 1, 'partial_rotary_factor', source) : 1
  if (fraction > 1) throw new ModelLoadError(`${source}: partial_rotary_factor must be at most 1, got ${fraction}.`)
  const perLayerInputSize = config.hidden_size_per_layer_input === undefined ? 256 : nonNegativeInt(config, 'hidden_size_per_layer_input', source)
  const perLayerVocabSize = perLayerInputSize > 0 ? (config.vocab_size_per_layer_input === undefined ? 262_144 : positiveInt(config, 'vocab_size_per_layer_input', source)) : 0
  if (perLayerInputSize * numLayers > MAX_SIZE) throw new ModelLoadError(`${source}: hidden_size_per_layer_input ${perLayerInputSize} x ${numLayers} layers is beyond the sizes the backends take (at most ${MAX_SIZE}).`)
  if (perLayerInputSize > 0 && perLayerVocabSize < (config.vocab_size as number)) {
    throw new ModelLoadError(`${source}: vocab_size_per_layer_input ${perLayerVocabSize} is below vocab_size ${String(config.vocab_size)}: tokens past it have no per-layer input.`)
  }
  const features: Gemma4Features = {
    layers, perLayerInputSize, perLayerVocabSize, perLayerEmbeddingScale: 1,
    fullRopeAngles: Math.floor((fraction * fullHeadDim) / 2),
    fullRopeFactor: fullType === 'proportional' ? finitePositive(full.factor ?? 1, 'rope_parameters.full_attention.factor', source) : 1,
    localRopeTheta: localTheta,
    moe: switchOn(config, 'enable_moe_block', source) ? gemma4Moe(config, source) : null,
  }
  return {config: {...config, layer_types: layerTypes, rope_parameters: {rope_type: 'default', rope_theta: fullTheta}, rope_scaling: undefined}, features}
}

/** rope_parameters {full_attention, sliding_attention}, each an object (Gemma4TextConfig's defaults when null or absent). */
function gemma4Ropes(rope: unknown, source: string): {full: Json; sliding: Json} {
  if (rope == null) return {full: {rope_type: 'proportional', partial_rotary_factor: 0.25, rope_theta: 1e6}, sliding: {rope_type: 'default', rope_theta: 10000}}
  const nested = layerTypeRopes({rope_parameters: rope})
  if (nested === null || !isObject(nested.full) || !isObject((rope as Json).sliding_attention)) {
    throw new ModelLoadError(`${source}: "rope_parameters" must hold a "full_attention" and a "sliding_attention" object for Gemma 4, got ${quotedValue(rope)}.`)
  }
  return {full: nested.full, sliding: nested.sliding}
}

/** The MoE block's sizes: num_experts, top_k_experts and moe_intermediate_size, all required with enable_moe_block. */
function gemma4Moe(config: Json, source: string): Gemma4Features['moe'] {
  const numExperts = positiveInt(config, 'num_experts', source)
  const topK = positiveInt(config, 'top_k_experts', source)
  if (topK > numExperts) throw new ModelLoadError(`${source}: top_k_experts ${topK} is more than num_experts ${numExperts}.`)
  return {numExperts, topK, intermediateSize: positiveInt(config, 'moe_intermediate_size', source)}
}

/** layer_types, or Gemma4TextConfig's default (every 6th layer full); the last layer is always full. */
function gemma4LayerTypes(raw: unknown, numLayers: number, source: string): string[] {
  const given = raw ?? Array.from({length: numLayers}, (_, i) => ((i + 1) % 6 === 0 ? 'full_attention' : 'sliding_attention'))
  if (!Array.isArray(given) || given.length !== numLayers || given.some((t) => t !== 'full_attention' && t !== 'sliding_attention')) {
    throw new ModelLoadError(`${source}: "layer_types" must list "full_attention" or "sliding_attention" for each of the ${numLayers} layers.`)
  }
  return [...given.slice(0, -1), 'full_attention'] as string[]
}

/** Each layer's shape: full layers take global_head_dim (and num_global_key_value_heads with attention_k_eq_v), or per_layer_config's overrides. */
function gemma4Layers(config: Json, layerTypes: string[], source: string): Gemma4Layer[] {
  const numLayers = layerTypes.length
  const numHeads = positiveInt(config, 'num_attention_heads', source)
  const headDim = positiveInt(config, 'head_dim', source)
  const numKvHeads = config.num_key_value_heads == null ? positiveInt(config, 'num_attention_heads', source) : positiveInt(config, 'num_key_value_heads', source)
  const intermediate = positiveInt(config, 'intermediate_size', source)
  const kEqV = switchOn(config, 'attention_k_eq_v', source)
  const overrides = fullLayerOverrides(config, layerTypes, kEqV, source)
  const shared = config.num_kv_shared_layers == null ? 0 : nonNegativeInt(config, 'num_kv_shared_layers', source)
  if (shared >= numLayers) throw new ModelLoadError(`${source}: num_kv_shared_layers ${shared} leaves no layer to write the keys and values it shares (${numLayers} layers).`)
  const firstShared = numLayers - shared
  const doubleWide = switchOn(config, 'use_double_wide_mlp', source)
  return layerTypes.map((type, i) => {
    const own = overrides.get(i) ?? {}
    const sourceLayer = i < firstShared ? i : layerTypes.slice(0, firstShared).lastIndexOf(type)
    if (sourceLayer < 0) throw new ModelLoadError(`${source}: KV-shared layer ${i} (${type}) has no earlier ${type} layer to share keys and values with.`)
    const layer = {
      headDim: own.head_dim ?? headDim,
      numKvHeads: own.num_key_value_heads ?? numKvHeads,
      intermediateSize: doubleWide && i >= firstShared && firstShared > 0 ? 2 * intermediate : intermediate,
      kvSource: sourceLayer,
      kEqV: kEqV && type === 'full_attention',
    }
    if (layer.headDim % 2 !== 0) throw new ModelLoadError(`${source}: layer ${i}'s head_dim ${layer.headDim} must be even for rotary embeddings.`)
    if (numHeads % layer.numKvHeads !== 0) throw new ModelLoadError(`${source}: num_attention_heads (${numHeads}) is not a multiple of layer ${i}'s ${layer.numKvHeads} key/value heads.`)
    if (layer.intermediateSize > MAX_SIZE) throw new ModelLoadError(`${source}: layer ${i}'s double-wide MLP (${layer.intermediateSize}) is beyond the sizes the backends take (at most ${MAX_SIZE}).`)
    return layer
  })
}

/** per_layer_config {"<layer>": {head_dim, num_key_value_heads}} as transformers 5.18 saves it, or the released configs' global_head_dim / num_global_key_value_heads. */
function fullLayerOverrides(config: Json, layerTypes: string[], kEqV: boolean, source: string): Map<number, {head_dim?: number; num_key_value_heads?: number}> {
  const out = new Map<number, {head_dim?: number; num_key_value_heads?: number}>()
  const perLayer = config.per_layer_config
  if (perLayer != null) {
    if (!isObject(perLayer)) throw new ModelLoadError(`${source}: "per_layer_config" must be an object of layer indices.`)
    for (const [key, value] of Object.entries(perLayer)) {
      const layer = Number(key)
      if (!Number.isInteger(layer) || layer < 0 || layer >= layerTypes.length || !isObject(value)) throw new ModelLoadError(`${source}: per_layer_config key ${quotedValue(key)} must name a layer (0..${layerTypes.length - 1}) with an object.`)
      const unknown = Object.keys(value).filter((k) => k !== 'head_dim' && k !== 'num_key_value_heads')
      if (unknown.length > 0) throw new ModelLoadError(`${source}: per_layer_config.${key} sets ${unknown.join(', ')}; only head_dim and num_key_value_heads may differ per layer.`)
      out.set(layer, {
        ...(value.head_dim != null ? {head_dim: positiveInt(value, 'head_dim', source)} : {}),
        ...(value.num_key_value_heads != null ? {num_key_value_heads: positiveInt(value, 'num_key_value_heads', source)} : {}),
      })
    }
    return out
  }
  const globalHeadDim = config.global_head_dim == null ? 512 : positiveInt(config, 'global_head_dim', source)
  const globalKvHeads = kEqV && config.num_global_key_value_heads != null ? positiveInt(config, 'num_global_key_value_heads', source) : undefined
  layerTypes.forEach((type, i) => {
    if (type === 'full_attention') out.set(i, {head_dim: globalHeadDim, ...(globalKvHeads !== undefined ? {num_key_value_heads: globalKvHeads} : {})})
  })
  return out
}

/** The ModelConfig fields Gemma 4 sets its own way: norms scale by the weight itself, scores are q.k unscaled, no attention soft cap. */
export function gemma4ModelFields(config: Json, features: Gemma4Features, torchDtype: string, source: string): Json {
  const cap = config.final_logit_softcapping
  const perLayerEmbeddingScale = features.perLayerInputSize > 0 ? gemmaEmbeddingScale(features.perLayerInputSize, torchDtype) : 1
  return {gemma4: {...features, perLayerEmbeddingScale}, normWeightOffset: 0, sandwichNorms: true, attentionScale: 1, attnLogitSoftcap: 0, finalLogitSoftcap: cap == null ? 0 : finitePositive(cap, 'final_logit_softcapping', source)}
}

/** Floats of K and V one token takes in the cache: only the layers that write keys and values count. */
export function gemma4KvFloatsPerToken(features: Gemma4Features): number {
  return features.layers.reduce((sum, layer, i) => sum + (layer.kvSource === i ? 2 * layer.numKvHeads * layer.headDim : 0), 0)
}

function positiveInt(config: Json, key: string, source: string): number {
  const value = config[key]
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > 2 ** 31 - 1) throw new ModelLoadError(`${source}: "${key}" must be a positive integer, got ${quotedValue(value)}.`)
  return value
}

function nonNegativeInt(config: Json, key: string, source: string): number {
  const value = config[key] ?? 0
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1) throw new ModelLoadError(`${source}: "${key}" must be a non-negative integer, got ${quotedValue(value)}.`)
  return value
}

function finitePositive(value: unknown, key: string, source: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ModelLoadError(`${source}: "${key}" must be a positive number, got ${quotedValue(value)}.`)
  return value
}

