// ERNIE 4.5 MoE (Ernie4_5_MoeForCausalLM, ERNIE-4.5-21B-A3B) as transformers 5.18's Ernie4_5_MoeConfig reads it: the
// dense ERNIE 4.5 attention (llama-twists.ts: interleaved rope), sparse layers from moe_layer_start_index / end /
// interval, a softmax router whose top-k is chosen by score + e_score_correction_bias (mlp.moe_statics) and weighted by
// the unbiased scores renormalised, plus ungated shared experts (run by grouped_topk.cpp and moe.cpp).
import {ModelLoadError, quotedValue} from '../errors.js'
import type {GroupedRouting} from './deepseek-config.js'

export const ERNIE45_MOE = 'Ernie4_5_MoeForCausalLM'

type Json = Record<string, unknown>

function integerOr(config: Json, key: string, fallback: number, min: number, source: string): number {
  const value = config[key] ?? fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new ModelLoadError(`${source}: "${key}" must be an integer of at least ${min}, got ${quotedValue(value)}.`)
  return value
}

/** The config under the shared parser's keys (Ernie4_5_MoeConfig's attribute_map: num_experts = moe_num_experts, num_experts_per_tok = moe_k). */
export function ernie45MoeView(config: Json, source: string): Json {
  // use_bias puts biases on the shared experts and lm_head too, which the sparse MLP does not carry; no released MoE checkpoint sets it.
  if (config.use_bias != null && config.use_bias !== false) throw new ModelLoadError(`${source}: "use_bias" ${quotedValue(config.use_bias)} is not supported for ${ERNIE45_MOE} (biases on its shared experts and lm_head).`)
  return {
    ...config,
    num_experts: config.moe_num_experts ?? config.num_experts ?? 64,
    num_experts_per_tok: config.moe_k ?? config.num_experts_per_tok ?? 6,
    rope_theta: config.rope_theta ?? 500000,
  }
}

/** Ernie4_5_MoeDecoderLayer: sparse at every moe_layer_interval-th layer from moe_layer_start_index to moe_layer_end_index (-1: the last). */
export function ernie45MoeSparseLayers(config: Json, numLayers: number, source: string): boolean[] {
  const start = integerOr(config, 'moe_layer_start_index', 1, 0, source)
  const given = integerOr(config, 'moe_layer_end_index', -1, -1, source)
  const end = given === -1 ? numLayers - 1 : given
  const interval = integerOr(config, 'moe_layer_interval', 1, 1, source)
  return Array.from({length: numLayers}, (_, layer) => (layer + 1) % interval === 0 && layer >= start && layer <= end)
}

/** moe_num_shared_experts (2) experts as one ungated MLP of that many times moe_intermediate_size (0: none). */
export function ernie45MoeSharedSize(config: Json, expertWidth: number, source: string): number {
  return integerOr(config, 'moe_num_shared_experts', 2, 0, source) * expertWidth
}

/**
 * Ernie4_5_MoeTopKRouter: softmax scores, the choice by score + bias, the chosen scores divided by their sum (clamped
 * at moe_norm_min, 1e-12: a sum of softmax probabilities never reaches it, so the plain renormalisation is exact).
 */
export function ernie45MoeRouting(config: Json, source: string): GroupedRouting {
  const normMin = config.moe_norm_min ?? 1e-12
  if (typeof normMin !== 'number' || !Number.isFinite(normMin) || normMin < 0 || normMin > 1e-6) {
    throw new ModelLoadError(`${source}: "moe_norm_min" ${quotedValue(normMin)} is not supported (at most 1e-6, the renormalisation's clamp).`)
  }
  return {groups: 1, topkGroups: 1, sigmoid: false, groupTop2: false, routerBias: true, routedScalingFactor: 1}
}

/** The engine's name of the router's correction bias <-> ERNIE's (mlp.moe_statics, [1, experts]). */
export function ernie45MoeCheckpointName(name: string): string {
  return name.replace(/\.mlp\.gate\.e_score_correction_bias$/, '.mlp.moe_statics.e_score_correction_bias')
}

export function ernie45MoeEngineName(name: string): string {
  return name.replace(/\.mlp\.moe_statics\.e_score_correction_bias$/, '.mlp.gate.e_score_correction_bias')
}
