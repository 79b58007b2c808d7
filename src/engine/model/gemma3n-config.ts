// Gemma 3n's config.json (Gemma3nTextConfig, transformers 5.18) as Gemma 4's features (gemma4-config.ts: per-layer
// inputs, KV-shared layers, v norms, norms by the weight, unscaled scores) plus what Gemma 3n adds: AltUp's parallel
// streams, LAuReL's low-rank residual and the gaussian top-k cut of early layers' MLP gates (gemma3n-tensors.ts names
// the tensors; native/cpu/gemma3n_forward.cpp runs them).
import {ModelLoadError, quotedValue} from '../errors.js'
import {isObject} from './rope-scaling.js'
import {switchOn} from './config-switch.js'
import type {Gemma4Features, Gemma4Layer} from './gemma4-config.js'

type Json = Record<string, unknown>

export const GEMMA3N = 'Gemma3nForCausalLM'
const MAX_SIZE = 2 ** 31 - 1

export interface Gemma3nFeatures {
  /** altup_num_inputs: the parallel streams AltUp keeps; the layer runs on stream altupActiveIdx. */
  altupInputs: number
  altupActiveIdx: number
  /** altup_correct_scale: the active stream's correction is scaled by correct_output_scale before the per-layer input gate. */
  altupCorrectScale: boolean
  laurelRank: number
  /** activation_sparsity_pattern: per layer, the share of gate activations cut (0: none). */
  activationSparsity: number[]
}

/** Gemma3nTextConfig's defaults where a config.json may leave keys out. */
const TEXT_DEFAULTS: Json = {
  vocab_size: 262_400, hidden_size: 2048, intermediate_size: 16_384, num_hidden_layers: 35, num_attention_heads: 8, num_key_value_heads: 2,
  head_dim: 256, hidden_activation: 'gelu_pytorch_tanh', max_position_embeddings: 32_768, rms_norm_eps: 1e-6, pad_token_id: 0, eos_token_id: 1,
  bos_token_id: 2, tie_word_embeddings: true, sliding_window: 512, final_logit_softcapping: 30.0,
}

/** A Gemma3nForConditionalGeneration config.json as its language model's: text_config, with the top level's dtype, ids and tying. */
export function gemma3nLanguageModel(config: Json, source: string): Json {
  const text = config.text_config
  if (!isObject(text)) throw new ModelLoadError(`${source}: Gemma3nForConditionalGeneration needs a "text_config" object.`)
  const inherited = Object.fromEntries(['torch_dtype', 'dtype', 'eos_token_id', 'bos_token_id', 'pad_token_id', 'tie_word_embeddings'].flatMap((key) => (config[key] !== undefined ? [[key, config[key]]] : [])))
  return {...inherited, ...text, architectures: [GEMMA3N], model_type: 'gemma3n_text'}
}

/**
 * The config as the shared parser reads it (intermediate_size as its first layer's, layer_types as given or every 5th
 * full, the full layers' rope base as the one rope), Gemma 4's features it shares and Gemma 3n's own.
 */
export function gemma3nView(raw: Json, source: string): {config: Json; features: Gemma4Features; gemma3n: Gemma3nFeatures; note?: string} {
  const config = {...TEXT_DEFAULTS, ...raw}
  const numLayers = positiveInt(config, 'num_hidden_layers', source)
  const layerTypes = config.layer_types ?? Array.from({length: numLayers}, (_, i) => ((i + 1) % 5 === 0 ? 'full_attention' : 'sliding_attention'))
  if (!Array.isArray(layerTypes) || layerTypes.length !== numLayers || layerTypes.some((t) => t !== 'full_attention' && t !== 'sliding_attention')) {
    throw new ModelLoadError(`${source}: "layer_types" must list "full_attention" or "sliding_attention" for each of the ${numLayers} layers.`)
  }
  if (switchOn(config, 'attention_bias', source)) throw new ModelLoadError(`${source}: "attention_bias" true (biases on Gemma 3n's attention projections) is not supported.`)
  if (config.sliding_window === null) throw new ModelLoadError(`${source}: Gemma 3n needs a "sliding_window" (null given).`)
  const {fullTheta, localTheta} = gemma3nRopes(config, source)
  const intermediate = perLayerSizes(config.intermediate_size, numLayers, source)
  const layers = sharedKvLayers(config, layerTypes as string[], intermediate, source)
  const perLayerInputSize = positiveInt(config, 'hidden_size_per_layer_input', source, 256)
  const perLayerVocabSize = positiveInt(config, 'vocab_size_per_layer_input', source, 262_144)
  if (perLayerInputSize * numLayers > MAX_SIZE) throw new ModelLoadError(`${source}: hidden_size_per_layer_input ${perLayerInputSize} x ${numLayers} layers is beyond the sizes the backends take (at most ${MAX_SIZE}).`)
  const headDim = layers[0]!.headDim
  const features: Gemma4Features = {
    layers, perLayerInputSize, perLayerVocabSize, perLayerEmbeddingScale: 1, fullRopeAngles: headDim / 2, fullRopeFactor: 1, localRopeTheta: localTheta, moe: null,
  }
  const altupInputs = positiveInt(config, 'altup_num_inputs', source, 4)
  if (altupInputs ** 3 > MAX_SIZE) throw new ModelLoadError(`${source}: "altup_num_inputs" ${altupInputs} makes prediction_coefs (${altupInputs}^2 x ${altupInputs}) beyond the sizes the backends take (at most ${MAX_SIZE}).`)
  const altupActiveIdx = nonNegativeInt(config, 'altup_active_idx', source)
  if (altupActiveIdx >= altupInputs) throw new ModelLoadError(`${source}: "altup_active_idx" ${altupActiveIdx} names no stream of altup_num_inputs ${altupInputs}.`)
  // altup_coef_clip clamps the coefficients in training only; a value is checked, never applied.
  if (config.altup_coef_clip !== undefined && (typeof config.altup_coef_clip !== 'number' || !Number.isFinite(config.altup_coef_clip))) {
    throw new ModelLoadError(`${source}: "altup_coef_clip" must be a number, got ${quotedValue(config.altup_coef_clip)}.`)
  }
  // Gemma3nTextConfig's fields are typed: null where a number is due is refused, as transformers refuses it.
  if (config.final_logit_softcapping === null) throw new ModelLoadError(`${source}: "final_logit_softcapping" must be a positive number for Gemma 3n (null given).`)
  const gemma3n: Gemma3nFeatures = {
    altupInputs, altupActiveIdx, altupCorrectScale: flag(config, 'altup_correct_scale', source, true),
    laurelRank: positiveInt(config, 'laurel_rank', source, 64), activationSparsity: sparsityPattern(config.activation_sparsity_pattern, numLayers, source),
  }
  const view = {...config, intermediate_size: intermediate[0], layer_types: layerTypes, rope_parameters: {rope_type: 'default', rope_theta: fullTheta}, rope_scaling: undefined}
  // Released checkpoints' vocabularies end in the towers' soft tokens (262144 on), past the per-layer table: Gemma3nModel
  // gives them per-layer row 0 and its towers' embeddings, which a text-only load does not have.
  const vocab = config.vocab_size as number
  const note = perLayerVocabSize < vocab ? `Gemma 3n: token ids ${perLayerVocabSize}..${vocab - 1} (the vision and audio towers' soft tokens) take per-layer input row 0 and their text embedding; the towers are not loaded.` : undefined
  return {config: view, features, gemma3n, ...(note ? {note} : {})}
}

/** rope_parameters {full_attention, sliding_attention}, both default ropes, or (older configs) rope_theta and rope_local_base_freq. */
function gemma3nRopes(config: Json, source: string): {fullTheta: number; localTheta: number} {
  if (config.rope_scaling != null) throw new ModelLoadError(`${source}: "rope_scaling" ${quotedValue(config.rope_scaling)} is not supported (Gemma 3n's layers use the default rope).`)
  const rope = config.rope_parameters ?? {}
  // One rope for every layer (a flat {rope_type, rope_theta}) is not how Gemma3nTextConfig reads it: refused, not guessed at.
  if (!isObject(rope) || Object.keys(rope).some((k) => k !== 'full_attention' && k !== 'sliding_attention')) {
    throw new ModelLoadError(`${source}: "rope_parameters" must hold only "full_attention" and "sliding_attention" objects for Gemma 3n, got ${quotedValue(rope)}.`)
  }
  const theta = (kind: 'full_attention' | 'sliding_attention', legacyKey: string, fallback: number): number => {
    const params = rope[kind] ?? {}
    if (!isObject(params)) throw new ModelLoadError(`${source}: rope_parameters.${kind} must be an object, got ${quotedValue(params)}.`)
    const type = params.rope_type === undefined ? 'default' : params.rope_type
    if (type !== 'default') throw new ModelLoadError(`${source}: rope_parameters.${kind} of type ${quotedValue(type)} is not supported (Gemma 3n's layers use the default rope).`)
    // An absent base falls back (to the older key, then the class default); a null one is refused, as transformers fails on it.
    const value = params.rope_theta !== undefined ? params.rope_theta : config[legacyKey] !== undefined ? config[legacyKey] : fallback
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ModelLoadError(`${source}: rope_parameters.${kind}.rope_theta must be a positive number, got ${quotedValue(value)}.`)
    return value
  }
  return {fullTheta: theta('full_attention', 'rope_theta', 1e6), localTheta: theta('sliding_attention', 'rope_local_base_freq', 1e4)}
}

/** intermediate_size: one size for every layer or a list of one per layer. */
function perLayerSizes(value: unknown, numLayers: number, source: string): number[] {
  const sizes = Array.isArray(value) ? value : Array.from({length: numLayers}, () => value)
  if (sizes.length !== numLayers || sizes.some((s) => typeof s !== 'number' || !Number.isInteger(s) || s <= 0 || s > MAX_SIZE)) {
    throw new ModelLoadError(`${source}: "intermediate_size" must be a positive integer or a list of one per layer (${numLayers}), got ${quotedValue(value)}.`)
  }
  return sizes as number[]
}

/** Every layer of one shape; the last num_kv_shared_layers read the last earlier writing layer of their type. */
function sharedKvLayers(config: Json, layerTypes: string[], intermediate: number[], source: string): Gemma4Layer[] {
  const numLayers = layerTypes.length
  const numHeads = positiveInt(config, 'num_attention_heads', source)
  const headDim = positiveInt(config, 'head_dim', source)
  const numKvHeads = positiveInt(config, 'num_key_value_heads', source)
  if (headDim % 2 !== 0) throw new ModelLoadError(`${source}: "head_dim" ${headDim} must be even for rotary embeddings.`)
  if (numHeads % numKvHeads !== 0) throw new ModelLoadError(`${source}: num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads}).`)
  // Gemma3nTextConfig.validate_architecture's check, though head_dim is its own key.
  if (typeof config.hidden_size === 'number' && config.hidden_size % numHeads !== 0) throw new ModelLoadError(`${source}: "hidden_size" ${config.hidden_size} is not a multiple of num_attention_heads (${numHeads}), as Gemma3nTextConfig requires.`)
  const shared = nonNegativeInt(config, 'num_kv_shared_layers', source, 15)
  // transformers finds no writing layer (an error) when every layer would share.
  if (shared >= numLayers) throw new ModelLoadError(`${source}: num_kv_shared_layers ${shared} leaves no layer to write the keys and values it shares (${numLayers} layers).`)
  const firstShared = numLayers - shared
  return layerTypes.map((type, i) => {
    const kvSource = i < firstShared ? i : layerTypes.slice(0, firstShared).lastIndexOf(type)
    if (kvSource < 0) throw new ModelLoadError(`${source}: KV-shared layer ${i} (${type}) has no earlier ${type} layer to share keys and values with.`)
    return {headDim, numKvHeads, intermediateSize: intermediate[i]!, kvSource, kEqV: false}
  })
}

/** activation_sparsity_pattern: one share in [0, 1) per layer; by default 0.95 on the first 10 layers of a model of more than 10. */
function sparsityPattern(value: unknown, numLayers: number, source: string): number[] {
  if (value == null) return Array.from({length: numLayers}, (_, i) => (numLayers > 10 && i < 10 ? 0.95 : 0))
  if (!Array.isArray(value) || value.length !== numLayers || value.some((s) => typeof s !== 'number' || !(s >= 0 && s < 1))) {
    throw new ModelLoadError(`${source}: "activation_sparsity_pattern" must list a share in [0, 1) for each of the ${numLayers} layers, got ${quotedValue(value)}.`)
  }
  return value as number[]
}

/** config[key], or `fallback` when the key is absent (a null is a value, refused by the callers as transformers refuses it). */
function given(config: Json, key: string, fallback: unknown): unknown {
  return config[key] === undefined ? fallback : config[key]
}

function positiveInt(config: Json, key: string, source: string, fallback?: number): number {
  const value = given(config, key, fallback)
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > MAX_SIZE) throw new ModelLoadError(`${source}: "${key}" must be a positive integer, got ${quotedValue(value)}.`)
  return value
}

function nonNegativeInt(config: Json, key: string, source: string, fallback = 0): number {
  const value = given(config, key, fallback)
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_SIZE) throw new ModelLoadError(`${source}: "${key}" must be a non-negative integer, got ${quotedValue(value)}.`)
  return value
}

function flag(config: Json, key: string, source: string, fallback: boolean): boolean {
  const value = given(config, key, fallback)
  if (typeof value !== 'boolean') throw new ModelLoadError(`${source}: "${key}" must be true or false, got ${quotedValue(value)}.`)
  return value
}
