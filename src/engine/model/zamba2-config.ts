// Zamba2 (Zamba2ForCausalLM) as the engine reads it: every layer a Mamba-2 mixer (native/cpu/mamba2_mixer.cpp), the
// "hybrid" layers first running one of num_mem_blocks shared transformer blocks (cycled) over [hidden | embeddings],
// with per-use LoRA adapters, whose output goes through the layer's linear into the mixer's input
// (native/cpu/zamba2_forward.cpp). Facts from transformers 5.18's Zamba2Config and modeling code.
import {ModelLoadError, quotedValue} from '../errors.js'
import type {Mamba2Features} from './mamba2-config.js'
import type {HybridFeatures} from './qwen35-config.js'
import {switchOn, switchValue} from './config-switch.js'
import {configSize} from './config-size.js'

type Json = Record<string, unknown>

export const ZAMBA2 = 'Zamba2ForCausalLM'

/** Zamba2's shared transformer blocks (native/include/pagedllm/backend.h Zamba2Config). */
export interface Zamba2Features {
  /** [numLayers]: the shared block a layer runs before its mixer (the n-th hybrid layer runs block n % num_mem_blocks), or -1. */
  sharedBlocks: number[]
  /** The shared blocks some layer runs (num_mem_blocks, or fewer where fewer layers are hybrid). */
  numMemBlocks: number
  adapterRank: number
  /** use_shared_attention_adapter: adapters on q, k and v too (always on gate_up). */
  attentionAdapters: boolean
  /** use_mem_rope: the shared attention rotates q and k. */
  rope: boolean
  /** Zamba (v1, zamba-config.ts): the block's MLP as gate_proj and up_proj apart (Zamba2 fuses them in gate_up_proj). */
  gateUpApart?: boolean
}

/** Zamba2Config's 54-layer default layers_block_type. */
const DEFAULT_LAYERS = ['mamba', ...Array<string[]>(7).fill([...Array<string>(5).fill('mamba'), 'hybrid']).flat(), ...Array<string>(4).fill('mamba'), 'hybrid', 'mamba', 'mamba', 'mamba', 'hybrid', 'mamba', 'mamba']

/**
 * The config as the shared parser reads it, with Zamba2Config's defaults: the shared attention's heads of
 * 2 x hidden_size / heads (its input is [hidden | embeddings]), intermediate_size 4 x hidden_size, erf gelu, tied
 * embeddings. Refused by key: add_bias_linear, use_long_context, tie_word_embeddings false, adapters on q/k/v with
 * fewer KV heads than heads.
 */
export function zamba2View(config: Json, source: string): Json {
  if (switchOn(config, 'add_bias_linear', source)) throw new ModelLoadError(`${source}: "add_bias_linear" true is not supported for ${ZAMBA2}.`)
  if (switchOn(config, 'use_long_context', source)) throw new ModelLoadError(`${source}: "use_long_context" true (a rescaled rope base) is not supported for ${ZAMBA2}.`)
  // transformers ties a shared block's uses only with tied embeddings; untied, each hybrid layer runs a block of its own.
  if (!switchValue(config, 'tie_word_embeddings', true, source)) throw new ModelLoadError(`${source}: "tie_word_embeddings" false is not supported for ${ZAMBA2} (transformers then unties the shared blocks' uses).`)
  const hidden = configSize(config, 'hidden_size', 2560, source)
  const heads = configSize(config, 'num_attention_heads', 32, source)
  const kvHeads = config.num_key_value_heads ?? heads
  const headDim = Math.floor((2 * hidden) / heads)
  if (switchOn(config, 'use_shared_attention_adapter', source) && (kvHeads !== heads || heads * headDim !== 2 * hidden)) {
    throw new ModelLoadError(`${source}: use_shared_attention_adapter needs num_key_value_heads equal to num_attention_heads (${heads}) dividing 2 x hidden_size (the adapters' width).`)
  }
  return {
    vocab_size: 32000, max_position_embeddings: 4096, num_hidden_layers: 54, hidden_act: 'gelu', tie_word_embeddings: true, rms_norm_eps: 1e-5,
    ...config, hidden_size: hidden, num_attention_heads: heads, num_key_value_heads: kvHeads, head_dim: headDim, intermediate_size: config.intermediate_size || 4 * hidden,
  }
}

/** The layers (all mixers), the mixers' sizes, the shared blocks' use, and the attention's (head_dim / 2)^-0.5 scale. */
export function parseZamba2(config: Json, numLayers: number, hiddenSize: number, headDim: number, source: string): {hybrid: HybridFeatures; attentionScale: number} {
  const heads = configSize(config, 'n_mamba_heads', 8, source)
  const inner = configSize(config, 'mamba_expand', 2, source) * hiddenSize
  if (inner % heads !== 0) throw new ModelLoadError(`${source}: "n_mamba_heads" ${heads} must divide mamba_expand x hidden_size (${inner}).`)
  const groups = configSize(config, 'mamba_ngroups', 1, source)
  if (heads % groups !== 0) throw new ModelLoadError(`${source}: "n_mamba_heads" (${heads}) is not a multiple of "mamba_ngroups" (${groups}).`)
  const dtMin = config.time_step_min ?? 0.001
  if (typeof dtMin !== 'number' || !(dtMin >= 0)) throw new ModelLoadError(`${source}: "time_step_min" must be a non-negative number, got ${quotedValue(dtMin)}.`)
  const convKernel = configSize(config, 'mamba_d_conv', 4, source)
  // Zamba2's conv1d always has a bias; its gated norm runs per group; time_step_limit is (time_step_min, inf).
  const mamba2: Mamba2Features = {heads, headDim: inner / heads, groups, stateSize: configSize(config, 'mamba_d_state', 64, source), convKernel, normGroup: inner / groups,
    convBias: true, dtMin, dtMax: Infinity, noMlp: true}
  const numMemBlocks = configSize(config, 'num_mem_blocks', 1, source)
  let hybridCount = 0
  const sharedBlocks = zambaLayerTypes(config, numLayers, numLayers === DEFAULT_LAYERS.length ? DEFAULT_LAYERS : null, source).map((type) => (type === 'hybrid' ? hybridCount++ % numMemBlocks : -1))
  if (hybridCount === 0) throw new ModelLoadError(`${source}: "layers_block_type" has no "hybrid" layer; a ${ZAMBA2} model without its shared transformer blocks is not supported.`)
  // Only the blocks some layer runs are loaded: with fewer hybrid layers than num_mem_blocks the rest go unread.
  const zamba2: Zamba2Features = {sharedBlocks, numMemBlocks: Math.min(numMemBlocks, hybridCount), adapterRank: configSize(config, 'adapter_rank', 128, source), attentionAdapters: switchOn(config, 'use_shared_attention_adapter', source), rope: switchOn(config, 'use_mem_rope', source)}
  return {
    hybrid: {linearLayers: Array<boolean>(numLayers).fill(true), attentionOutputGate: false, linearNumKeyHeads: 0, linearNumValueHeads: 0, linearKeyHeadDim: 0, linearValueHeadDim: 0,
      convKernel, groupedProjections: false, mamba2, zamba2},
    attentionScale: (headDim / 2) ** -0.5,
  }
}

/** layers_block_type (or layer_types): "hybrid", or "mamba" / "linear_attention" for a plain mixer layer; the class's default (null: none for this count). */
export function zambaLayerTypes(config: Json, numLayers: number, defaults: string[] | null, source: string): string[] {
  const types = config.layers_block_type ?? config.layer_types ?? defaults
  if (!Array.isArray(types) || types.length !== numLayers || types.some((t) => t !== 'hybrid' && t !== 'mamba' && t !== 'linear_attention')) {
    throw new ModelLoadError(`${source}: "layers_block_type" must list "mamba" (or "linear_attention") or "hybrid" for each of the ${numLayers} layers.`)
  }
  return types as string[]
}
