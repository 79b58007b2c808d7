// Mamba-2 hybrids as the engine reads them: IBM Granite 4.0 hybrid (GraniteMoeHybrid: Mamba-2 layers among attention
// ones, Granite's multipliers, MoE or dense shared_mlp), Bamba (attention at attn_layer_indices) and Mamba2 (every
// layer a mixer, no attention and no MLP). Facts from transformers 5.18's config classes; their mixers run on
// native/cpu/mamba2_mixer.cpp in the hybrid machinery's state slots (HybridFeatures.mamba2).
import {ModelLoadError, quotedValue} from '../errors.js'
import type {HybridFeatures} from './qwen35-config.js'
import {switchOn, switchValue} from './config-switch.js'
import {configSize} from './config-size.js'

type Json = Record<string, unknown>

export const GRANITE_HYBRID = 'GraniteMoeHybridForCausalLM'
export const BAMBA = 'BambaForCausalLM'
export const MAMBA2 = 'Mamba2ForCausalLM'
export const MAMBA2_ARCHITECTURES = new Set([GRANITE_HYBRID, BAMBA, MAMBA2])

/** One Mamba-2 mixer's sizes (native/include/pagedllm/mamba2_config.h). */
export interface Mamba2Features {
  heads: number
  headDim: number
  /** n_groups: heads / groups heads share one B and one C. */
  groups: number
  stateSize: number
  convKernel: number
  /** The gated RMSNorm normalises groups of this many values (transformers' Bamba / Granite / Mamba2 mixers: the whole inner width). */
  normGroup: number
  convBias: boolean
  /** time_step_limit: softplus(dt + dt_bias) is clamped to [dtMin, dtMax]. */
  dtMin: number
  dtMax: number
  /** Mamba2ForCausalLM: a layer is its norm and mixer, no MLP. */
  noMlp: boolean
  /** Nemotron-H: per layer, whether an MLP follows its mixer (nemotron-h-config.ts); absent: every layer's does (unless noMlp). */
  mlpLayers?: boolean[]
  /** How y meets the gate z (absent: 'gate-then-norm', weight * rms_groups(y * silu(z))); Falcon-H1's others (falcon-h1-config.ts). */
  gatedNorm?: 'gate-then-norm' | 'norm-then-gate' | 'gate-only'
  /** Falcon-H1: attention beside every mixer, and its muP multipliers (native mamba2_config.h FalconH1Multipliers). */
  falconH1?: FalconH1Multipliers
}

/** Falcon-H1's multipliers inside its layers (falcon-h1-config.ts). */
export interface FalconH1Multipliers {
  /** in_proj's z, x, B, C and dt parts: ssm_in_multiplier x ssm_multipliers. */
  inProj: number[]
  ssmOut: number
  attentionIn: number
  attentionOut: number
  key: number
  mlpGate: number
  mlpDown: number
}

/** Whether layer `layer` of a Mamba-2 hybrid has an MLP after its mixer. */
export function mamba2HasMlp(m: Mamba2Features, layer: number): boolean {
  return !m.noMlp && (m.mlpLayers?.[layer] ?? true)
}

/** The keys each config class names its mixer's settings by, with its defaults. */
const MIXER_KEYS: Record<string, {heads: [string, number]; headDim: [string, number | 'auto']; groups: [string, number]; state: [string, number]; conv: [string, number]; expand: [string, number]; convBias: string; projBias: string}> = {
  [GRANITE_HYBRID]: {heads: ['mamba_n_heads', 128], headDim: ['mamba_d_head', 'auto'], groups: ['mamba_n_groups', 1], state: ['mamba_d_state', 256], conv: ['mamba_d_conv', 4], expand: ['mamba_expand', 2], convBias: 'mamba_conv_bias', projBias: 'mamba_proj_bias'},
  [BAMBA]: {heads: ['mamba_n_heads', 128], headDim: ['mamba_d_head', 'auto'], groups: ['mamba_n_groups', 1], state: ['mamba_d_state', 256], conv: ['mamba_d_conv', 4], expand: ['mamba_expand', 2], convBias: 'mamba_conv_bias', projBias: 'mamba_proj_bias'},
  [MAMBA2]: {heads: ['num_heads', 128], headDim: ['head_dim', 64], groups: ['n_groups', 8], state: ['state_size', 128], conv: ['conv_kernel', 4], expand: ['expand', 2], convBias: 'use_conv_bias', projBias: 'use_bias'},
}

/** GraniteMoeHybrid with num_local_experts 0: every layer's MLP is the dense shared_mlp. */
export function isDenseGraniteHybrid(config: Json, architecture: string): boolean {
  return architecture === GRANITE_HYBRID && config.num_local_experts === 0
}

/**
 * The config as the shared parser reads it, with each class's defaults: Granite's MLP width (shared_intermediate_size
 * when dense), Bamba's fixed partial_rotary_factor 0.5 and eps 1e-5, Mamba2's eps name and one placeholder head for
 * the attention it has none of (no layer attends, so no KV cache is kept).
 */
export function mamba2View(config: Json, architecture: string, source: string): Json {
  refuseUnsupported(config, architecture, source)
  if (architecture === GRANITE_HYBRID) {
    const shared = config.shared_intermediate_size ?? 1024
    return {...config, shared_intermediate_size: shared, intermediate_size: isDenseGraniteHybrid(config, architecture) ? shared : config.intermediate_size ?? 11008}
  }
  if (architecture === BAMBA) {
    const rope = config.rope_parameters !== null && typeof config.rope_parameters === 'object' ? config.rope_parameters as Json : {}
    return {max_position_embeddings: 262144, num_key_value_heads: 8, rms_norm_eps: 1e-5, intermediate_size: 14336, ...config, rope_parameters: {rope_type: 'default', rope_theta: config.rope_theta ?? 10000, ...rope, partial_rotary_factor: 0.5}}
  }
  // Mamba2Config's head_dim is the mixer's (the shared parser's head size then sizes no KV cache: no layer attends).
  return {...config, num_attention_heads: 1, num_key_value_heads: 1, head_dim: config.head_dim ?? 64, intermediate_size: config.hidden_size, rms_norm_eps: config.layer_norm_epsilon ?? 1e-5}
}

/** What the engine does not run, by key: biases the mixers' projections or attention would need, a conv activation other than silu. */
function refuseUnsupported(config: Json, architecture: string, source: string): void {
  const keys = MIXER_KEYS[architecture]!
  if (switchOn(config, keys.projBias, source)) throw new ModelLoadError(`${source}: "${keys.projBias}" true (biases on the Mamba-2 in_proj / out_proj) is not supported for ${architecture}.`)
  for (const key of ['attention_bias', 'mlp_bias']) {
    if (architecture !== MAMBA2 && switchOn(config, key, source)) throw new ModelLoadError(`${source}: "${key}" true is not supported for ${architecture}.`)
  }
  // The mixers' conv1d runs config.hidden_act; the native conv applies silu.
  const act = config.hidden_act ?? 'silu'
  if (act !== 'silu' && act !== 'swish') throw new ModelLoadError(`${source}: "hidden_act" ${quotedValue(act)} is not supported for ${architecture} (its Mamba-2 conv1d runs the activation; only silu is).`)
}

/** The hybrid layout (which layers are mixers) and the mixers' sizes. */
export function parseMamba2Hybrid(config: Json, architecture: string, numLayers: number, hiddenSize: number, source: string): HybridFeatures {
  const keys = MIXER_KEYS[architecture]!
  const size = ([key, fallback]: [string, number]): number => configSize(config, key, fallback, source)
  const heads = size(keys.heads)
  const inner = size(keys.expand) * hiddenSize
  const givenHeadDim = config[keys.headDim[0]] ?? keys.headDim[1]
  const headDim = givenHeadDim === 'auto' ? Math.floor(inner / heads) : size([keys.headDim[0], 0])
  if (headDim * heads !== inner) {
    throw new ModelLoadError(`${source}: ${heads} Mamba heads of ${headDim} ("${keys.heads[0]}", "${keys.headDim[0]}") must make the inner width ${keys.expand[0]} x hidden_size = ${inner}.`)
  }
  const groups = size(keys.groups)
  if (heads % groups !== 0) throw new ModelLoadError(`${source}: "${keys.heads[0]}" (${heads}) is not a multiple of "${keys.groups[0]}" (${groups}).`)
  const convBias = switchValue(config, keys.convBias, true, source)
  const convKernel = size(keys.conv)
  const mamba2: Mamba2Features = {heads, headDim, groups, stateSize: size(keys.state), convKernel, normGroup: inner, convBias, ...timeStepLimit(config, source), noMlp: architecture === MAMBA2}
  return {
    linearLayers: mixerLayers(config, architecture, numLayers, source), attentionOutputGate: false,
    linearNumKeyHeads: 0, linearNumValueHeads: 0, linearKeyHeadDim: 0, linearValueHeadDim: 0, convKernel, groupedProjections: false, mamba2,
  }
}

/** [numLayers]: true for a Mamba-2 layer. */
function mixerLayers(config: Json, architecture: string, numLayers: number, source: string): boolean[] {
  if (architecture === MAMBA2) return Array<boolean>(numLayers).fill(true)
  if (architecture === BAMBA) {
    const indices = config.attn_layer_indices ?? []
    if (!Array.isArray(indices) || indices.some((i) => typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= numLayers)) {
      throw new ModelLoadError(`${source}: "attn_layer_indices" must list layer indices below ${numLayers}, got ${quotedValue(indices)}.`)
    }
    return Array.from({length: numLayers}, (_, i) => !indices.includes(i))
  }
  // GraniteMoeHybridConfig: every layer a mixer by default; "mamba" / "attention" are the older names.
  const types = config.layer_types ?? config.layers_block_type ?? Array(numLayers).fill('linear_attention')
  const mixer = new Set(['mamba', 'linear_attention'])
  if (!Array.isArray(types) || types.length !== numLayers || types.some((t) => !mixer.has(t) && t !== 'attention' && t !== 'full_attention')) {
    throw new ModelLoadError(`${source}: "layer_types" must list "mamba" or "attention" (or "linear_attention" / "full_attention") for each of the ${numLayers} layers.`)
  }
  return types.map((t) => mixer.has(t))
}

/** time_step_limit [min, max] (default [0, inf]); transformers 5 writes infinity as {"__float__": "Infinity"}. */
export function timeStepLimit(config: Json, source: string): {dtMin: number; dtMax: number} {
  const limit = config.time_step_limit ?? [0, Infinity]
  const value = (v: unknown): number => {
    if (typeof v === 'number') return v
    const named = v !== null && typeof v === 'object' ? (v as Json).__float__ : undefined
    return named === 'Infinity' ? Infinity : named === '-Infinity' ? -Infinity : NaN
  }
  const [dtMin, dtMax] = Array.isArray(limit) && limit.length === 2 ? limit.map(value) as [number, number] : [NaN, NaN]
  if (!(dtMin >= 0 && dtMax >= dtMin)) throw new ModelLoadError(`${source}: "time_step_limit" must be [min, max] with 0 <= min <= max, got ${quotedValue(limit)}.`)
  return {dtMin, dtMax}
}

/** Granite 4.0 hybrid's position_embedding_type: rope only when "rope" (Granite 4.0 ships "nope": no layer rotates). */
export function graniteHybridRopeLayers(config: Json): boolean[] | undefined {
  const layers = config.num_hidden_layers
  if (config.position_embedding_type === 'rope' || typeof layers !== 'number' || !Number.isInteger(layers) || layers <= 0) return undefined // the shared parser names a bad count
  return Array<boolean>(layers).fill(false)
}
