// Liquid AI's LFM2 (Lfm2ForCausalLM) and LFM2-MoE (Lfm2MoeForCausalLM) as the engine reads them: gated short-convolution
// layers among GQA attention layers with per-head q/k norms (layer_types "conv" / "full_attention", or full_attn_idxs),
// each followed by a SwiGLU MLP, or in LFM2-MoE from num_dense_layers on by sigmoid-routed experts. Facts from
// transformers 5.17's Lfm2Config / Lfm2MoeConfig and modeling code; the conv layers run on native/cpu/short_conv.cpp in
// the hybrid machinery's state slots (HybridFeatures.shortConv).
import {ModelLoadError, quotedValue} from '../errors.js'
import type {GroupedRouting} from './deepseek-config.js'
import type {HybridFeatures} from './qwen35-config.js'
import {switchOn, switchValue} from './config-switch.js'

type Json = Record<string, unknown>

export const LFM2 = 'Lfm2ForCausalLM'
export const LFM2_MOE = 'Lfm2MoeForCausalLM'
export const LFM2_ARCHITECTURES = new Set([LFM2, LFM2_MOE])

/** One gated short convolution's size (native ModelConfig::short_conv_kernel); its channels are hidden_size. */
export interface ShortConvFeatures {
  /** conv_L_cache: the depthwise conv's kernel (its state holds kernel - 1 inputs per channel). */
  kernel: number
}

/**
 * The config as the shared parser reads it: norm_eps, the tie_embedding and block_ff_dim aliases Lfm2Config pops, rope
 * base 1e6, and LFM2's MLP width (block_auto_adjust_ff_dim: two thirds of it, times block_ffn_dim_multiplier, rounded up
 * to block_multiple_of). Every MLP is SwiGLU whatever hidden_act says (the config classes have none).
 */
export function lfm2View(config: Json, architecture: string, source: string): Json {
  if (switchOn(config, 'conv_bias', source)) throw new ModelLoadError(`${source}: "conv_bias" true (biases on the short convolutions' in_proj, conv and out_proj) is not supported for ${architecture}.`)
  const rope = config.rope_parameters !== null && typeof config.rope_parameters === 'object' ? config.rope_parameters as Json : {}
  const view: Json = {
    ...config,
    rms_norm_eps: config.norm_eps ?? 1e-5,
    tie_word_embeddings: config.tie_embedding ?? config.tie_word_embeddings ?? true,
    hidden_act: 'silu',
    rope_parameters: {rope_type: 'default', rope_theta: config.rope_theta ?? 1000000, ...rope},
    num_key_value_heads: config.num_key_value_heads ?? 8,
  }
  // Lfm2MoeMLP (the dense layers) takes intermediate_size as it is.
  view.intermediate_size = architecture === LFM2 ? lfm2MlpWidth(config, source) : config.intermediate_size ?? 7168
  return view
}

/** Lfm2MLP's width: intermediate_size (or block_ff_dim), adjusted as block_auto_adjust_ff_dim says. */
function lfm2MlpWidth(config: Json, source: string): number {
  const given = config.block_ff_dim ?? config.intermediate_size ?? 12288
  if (typeof given !== 'number' || !Number.isInteger(given) || given <= 0) throw new ModelLoadError(`${source}: "intermediate_size" must be a positive integer, got ${quotedValue(given)}.`)
  if (!switchValue(config, 'block_auto_adjust_ff_dim', true, source)) return given
  let width = Math.trunc((2 * given) / 3)
  const multiplier = config.block_ffn_dim_multiplier === undefined ? 1 : config.block_ffn_dim_multiplier
  if (multiplier === null) return width
  const multipleOf = config.block_multiple_of ?? 256
  if (typeof multiplier !== 'number' || !(multiplier > 0)) throw new ModelLoadError(`${source}: "block_ffn_dim_multiplier" must be a positive number, got ${quotedValue(multiplier)}.`)
  if (typeof multipleOf !== 'number' || !Number.isInteger(multipleOf) || multipleOf <= 0) throw new ModelLoadError(`${source}: "block_multiple_of" must be a positive integer, got ${quotedValue(multipleOf)}.`)
  width = Math.trunc(multiplier * width)
  return multipleOf * Math.ceil(width / multipleOf)
}

/** The hybrid layout (which layers are short convolutions) and the conv's kernel. */
export function parseLfm2Hybrid(config: Json, numLayers: number, source: string): HybridFeatures {
  const kernel = config.conv_L_cache ?? 3
  if (typeof kernel !== 'number' || !Number.isInteger(kernel) || kernel < 2 || kernel > 1024) {
    throw new ModelLoadError(`${source}: "conv_L_cache" must be an integer from 2 to 1024, got ${quotedValue(kernel)}.`)
  }
  return {
    linearLayers: convLayers(config, numLayers, source), attentionOutputGate: false,
    linearNumKeyHeads: 0, linearNumValueHeads: 0, linearKeyHeadDim: 0, linearValueHeadDim: 0, convKernel: kernel, groupedProjections: false,
    shortConv: {kernel},
  }
}

/** [numLayers]: true for a short-conv layer. layer_types wins; else full_attn_idxs (every layer attention when absent, as Lfm2Config). */
function convLayers(config: Json, numLayers: number, source: string): boolean[] {
  const types = config.layer_types
  if (types != null) {
    if (!Array.isArray(types) || types.length !== numLayers || types.some((t) => t !== 'conv' && t !== 'full_attention')) {
      throw new ModelLoadError(`${source}: "layer_types" must list "conv" or "full_attention" for each of the ${numLayers} layers.`)
    }
    return types.map((t) => t === 'conv')
  }
  const indices = config.full_attn_idxs ?? Array.from({length: numLayers}, (_, i) => i)
  if (!Array.isArray(indices) || indices.some((i) => typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= numLayers)) {
    throw new ModelLoadError(`${source}: "full_attn_idxs" must list layer indices below ${numLayers}, got ${quotedValue(indices)}.`)
  }
  return Array.from({length: numLayers}, (_, i) => !indices.includes(i))
}

/**
 * Lfm2MoeSparseMoeBlock from num_dense_layers on (2 by default): sigmoid scores, the top-k chosen by score +
 * expert_bias (use_expert_bias, true by default) but weighted by the scores, renormalised over sum + 1e-6
 * (norm_topk_prob), times routed_scaling_factor: DeepSeek-V3's routing in one group (grouped_topk.cpp).
 */
export function lfm2MoeRouting(config: Json, numLayers: number, source: string): {sparseLayers: boolean[]; grouped: GroupedRouting} {
  const dense = config.num_dense_layers ?? 2
  if (typeof dense !== 'number' || !Number.isInteger(dense) || dense < 0) throw new ModelLoadError(`${source}: "num_dense_layers" must be a non-negative integer, got ${quotedValue(dense)}.`)
  const bias = switchValue(config, 'use_expert_bias', true, source)
  const factor = config.routed_scaling_factor ?? 1
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0) throw new ModelLoadError(`${source}: "routed_scaling_factor" must be a positive number, got ${quotedValue(factor)}.`)
  return {
    sparseLayers: Array.from({length: numLayers}, (_, i) => i >= dense),
    grouped: {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: false, routerBias: bias, routedScalingFactor: factor, topkNormEps: 1e-6},
  }
}
