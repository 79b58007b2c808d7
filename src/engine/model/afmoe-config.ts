// AFMoE (AfmoeForCausalLM: Arcee Trinity) as transformers 5.18's AfmoeConfig reads it: Llama's attention with per-head
// q/k norms and a sigmoid output gate (self_attn.gate_proj), rope on the sliding layers only (by default every
// global_attn_every_n_layers-th layer full and unrotated), sandwich norms around attention and MLP (GLM-4-0414's four:
// tensor-renames.ts), num_dense_layers dense layers, then experts routed by sigmoid scores chosen with expert_bias,
// renormalised and scaled by route_scale (DeepSeek-V3's routing in one group: grouped_topk.cpp), with an ungated shared
// MLP of num_shared_experts x moe_intermediate_size; mup_enabled scales the embeddings by sqrt(hidden_size).
import {ModelLoadError, quotedValue} from '../errors.js'
import type {GroupedRouting} from './deepseek-config.js'
import {switchOn} from './config-switch.js'

export const AFMOE = 'AfmoeForCausalLM'

type Json = Record<string, unknown>

function count(config: Json, key: string, fallback: number, min: number, source: string): number {
  const value = config[key] ?? fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new ModelLoadError(`${source}: "${key}" must be an integer of at least ${min}, got ${quotedValue(value)}.`)
  return value
}

/** The config with AfmoeConfig's eps (1e-5) and layer_types (every global_attn_every_n_layers-th layer full) when it has none. */
export function afmoeView(config: Json, source: string): Json {
  if (config.layer_types != null) return {...config, rms_norm_eps: config.rms_norm_eps ?? 1e-5}
  const every = count(config, 'global_attn_every_n_layers', 4, 1, source)
  const layers = config.num_hidden_layers
  const total = typeof layers === 'number' && Number.isInteger(layers) && layers > 0 && layers <= 10_000 ? layers : 0 // the shared parser names a bad one
  return {...config, rms_norm_eps: config.rms_norm_eps ?? 1e-5, layer_types: Array.from({length: total}, (_, i) => ((i + 1) % every !== 0 ? 'sliding_attention' : 'full_attention'))}
}

/** The attention's twists: rope on the sliding layers only, the output gate, muP's embedding scale. */
export function afmoeAttention(config: Json, source: string): {ropeLayers?: boolean[]; embeddingScale: number} {
  const mup = switchOn(config, 'mup_enabled', source)
  const hidden = config.hidden_size as number
  const rope = (config.layer_types as string[]).map((type) => type === 'sliding_attention')
  return {...(rope.every(Boolean) ? {} : {ropeLayers: rope}), embeddingScale: mup ? Math.sqrt(hidden) : 1}
}

/** num_dense_layers dense first, the shared MLP's width, and the routing (sigmoid, bias for the choice, renormalised, route_scale). */
export function afmoeExperts(config: Json, numLayers: number, expertWidth: number, source: string): {sparseLayers: boolean[]; shared: number; grouped: GroupedRouting} {
  const dense = count(config, 'num_dense_layers', 1, 0, source)
  const scale = config.route_scale ?? 1
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) throw new ModelLoadError(`${source}: "route_scale" must be a positive number, got ${quotedValue(scale)}.`)
  return {
    sparseLayers: Array.from({length: numLayers}, (_, layer) => layer >= dense),
    shared: count(config, 'num_shared_experts', 2, 0, source) * expertWidth,
    grouped: {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: false, routerBias: true, routedScalingFactor: scale},
  }
}
