// Qwen 3.5's hybrid layout as the engine reads it: Gated DeltaNet (linear attention) layers among gated full-attention
// ones (layer_types; by default every 4th layer full), the linear layers' sizes, and the text model of a
// Qwen3_5ForConditionalGeneration checkpoint. Facts from transformers 5.18's Qwen3_5TextConfig and modeling code.
import {ModelLoadError, quotedValue} from '../errors.js'
import {isObject} from './rope-scaling.js'
import type {Mamba2Features} from './mamba2-config.js'
import type {ShortConvFeatures} from './lfm2-config.js'
import type {Mamba1Features} from './mamba1-config.js'
import type {Zamba2Features} from './zamba2-config.js'
import {switchOn} from './config-switch.js'
import {configSize} from './config-size.js'

type Json = Record<string, unknown>

export const QWEN35 = 'Qwen3_5ForCausalLM'
/** The hybrid text models, and the multimodal checkpoints whose text_config is one (each to its text architecture). */
export const QWEN3_NEXT = 'Qwen3NextForCausalLM'
export const HYBRID_ARCHITECTURES = new Set([QWEN35, 'Qwen3_5MoeForCausalLM', QWEN3_NEXT])
export const HYBRID_MULTIMODAL: Record<string, string> = {Qwen3_5ForConditionalGeneration: QWEN35, Qwen3_5MoeForConditionalGeneration: 'Qwen3_5MoeForCausalLM'}

/** The hybrid layers (native/cpu/hybrid_layers.h): which are Gated DeltaNet, their sizes, and the attention's output gate. */
export interface HybridFeatures {
  /** [numLayers]: true for a Gated DeltaNet layer (a recurrent state per sequence, no KV cache). */
  linearLayers: boolean[]
  /** Full-attention layers: q_proj gives each head's query and a gate; the output is multiplied by sigmoid(gate). */
  attentionOutputGate: boolean
  linearNumKeyHeads: number
  linearNumValueHeads: number
  linearKeyHeadDim: number
  linearValueHeadDim: number
  /** The causal depthwise conv1d's kernel (its state holds kernel - 1 tokens). */
  convKernel: number
  /** Qwen3-Next: in_proj_qkvz and in_proj_ba, rows grouped by key head; else (Qwen 3.5) in_proj_qkv, _z, _b, _a. */
  groupedProjections: boolean
  /** A GGUF qwen3next file: qkvz as llama.cpp's converter splits it, in_proj_qkv and in_proj_z (as Qwen 3.5's), beside in_proj_ba. */
  qkvzApart?: true
  /** A GGUF qwen35 / qwen35moe file: value heads tiled over the key heads (value head h reads key head h % key heads), as llama.cpp's converter reorders them. */
  valueHeadsTiled?: true
  /** Granite 4.0 hybrid, Bamba, Mamba2: the linear layers are Mamba-2 mixers of these sizes (mamba2-config.ts; the linear* sizes are 0). */
  mamba2?: Mamba2Features
  /** LFM2: the linear layers are gated short convolutions over hidden_size channels (lfm2-config.ts; the linear* sizes are 0). */
  shortConv?: ShortConvFeatures
  /** Mamba, Falcon-Mamba, Jamba: the linear layers are Mamba-1 mixers of these sizes (mamba1-config.ts; the linear* sizes are 0). */
  mamba1?: Mamba1Features
  /** Kimi Linear: the linear layers are Kimi Delta Attention (kimi-linear-config.ts), key and value heads the same heads. */
  kimiDelta?: true
  /** OLMo Hybrid: beta times betaScale (2: linear_allow_neg_eigval), the gated norm's own eps, q/k/v/a/b/g projections apart, and its attention layers post-norm only (olmo-hybrid-config.ts). */
  olmoHybrid?: {betaScale: number; gatedNormEps: number}
  /** Zamba2: every layer a Mamba-2 mixer (mamba2), some first running a shared transformer block (zamba2-config.ts). */
  zamba2?: Zamba2Features
}

/**
 * Qwen3_5TextConfig's view for the shared parser: its head_dim (256) and partial_rotary_factor (0.25) defaults. The
 * rope is mrope over (t, h, w) positions, which are one position for text, so it is plain rope over the rotated part.
 */
export function qwen35View(config: Json, architecture: string): Json {
  const rope = isObject(config.rope_parameters) ? config.rope_parameters : null
  const factor = rope?.partial_rotary_factor ?? config.partial_rotary_factor ?? 0.25
  // Qwen3_5MoeTextConfig has no intermediate_size (every MLP is sparse): the experts' width stands in for it.
  const moe = architecture === 'Qwen3_5MoeForCausalLM' && config.intermediate_size == null ? {intermediate_size: config.moe_intermediate_size ?? 512} : {}
  return {head_dim: 256, ...config, ...moe, rope_parameters: {rope_type: 'default', rope_theta: config.rope_theta ?? 10000, ...(rope ?? {}), partial_rotary_factor: factor}}
}

/** A Qwen 3.5 (MoE) ForConditionalGeneration config.json as its language model's: text_config, with the top level's dtype, ids and tying where it has none. */
export function qwen35LanguageModel(config: Json, architecture: string, source: string): Json {
  const text = config.text_config
  if (!isObject(text)) throw new ModelLoadError(`${source}: ${architecture} needs a "text_config" object.`)
  const inherited = Object.fromEntries(['torch_dtype', 'dtype', 'eos_token_id', 'bos_token_id', 'pad_token_id', 'tie_word_embeddings'].flatMap((key) => (config[key] !== undefined ? [[key, config[key]]] : [])))
  return {...inherited, ...text, architectures: [HYBRID_MULTIMODAL[architecture]!]}
}

/** layer_types (or full_attention_interval, default 4) and the linear layers' sizes, each checked. */
export function parseHybrid(config: Json, architecture: string, numLayers: number, source: string): HybridFeatures {
  const size = (key: string, fallback: number): number => configSize(config, key, fallback, source)
  // Qwen3_5Attention puts biases on q/k/v/o_proj when it is on; the gated attention here has none.
  if (switchOn(config, 'attention_bias', source)) throw new ModelLoadError(`${source}: "attention_bias" true is not supported for ${architecture} (its gated attention runs without biases).`)
  const features: HybridFeatures = {
    linearLayers: linearLayers(config, numLayers, source),
    attentionOutputGate: true,
    linearNumKeyHeads: size('linear_num_key_heads', 16),
    linearNumValueHeads: size('linear_num_value_heads', 32),
    linearKeyHeadDim: size('linear_key_head_dim', 128),
    linearValueHeadDim: size('linear_value_head_dim', 128),
    convKernel: size('linear_conv_kernel_dim', 4),
    groupedProjections: architecture === QWEN3_NEXT,
  }
  if (features.linearNumValueHeads % features.linearNumKeyHeads !== 0) {
    throw new ModelLoadError(`${source}: linear_num_value_heads (${features.linearNumValueHeads}) is not a multiple of linear_num_key_heads (${features.linearNumKeyHeads}).`)
  }
  return features
}

function linearLayers(config: Json, numLayers: number, source: string): boolean[] {
  const types = config.layer_types
  if (types == null) {
    const interval = config.full_attention_interval ?? 4
    if (typeof interval !== 'number' || !Number.isInteger(interval) || interval <= 0) {
      throw new ModelLoadError(`${source}: "full_attention_interval" must be a positive integer, got ${quotedValue(interval)}.`)
    }
    return Array.from({length: numLayers}, (_, i) => (i + 1) % interval !== 0)
  }
  if (!Array.isArray(types) || types.length !== numLayers || types.some((t) => t !== 'linear_attention' && t !== 'full_attention')) {
    throw new ModelLoadError(`${source}: "layer_types" must list "linear_attention" or "full_attention" for each of the ${numLayers} layers.`)
  }
  return types.map((t) => t === 'linear_attention')
}

/** Layers with a KV cache: the full-attention ones (all of a model without linear layers, Falcon-H1's, attention beside each mixer, and Zamba2's with a shared block). */
export function kvLayerCount(config: {numLayers: number; hybrid?: HybridFeatures}): number {
  if (config.hybrid?.zamba2) return config.hybrid.zamba2.sharedBlocks.filter((block) => block >= 0).length
  return config.hybrid && !config.hybrid.mamba2?.falconH1 ? config.hybrid.linearLayers.filter((linear) => !linear).length : config.numLayers
}
