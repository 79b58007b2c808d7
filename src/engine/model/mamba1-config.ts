// Mamba-1 models as the engine reads them: Mamba (state-spaces/mamba-*-hf: every layer a mixer, no attention, no MLP),
// Falcon-Mamba (the same with weightless RMSNorms on the scan's dt, B and C) and Jamba (AI21: Mamba-1 mixers with
// weighted dt/B/C norms among rope-free attention layers at attn_layer_period / attn_layer_offset, softmax top-k
// experts at expert_layer_period / expert_layer_offset, dense SwiGLU elsewhere). Facts from transformers 5.18's config
// classes; the mixers run on native/cpu/mamba1_mixer.cpp in the hybrid machinery's state slots (HybridFeatures.mamba1).
import {ModelLoadError, quotedValue} from '../errors.js'
import type {HybridFeatures} from './qwen35-config.js'
import type {RmsVariantFeatures} from './rms-variants.js'
import {switchOn, switchValue} from './config-switch.js'
import {configSize} from './config-size.js'

type Json = Record<string, unknown>

export const MAMBA = 'MambaForCausalLM'
export const FALCON_MAMBA = 'FalconMambaForCausalLM'
export const JAMBA = 'JambaForCausalLM'
export const MAMBA1_ARCHITECTURES = new Set([MAMBA, FALCON_MAMBA, JAMBA])

/** One Mamba-1 mixer's sizes (native/include/pagedllm/mamba1_config.h). */
export interface Mamba1Features {
  /** intermediate_size: expand x hidden_size channels. */
  innerSize: number
  stateSize: number
  convKernel: number
  /** time_step_rank (Jamba: mamba_dt_rank): x_proj's dt rows, ceil(hidden_size / 16) when "auto". */
  dtRank: number
  convBias: boolean
  /** RMSNorms on x_proj's dt, B and C: none (Mamba), without weights (Falcon-Mamba), with weights (Jamba). */
  dtBcNorm: 'none' | 'unweighted' | 'weighted'
  /** Their eps: Falcon-Mamba's mixer_rms_eps, Jamba's rms_norm_eps. */
  dtBcNormEps: number
  /** Mamba, Falcon-Mamba: a layer is its norm and mixer, no MLP. */
  noMlp: boolean
  /** Zamba's n_mamba_heads: runs of innerSize / heads channels, each with its own x_proj and dt_proj (absent: 1). */
  heads?: number
}

/** The keys each config class names its mixer's settings by, with its defaults. */
const MIXER_KEYS: Record<string, {state: [string, number]; conv: [string, number]; expand: [string, number]; dtRank: string; convBias: string; projBias: string}> = {
  [MAMBA]: {state: ['state_size', 16], conv: ['conv_kernel', 4], expand: ['expand', 2], dtRank: 'time_step_rank', convBias: 'use_conv_bias', projBias: 'use_bias'},
  [FALCON_MAMBA]: {state: ['state_size', 16], conv: ['conv_kernel', 4], expand: ['expand', 2], dtRank: 'time_step_rank', convBias: 'use_conv_bias', projBias: 'use_bias'},
  [JAMBA]: {state: ['mamba_d_state', 16], conv: ['mamba_d_conv', 4], expand: ['mamba_expand', 2], dtRank: 'mamba_dt_rank', convBias: 'mamba_conv_bias', projBias: 'mamba_proj_bias'},
}

/**
 * The config as the shared parser reads it, with each class's defaults. Mamba and Falcon-Mamba have no attention: one
 * placeholder head sizes no KV cache (no layer attends) and hidden_size stands in for the MLP width they have none of.
 * Jamba: JambaConfig's defaults, one expert per layer meaning no experts (isDenseJamba).
 */
export function mamba1View(config: Json, architecture: string, source: string): Json {
  refuseUnsupported(config, architecture, source)
  if (architecture === JAMBA) {
    return {vocab_size: 65536, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, rms_norm_eps: 1e-6, max_position_embeddings: 262144, ...config}
  }
  return {vocab_size: 50280, hidden_size: 768, num_hidden_layers: 32, ...config, num_attention_heads: 1, num_key_value_heads: 1, head_dim: 64, intermediate_size: config.hidden_size ?? 768, rms_norm_eps: config.layer_norm_epsilon ?? 1e-5}
}

/** JambaConfig with num_experts 1: every layer's MLP is dense (layers_num_experts is 1 throughout). */
export function isDenseJamba(config: Json, architecture: string): boolean {
  return architecture === JAMBA && (config.num_experts ?? config.num_local_experts) === 1
}

/** What the engine does not run, by key: biases on in_proj / out_proj, a conv activation other than silu. */
function refuseUnsupported(config: Json, architecture: string, source: string): void {
  const keys = MIXER_KEYS[architecture]!
  if (switchOn(config, keys.projBias, source)) throw new ModelLoadError(`${source}: "${keys.projBias}" true (biases on the Mamba in_proj / out_proj) is not supported for ${architecture}.`)
  const act = config.hidden_act ?? 'silu'
  if (act !== 'silu' && act !== 'swish') throw new ModelLoadError(`${source}: "hidden_act" ${quotedValue(act)} is not supported for ${architecture} (its Mamba conv1d runs the activation; only silu is).`)
}

/** The hybrid layout (which layers are mixers) and the mixers' sizes. */
export function parseMamba1Hybrid(config: Json, architecture: string, numLayers: number, hiddenSize: number, rmsNormEps: number, source: string): HybridFeatures {
  const keys = MIXER_KEYS[architecture]!
  const size = ([key, fallback]: [string, number]): number => configSize(config, key, fallback, source)
  const rank = config[keys.dtRank] ?? 'auto'
  const dtRank = rank === 'auto' ? Math.ceil(hiddenSize / 16) : size([keys.dtRank, 0])
  const convBias = switchValue(config, keys.convBias, true, source)
  const convKernel = size(keys.conv)
  const mamba1: Mamba1Features = {
    innerSize: size(keys.expand) * hiddenSize, stateSize: size(keys.state), convKernel, dtRank, convBias,
    dtBcNorm: architecture === MAMBA ? 'none' : architecture === FALCON_MAMBA ? 'unweighted' : 'weighted',
    dtBcNormEps: architecture === FALCON_MAMBA ? mixerRmsEps(config, source) : positiveNormEps(rmsNormEps, architecture, source),
    noMlp: architecture !== JAMBA,
  }
  const linearLayers = architecture === JAMBA ? periodicLayers(config, 'attn_layer_period', 8, 'attn_layer_offset', 4, numLayers, source).map((attends) => !attends) : Array<boolean>(numLayers).fill(true)
  return {linearLayers, attentionOutputGate: false, linearNumKeyHeads: 0, linearNumValueHeads: 0, linearKeyHeadDim: 0, linearValueHeadDim: 0, convKernel, groupedProjections: false, mamba1}
}

/** Jamba's dt / B / C norms take the model's norm eps, which the backends' Mamba mixers require positive (transformers' norms take 0). */
function positiveNormEps(eps: number, architecture: string, source: string): number {
  const key = architecture === JAMBA ? 'rms_norm_eps' : 'layer_norm_epsilon'
  if (eps <= 0) throw new ModelLoadError(`${source}: "${key}" must be positive for ${architecture} (its Mamba mixers take it), got ${eps}.`)
  return eps
}

/** FalconMambaConfig's mixer_rms_eps (default 1e-6): the eps of its weightless dt / B / C norms. */
function mixerRmsEps(config: Json, source: string): number {
  const eps = config.mixer_rms_eps ?? 1e-6
  if (typeof eps !== 'number' || !(eps > 0)) throw new ModelLoadError(`${source}: "mixer_rms_eps" must be a positive number, got ${quotedValue(eps)}.`)
  return eps
}

/** [numLayers]: true where layer % period == offset (JambaConfig's layers_block_type and layers_num_experts). */
function periodicLayers(config: Json, periodKey: string, periodDefault: number, offsetKey: string, offsetDefault: number, numLayers: number, source: string): boolean[] {
  const period = config[periodKey] ?? periodDefault
  const offset = config[offsetKey] ?? offsetDefault
  if (typeof period !== 'number' || !Number.isInteger(period) || period <= 0 || typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || offset >= period) {
    throw new ModelLoadError(`${source}: "${offsetKey}" (${quotedValue(offset)}) must be a non-negative integer below "${periodKey}" (${quotedValue(period)}).`)
  }
  return Array.from({length: numLayers}, (_, i) => i % period === offset)
}

/** Jamba's sparse layers (moe-config.ts): every expert_layer_period-th from expert_layer_offset. */
export function jambaSparseLayers(config: Json, numLayers: number, source: string): boolean[] {
  return periodicLayers(config, 'expert_layer_period', 2, 'expert_layer_offset', 1, numLayers, source)
}

/** Jamba's attention has no positional encoding: no layer rotates (rms_variants.h rope_layers). */
export function jambaRmsVariant(numLayers: number): RmsVariantFeatures {
  return {residualMultiplier: 1, logitsMultiplier: 1, postNormsOnly: false, wholeQkNorm: false, normMean: false, parallelBlock: false, normAffine: true, clipQkv: 0, ropeLayers: Array<boolean>(numLayers).fill(false)}
}
