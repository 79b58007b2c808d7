// K-EXAONE (ExaoneMoeForCausalLM) as transformers 5.18's ExaoneMoeConfig reads it: EXAONE 4's attention (per-head q/k
// norms, rope on the sliding layers only: exaone4-config.ts) in OLMoE's pre-norm block, over DeepSeek-V3's sigmoid routing
// with the correction bias, ungated shared experts, and dense layers from mlp_layer_types (deepseek-config.ts).
import {ModelLoadError, quotedValue} from '../errors.js'
import {exaone4View} from './exaone4-config.js'

export const EXAONE_MOE = 'ExaoneMoeForCausalLM'

type Json = Record<string, unknown>

/** EXAONE 4's reading with ExaoneMoeConfig's defaults, num_shared_experts under DeepSeek's key and mlp_layer_types from first_k_dense_replace (1). */
export function exaoneMoeView(config: Json, source: string): Json {
  const view = exaone4View(config, source)
  const layers = config.num_hidden_layers
  const dense = config.first_k_dense_replace ?? 1
  if (typeof dense !== 'number' || !Number.isInteger(dense) || dense < 0) throw new ModelLoadError(`${source}: "first_k_dense_replace" must be a non-negative integer, got ${quotedValue(dense)}.`)
  const mlpLayerTypes = config.mlp_layer_types ?? (typeof layers === 'number' && Number.isInteger(layers) && layers > 0 && layers <= 10_000
    ? Array.from({length: layers}, (_, i) => (i < dense ? 'dense' : 'sparse')) : undefined)
  return {
    ...view,
    bos_token_id: config.bos_token_id === undefined ? 1 : config.bos_token_id,
    eos_token_id: config.eos_token_id === undefined ? 53 : config.eos_token_id,
    num_experts: config.num_experts ?? 64,
    n_shared_experts: config.num_shared_experts ?? 1,
    mlp_layer_types: mlpLayerTypes,
  }
}
