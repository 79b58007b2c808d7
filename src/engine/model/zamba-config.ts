// Zamba (ZambaForCausalLM, Zamba-7B-v1) as the engine reads it: Zamba2's layout (zamba2-config.ts) over Mamba-1 mixers
// of n_mamba_heads heads (native/cpu/mamba1_mixer.cpp), the "hybrid" layers first running the one shared transformer
// block over [hidden | embeddings]: attention without rope scaled by (head_dim / 2)^-0.5, then a gated MLP with
// gate_proj and up_proj apart, no adapters, its output through the layer's linear into the mixer's input
// (native/cpu/zamba2_forward.cpp). Facts from transformers 5.18's ZambaConfig and modeling code.
import {ModelLoadError, quotedValue} from '../errors.js'
import type {Mamba1Features} from './mamba1-config.js'
import type {HybridFeatures} from './qwen35-config.js'
import {switchOn, switchValue} from './config-switch.js'
import {configSize} from './config-size.js'
import {zambaLayerTypes, type Zamba2Features} from './zamba2-config.js'

type Json = Record<string, unknown>

export const ZAMBA = 'ZambaForCausalLM'

/**
 * The config as the shared parser reads it, with ZambaConfig's defaults: the shared attention reads 2 x hidden_size
 * (attention_hidden_size, which nothing else is accepted for) in heads of attention_head_dim (head_dim is its alias),
 * 2 x hidden_size / heads by default; tied embeddings. Refused by key: mamba_proj_bias, a hidden_mamba_act other than
 * silu, tie_word_embeddings false (transformers then unties the shared block's uses).
 */
export function zambaView(config: Json, source: string): Json {
  if (switchOn(config, 'mamba_proj_bias', source)) throw new ModelLoadError(`${source}: "mamba_proj_bias" true (biases on the Mamba in_proj / out_proj) is not supported for ${ZAMBA}.`)
  const act = config.hidden_mamba_act ?? 'silu'
  if (act !== 'silu' && act !== 'swish') throw new ModelLoadError(`${source}: "hidden_mamba_act" ${quotedValue(act)} is not supported for ${ZAMBA} (only silu).`)
  if (config.tie_word_embeddings === false) throw new ModelLoadError(`${source}: "tie_word_embeddings" false is not supported for ${ZAMBA} (transformers then unties the shared block's uses).`)
  const hidden = configSize(config, 'hidden_size', 3712, source)
  const attentionWidth = config.attention_hidden_size ?? 2 * hidden
  if (attentionWidth !== 2 * hidden) throw new ModelLoadError(`${source}: "attention_hidden_size" ${quotedValue(attentionWidth)} is not supported for ${ZAMBA} (the shared block reads [hidden | embeddings], 2 x hidden_size = ${2 * hidden}).`)
  const heads = configSize(config, 'num_attention_heads', 16, source)
  const headKey = config.attention_head_dim != null ? 'attention_head_dim' : 'head_dim'
  const headDim = configSize(config, headKey, Math.floor((2 * hidden) / heads), source)
  return {
    vocab_size: 32000, max_position_embeddings: 4096, num_hidden_layers: 76, intermediate_size: 14848, num_key_value_heads: 16, hidden_act: 'gelu', tie_word_embeddings: true, rms_norm_eps: 1e-5,
    ...config, hidden_size: hidden, num_attention_heads: heads, head_dim: headDim,
  }
}

/** The layers (all Mamba-1 mixers), the mixers' sizes, the shared block's use, and the attention's (head_dim / 2)^-0.5 scale. */
export function parseZamba(config: Json, numLayers: number, hiddenSize: number, headDim: number, source: string): {hybrid: HybridFeatures; attentionScale: number} {
  const heads = configSize(config, 'n_mamba_heads', 2, source)
  const inner = configSize(config, 'mamba_expand', 2, source) * hiddenSize
  if (inner % heads !== 0) throw new ModelLoadError(`${source}: "n_mamba_heads" ${heads} must divide mamba_expand x hidden_size (${inner}).`)
  const rank = config.mamba_dt_rank ?? 'auto'
  const convBias = switchValue(config, 'mamba_conv_bias', true, source)
  const convKernel = configSize(config, 'mamba_d_conv', 4, source)
  // No dt / B / C norms: their eps is unused.
  const mamba1: Mamba1Features = {innerSize: inner, stateSize: configSize(config, 'mamba_d_state', 16, source), convKernel, dtRank: rank === 'auto' ? Math.ceil(hiddenSize / 16) : configSize(config, 'mamba_dt_rank', 0, source),
    convBias, dtBcNorm: 'none', dtBcNormEps: 1e-6, noMlp: true, heads}
  // ZambaConfig's default layout: two mixers, a hybrid, then a hybrid where i % attn_layer_period == attn_layer_offset.
  const period = configSize(config, 'attn_layer_period', 6, source)
  const offset = config.attn_layer_offset ?? 4
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw new ModelLoadError(`${source}: "attn_layer_offset" must be a non-negative integer, got ${quotedValue(offset)}.`)
  const defaults = ['linear_attention', 'linear_attention', 'hybrid', ...Array.from({length: Math.max(0, numLayers - 3)}, (_, i) => (i % period === offset ? 'hybrid' : 'linear_attention'))]
  const types = zambaLayerTypes(config, numLayers, defaults, source)
  if (!types.includes('hybrid')) throw new ModelLoadError(`${source}: "layers_block_type" has no "hybrid" layer; a ${ZAMBA} model without its shared transformer block is not supported.`)
  const zamba2: Zamba2Features = {sharedBlocks: types.map((type) => (type === 'hybrid' ? 0 : -1)), numMemBlocks: 1, adapterRank: 0, attentionAdapters: false, rope: false, gateUpApart: true}
  return {
    hybrid: {linearLayers: Array<boolean>(numLayers).fill(true), attentionOutputGate: false, linearNumKeyHeads: 0, linearNumValueHeads: 0, linearKeyHeadDim: 0, linearValueHeadDim: 0,
      convKernel, groupedProjections: false, mamba1, zamba2},
    attentionScale: (headDim / 2) ** -0.5,
  }
}
