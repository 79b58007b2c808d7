// Llama 4 text (Llama4ForCausalLM, and the language model of Llama4ForConditionalGeneration) as transformers 5.18's
// Llama4TextConfig and modeling read it: Llama's block with NoPE layers (no_rope_layers 0) that attend globally and
// scale their queries by a temperature of the position, rope layers (interleaved pairs) that attend within chunks of
// attention_chunk_size positions and RMS-normalise q and k without weights after rope (use_qk_norm), and sparse MLPs
// on moe_layers (moe-config.ts: sigmoid top-k scores weighing each expert's input, an ungated shared expert; the dense
// layers are intermediate_size_mlp wide). Its checkpoint's names: llama4-tensors.ts.
import {ModelLoadError, quotedValue} from '../errors.js'
import {isObject} from './rope-scaling.js'
import {switchValue} from './config-switch.js'

export const LLAMA4 = 'Llama4ForCausalLM'
export const LLAMA4_MULTIMODAL = 'Llama4ForConditionalGeneration'

type Json = Record<string, unknown>

/** What sets Llama 4's attention apart; ModelConfig.llama4 holds it (native/cpu/llama4_layers.h runs it). */
export interface Llama4Features {
  /** Per layer: whether it rotates q and k (no_rope_layers 1); the others (NoPE) attend to the whole context. */
  ropeLayers: boolean[]
  /** ModelConfig.layerWindows holds attention chunks: a query at p sees keys from p - p % chunk to p. */
  chunkedAttention: boolean
  /** use_qk_norm: q and k heads of the rope layers are RMS-normalised without weights after rope (Llama4TextL2Norm). */
  ropeLayerQkNorm: boolean
  /** attn_temperature_tuning: NoPE layers' queries times log1p(floor((p + 1) / attnFloorScale)) * this + 1; 0: none. */
  attnTemperatureScale: number
  attnFloorScale: number
}

/** Llama4TextConfig's defaults for the keys the shared parser reads (and default_theta 500000). */
const TEXT_DEFAULTS: Json = {
  vocab_size: 202048, hidden_size: 5120, num_hidden_layers: 48, num_attention_heads: 40, num_key_value_heads: 8,
  head_dim: 128, rms_norm_eps: 1e-5, bos_token_id: 1, eos_token_id: 2, max_position_embeddings: 4096 * 32,
}

/**
 * The config.json as the shared parser reads it: the class's defaults where keys are left out, the dense MLPs'
 * intermediate_size_mlp as intermediate_size and the experts' (and shared expert's) intermediate_size as
 * moe_intermediate_size.
 */
export function llama4View(config: Json, source: string): Json {
  const out: Json = {...config}
  for (const [key, value] of Object.entries(TEXT_DEFAULTS)) if (!(key in config)) out[key] = value
  const ropeTheta = isObject(config.rope_parameters) ? config.rope_parameters.rope_theta : undefined
  if (config.rope_theta === undefined && ropeTheta === undefined) out.rope_theta = 500000
  const dense = config.intermediate_size_mlp ?? 16384
  if (typeof dense !== 'number' || !Number.isInteger(dense) || dense <= 0) throw new ModelLoadError(`${source}: "intermediate_size_mlp" must be a positive integer, got ${quotedValue(dense)}.`)
  out.intermediate_size = dense
  out.moe_intermediate_size = config.intermediate_size ?? 8192
  return out
}

/** A Llama4ForConditionalGeneration config.json as its language model's: text_config, with the top level's dtype and token ids where it has none. */
export function llama4LanguageModel(config: Json, source: string): Json {
  const text = config.text_config
  if (!isObject(text)) throw new ModelLoadError(`${source}: ${LLAMA4_MULTIMODAL} needs a "text_config" object.`)
  const inherited = Object.fromEntries(['torch_dtype', 'dtype', 'eos_token_id', 'bos_token_id', 'pad_token_id', 'tie_word_embeddings'].flatMap((key) => (config[key] !== undefined ? [[key, config[key]]] : [])))
  return {...inherited, ...text, architectures: [LLAMA4], model_type: 'llama4_text'}
}

/** The attention features and per-layer chunks (layerWindows: the chunk on chunked layers, 0 on global ones). */
export function llama4Attention(config: Json, numLayers: number, source: string): {llama4: Llama4Features; layerWindows?: number[]} {
  const ropeLayers = noRopeLayers(config, numLayers, source)
  const chunked = chunkedLayers(config, ropeLayers, source)
  const chunk = config.attention_chunk_size === undefined ? 8192 : config.attention_chunk_size
  // transformers builds the chunked mask for every model and refuses a missing chunk size.
  if (typeof chunk !== 'number' || !Number.isInteger(chunk) || chunk <= 0) {
    throw new ModelLoadError(`${source}: "attention_chunk_size" must be a positive integer, got ${quotedValue(chunk)}.`)
  }
  // Meta's own configs write 4 (transformers 4.51's default), which its modeling read as a switch: a non-zero number is on.
  const tuningValue = config.attn_temperature_tuning ?? true
  if (typeof tuningValue !== 'boolean' && (typeof tuningValue !== 'number' || !Number.isFinite(tuningValue))) {
    throw new ModelLoadError(`${source}: "attn_temperature_tuning" must be true or false, got ${quotedValue(tuningValue)}.`)
  }
  const tuning = tuningValue !== false && tuningValue !== 0
  const attnScale = number(config, 'attn_scale', 0.1, source)
  const floorScale = config.floor_scale ?? 8192
  if (typeof floorScale !== 'number' || !Number.isInteger(floorScale) || floorScale <= 0 || floorScale > 2 ** 31 - 1) {
    throw new ModelLoadError(`${source}: "floor_scale" must be a positive integer, got ${quotedValue(floorScale)}.`)
  }
  if (attnScale < 0) throw new ModelLoadError(`${source}: "attn_scale" must not be negative, got ${attnScale}.`)
  const llama4: Llama4Features = {
    ropeLayers,
    chunkedAttention: chunked.some(Boolean),
    ropeLayerQkNorm: switchValue(config, 'use_qk_norm', true, source),
    attnTemperatureScale: tuning ? attnScale : 0,
    attnFloorScale: floorScale,
  }
  // A chunk past any context is one chunk: the backends take windows as 32-bit integers.
  const window = Math.min(chunk, 2 ** 31 - 1)
  return llama4.chunkedAttention ? {llama4, layerWindows: chunked.map((c) => (c ? window : 0))} : {llama4}
}

/** no_rope_layers (1: rope, 0: NoPE; at least one per layer), or when empty every no_rope_layer_interval-th layer NoPE. */
function noRopeLayers(config: Json, numLayers: number, source: string): boolean[] {
  const given = config.no_rope_layers
  if (Array.isArray(given) && given.length > 0) {
    if (given.length < numLayers || given.some((v) => v !== 0 && v !== 1 && typeof v !== 'boolean')) {
      throw new ModelLoadError(`${source}: "no_rope_layers" must list 1 (rope) or 0 (no rope) for each of the ${numLayers} layers.`)
    }
    return given.slice(0, numLayers).map((v) => v === 1 || v === true)
  }
  if (given != null && !Array.isArray(given)) throw new ModelLoadError(`${source}: "no_rope_layers" must be a list, got ${quotedValue(given)}.`)
  const interval = config.no_rope_layer_interval ?? 4
  if (typeof interval !== 'number' || !Number.isInteger(interval) || interval <= 0) {
    throw new ModelLoadError(`${source}: "no_rope_layer_interval" must be a positive integer, got ${quotedValue(interval)}.`)
  }
  return Array.from({length: numLayers}, (_, i) => (i + 1) % interval !== 0)
}

/** layer_types ("chunked_attention" / "full_attention"), by default chunked exactly on the rope layers. */
function chunkedLayers(config: Json, ropeLayers: boolean[], source: string): boolean[] {
  const types = config.layer_types
  if (types == null) return ropeLayers
  if (!Array.isArray(types) || types.length !== ropeLayers.length || types.some((t) => t !== 'chunked_attention' && t !== 'full_attention')) {
    throw new ModelLoadError(`${source}: "layer_types" must list "chunked_attention" or "full_attention" for each of the ${ropeLayers.length} layers.`)
  }
  return types.map((t) => t === 'chunked_attention')
}

/** moe_layers (layer indices), else every interleave_moe_layer_step-th layer from step - 1 on. */
export function llama4SparseLayers(config: Json, numLayers: number, source: string): boolean[] {
  const listed = config.moe_layers
  if (listed != null) {
    if (!Array.isArray(listed) || listed.some((l) => typeof l !== 'number' || !Number.isInteger(l))) {
      throw new ModelLoadError(`${source}: "moe_layers" must be a list of layer indices, got ${quotedValue(listed)}.`)
    }
    return Array.from({length: numLayers}, (_, layer) => listed.includes(layer))
  }
  const step = config.interleave_moe_layer_step ?? 1
  if (typeof step !== 'number' || !Number.isInteger(step) || step <= 0) {
    throw new ModelLoadError(`${source}: "interleave_moe_layer_step" must be a positive integer, got ${quotedValue(step)}.`)
  }
  return Array.from({length: numLayers}, (_, layer) => (layer + 1) % step === 0)
}


function number(config: Json, key: string, fallback: number, source: string): number {
  const value = config[key] ?? fallback
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ModelLoadError(`${source}: "${key}" must be a number, got ${quotedValue(value)}.`)
  return value
}
