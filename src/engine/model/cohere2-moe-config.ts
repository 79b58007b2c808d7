// Cohere2-MoE (Cohere2MoeForCausalLM) as transformers 5.18's Cohere2MoeConfig reads it: Command R7B's block (parallel
// attention and MLP, logit_scale, interleaved rope on the sliding layers only: cohere2-config.ts, rms-variants.ts) under
// LayerNorms without bias, or RMSNorms when rms_norm_eps is set, over Mixtral-style experts: the top-k router logits
// softmaxed (the renormalised softmax top-k) or sigmoided (renormalised with norm_topk_prob), an ungated shared MLP of
// num_shared_experts x intermediate_size added to them (the sum halved by default), and a dense prefix (first_k_dense_replace layers) whose layers
// all rotate q and k when prefix_dense_sliding_window_pattern is 1.
import {ModelLoadError, quotedValue} from '../errors.js'
import {cohere2View} from './cohere2-config.js'
import type {GroupedRouting} from './deepseek-config.js'

export const COHERE2_MOE = 'Cohere2MoeForCausalLM'

type Json = Record<string, unknown>

function nonNegative(config: Json, key: string, fallback: number, source: string): number {
  const value = config[key] ?? fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new ModelLoadError(`${source}: "${key}" must be a non-negative integer, got ${quotedValue(value)}.`)
  return value
}

/**
 * The config under the shared parser's keys, with Cohere2MoeConfig's defaults: layer_types and mlp_layer_types from
 * first_k_dense_replace (0) and the two window patterns, the dense layers prefix_dense_intermediate_size wide and the
 * experts intermediate_size wide, eps rms_norm_eps when set (RMSNorm) else layer_norm_eps (LayerNorm: the view keeps
 * layer_norm_eps only then), ids 5 / 255001 / 0.
 */
export function cohere2MoeView(config: Json, source: string): Json {
  const layers = config.num_hidden_layers
  const count = typeof layers === 'number' && Number.isInteger(layers) && layers > 0 && layers <= 10_000 ? layers : 0 // the shared parser names a bad one
  const dense = nonNegative(config, 'first_k_dense_replace', 0, source)
  const prefixEvery = nonNegative(config, 'prefix_dense_sliding_window_pattern', 1, source)
  const every = nonNegative(config, 'sliding_window_pattern', 4, source)
  if (prefixEvery === 0 || every === 0) throw new ModelLoadError(`${source}: the sliding window patterns of ${COHERE2_MOE} must be positive integers.`)
  const layerTypes = config.layer_types ?? Array.from({length: count}, (_, i) =>
    (i < dense ? (i + 1) % prefixEvery : (i - dense + 1) % every) !== 0 ? 'sliding_attention' : 'full_attention')
  const mlpLayerTypes = config.mlp_layer_types ?? Array.from({length: count}, (_, i) => (i < dense ? 'dense' : 'sparse'))
  const rms = config.rms_norm_eps ?? null
  const view = cohere2View({...config, layer_types: layerTypes, sliding_window: config.sliding_window === undefined ? 4096 : config.sliding_window}, source)
  const intermediate = config.intermediate_size ?? 22528
  return {
    ...view,
    ...(rms === null ? {layer_norm_eps: view.rms_norm_eps} : {rms_norm_eps: rms, layer_norm_eps: undefined}),
    mlp_layer_types: mlpLayerTypes,
    intermediate_size: config.prefix_dense_intermediate_size ?? intermediate,
    moe_intermediate_size: intermediate,
    bos_token_id: config.bos_token_id === undefined ? 5 : config.bos_token_id,
    eos_token_id: config.eos_token_id === undefined ? 255001 : config.eos_token_id,
    pad_token_id: config.pad_token_id === undefined ? 0 : config.pad_token_id,
  }
}

/** Per layer: whether it rotates q and k (its sliding layers, and with prefix_dense_sliding_window_pattern 1 the dense prefix too). */
export function cohere2MoeRopeLayers(config: Json): boolean[] | undefined {
  const forced = (config.prefix_dense_sliding_window_pattern ?? 1) === 1
  const mlp = config.mlp_layer_types as unknown[]
  const rope = (config.layer_types as string[]).map((type, i) => type === 'sliding_attention' || (forced && mlp[i] === 'dense'))
  return rope.every(Boolean) ? undefined : rope
}

/** The sparse layers, the shared MLP's width, and the routing (softmax over the top-k logits, or their sigmoids). */
export function cohere2MoeExperts(config: Json, numLayers: number, expertWidth: number, source: string): {sparseLayers: boolean[]; shared: number; normTopkProb: boolean; grouped?: GroupedRouting; sharedExpertAverage?: true} {
  const types = config.mlp_layer_types
  if (!Array.isArray(types) || types.length !== numLayers || types.some((t) => t !== 'dense' && t !== 'sparse')) {
    throw new ModelLoadError(`${source}: "mlp_layer_types" must list "dense" or "sparse" for each of the ${numLayers} layers.`)
  }
  const count = nonNegative(config, 'num_shared_experts', 0, source)
  const strategy = config.shared_expert_combination_strategy ?? 'average'
  if (strategy !== 'sum' && strategy !== 'average') throw new ModelLoadError(`${source}: "shared_expert_combination_strategy" must be "sum" or "average", got ${quotedValue(strategy)}.`)
  const selection = config.expert_selection_fn ?? 'softmax'
  const normTopk = config.norm_topk_prob ?? true
  if (typeof normTopk !== 'boolean') throw new ModelLoadError(`${source}: "norm_topk_prob" must be a boolean.`)
  const sparseLayers = types.map((t) => t === 'sparse')
  const average = count > 0 && strategy === 'average' ? {sharedExpertAverage: true as const} : {}
  // The softmax of the top-k logits is the softmax top-k renormalised, whatever norm_topk_prob says.
  if (selection === 'softmax') return {sparseLayers, shared: count * expertWidth, normTopkProb: true, ...average}
  if (selection !== 'sigmoid') throw new ModelLoadError(`${source}: "expert_selection_fn" must be "softmax" or "sigmoid", got ${quotedValue(selection)}.`)
  return {sparseLayers, shared: count * expertWidth, normTopkProb: normTopk, ...average, grouped: {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: false, routerBias: false, routedScalingFactor: 1}}
}
