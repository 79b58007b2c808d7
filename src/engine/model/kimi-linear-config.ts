// Kimi Linear (KimiLinearForCausalLM): Kimi Delta Attention layers (native/cpu/kimi_delta.h) among DeepSeek-V3 latent
// attention layers without rope, over V3's grouped routing and shared experts. Facts from transformers 5.17's
// KimiLinearConfig and modeling code. The released config.json names several settings its own way (linear_attn_config,
// num_experts, num_experts_per_token, moe_renormalize, num_expert_group, num_shared_experts, model_max_length): they
// are read here into DeepSeek's names, so deepseek-config.ts reads the rest.
import {ModelLoadError, quotedValue} from '../errors.js'
import {isObject} from './rope-scaling.js'
import type {HybridFeatures} from './qwen35-config.js'
import type {RmsVariantFeatures} from './rms-variants.js'
import {switchValue} from './config-switch.js'
import {checkedSize} from './config-size.js'

type Json = Record<string, unknown>

export const KIMI_LINEAR = 'KimiLinearForCausalLM'

/** [the released config's key, transformers' / DeepSeek's key, KimiLinearConfig's default]. */
const ALIASES: [string, string, unknown][] = [
  ['num_experts', 'n_routed_experts', 256],
  ['num_experts_per_token', 'num_experts_per_tok', 8],
  ['moe_renormalize', 'norm_topk_prob', true],
  ['num_expert_group', 'n_group', 1],
  ['num_shared_experts', 'n_shared_experts', 1],
  ['model_max_length', 'max_position_embeddings', 1048576],
]

/** The config under DeepSeek-V3's names and KimiLinearConfig's defaults (q_lora_rank null: a plain q_proj). */
export function kimiLinearView(config: Json, source: string): Json {
  const router = config.moe_router_activation_func ?? 'sigmoid'
  if (router !== 'sigmoid') throw new ModelLoadError(`${source}: "moe_router_activation_func" ${quotedValue(router)} is not supported for ${KIMI_LINEAR} (transformers routes by sigmoid scores).`)
  if (!switchValue(config, 'mla_use_nope', true, source)) throw new ModelLoadError(`${source}: "mla_use_nope" false is not supported for ${KIMI_LINEAR} (transformers runs its latent attention without rope).`)
  const view: Json = {...config}
  for (const [kimi, deepseek, fallback] of ALIASES) view[deepseek] = config[kimi] ?? config[deepseek] ?? fallback
  if (config.num_local_experts != null && config.num_experts == null) view.n_routed_experts = config.num_local_experts
  const dense = config.first_k_dense_replace ?? 1
  if (typeof dense !== 'number' || !Number.isInteger(dense) || dense < 0) throw new ModelLoadError(`${source}: "first_k_dense_replace" must be a non-negative integer, got ${quotedValue(dense)}.`)
  const layers = config.num_hidden_layers ?? 27
  return {
    vocab_size: 163840, hidden_size: 2304, intermediate_size: 9216, moe_intermediate_size: 1024, num_hidden_layers: 27, num_attention_heads: 32,
    routed_scaling_factor: 2.446, topk_group: 1, rms_norm_eps: 1e-5, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128,
    ...view,
    q_lora_rank: config.q_lora_rank ?? null,
    mlp_layer_types: config.mlp_layer_types ?? (typeof layers === 'number' && Number.isInteger(layers) && layers > 0 ? Array.from({length: layers}, (_, i) => (i < dense ? 'dense' : 'sparse')) : undefined),
  }
}

/** Which layers are Kimi Delta Attention and their sizes, and the latent attention's NoPE (no layer rotates). */
export function kimiLinearFeatures(config: Json, numLayers: number, source: string): {hybrid: HybridFeatures; rmsVariant: RmsVariantFeatures} {
  const linear = isObject(config.linear_attn_config) ? config.linear_attn_config : {}
  const size = (key: string, value: unknown): number => checkedSize(key, value, source)
  const heads = size('linear_attn_config.num_heads', linear.num_heads ?? config.linear_num_heads ?? 32)
  const headDim = size('linear_attn_config.head_dim', linear.head_dim ?? config.linear_head_dim ?? 128)
  const convKernel = size('linear_attn_config.short_conv_kernel_size', linear.short_conv_kernel_size ?? config.linear_conv_kernel_dim ?? 4)
  const hybrid: HybridFeatures = {
    linearLayers: kimiLinearLayers(config, linear, numLayers, source), attentionOutputGate: false, linearNumKeyHeads: heads, linearNumValueHeads: heads,
    linearKeyHeadDim: headDim, linearValueHeadDim: headDim, convKernel, groupedProjections: false, kimiDelta: true,
  }
  const rmsVariant: RmsVariantFeatures = {residualMultiplier: 1, logitsMultiplier: 1, postNormsOnly: false, wholeQkNorm: false, normMean: false, parallelBlock: false, normAffine: true, clipQkv: 0,
    ropeLayers: Array<boolean>(numLayers).fill(false)}
  return {hybrid, rmsVariant}
}

/** As KimiLinearConfig: layer_types, else linear_attn_config's 1-based full_attn_layers / kda_layers, else every 4th layer (from 4) full. */
function kimiLinearLayers(config: Json, linear: Json, numLayers: number, source: string): boolean[] {
  const types = config.layer_types
  if (types != null) {
    if (!Array.isArray(types) || types.length !== numLayers || types.some((t) => t !== 'linear_attention' && t !== 'full_attention')) {
      throw new ModelLoadError(`${source}: "layer_types" must list "linear_attention" or "full_attention" for each of the ${numLayers} layers.`)
    }
    return types.map((t) => t === 'linear_attention')
  }
  if (linear.full_attn_layers == null || linear.kda_layers == null) return Array.from({length: numLayers}, (_, i) => !(i > 0 && i % 4 === 0))
  const listed = (key: string): number[] => {
    const value = linear[key]
    if (!Array.isArray(value) || value.some((l) => typeof l !== 'number' || !Number.isInteger(l) || l < 1 || l > numLayers)) {
      throw new ModelLoadError(`${source}: "linear_attn_config.${key}" must list layer numbers from 1 to ${numLayers}, got ${quotedValue(value)}.`)
    }
    return value as number[]
  }
  const full = listed('full_attn_layers')
  const kda = listed('kda_layers')
  const layers = Array.from({length: numLayers}, (_, i) => kda.includes(i + 1))
  if (layers.some((isKda, i) => isKda === full.includes(i + 1))) {
    throw new ModelLoadError(`${source}: "linear_attn_config" must name each of the ${numLayers} layers once, in full_attn_layers or kda_layers.`)
  }
  return layers
}
