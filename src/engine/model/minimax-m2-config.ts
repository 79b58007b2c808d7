// MiniMax-M2 (MiniMaxM2ForCausalLM) as transformers 5.18's MiniMaxM2Config reads it: Mixtral's layout and checkpoint
// names under attention whose q and k are each RMS-normed over the whole projection (OLMoE's wholeQkNorm) and rotated on
// their first rotary_dim values, routed by sigmoid scores chosen with e_score_correction_bias and renormalised (DeepSeek-V3's
// routing in one group, without scaling: grouped_topk.cpp).
import type {GroupedRouting} from './deepseek-config.js'
import {withPartialRotaryDefault} from './partial-rotary.js'
import type {RmsVariantFeatures} from './rms-variants.js'

export const MINIMAX_M2 = 'MiniMaxM2ForCausalLM'

type Json = Record<string, unknown>

/** MiniMaxM2Config's defaults, rotary_dim as partial_rotary_factor (its convert_rope_params_to_dict), no attention biases whatever attention_bias says. */
export function minimaxM2View(config: Json): Json {
  const headDim = typeof config.head_dim === 'number' && config.head_dim > 0 ? config.head_dim : 128
  const rotaryDim = config.rotary_dim
  const withDefaults = {
    ...config,
    num_key_value_heads: config.num_key_value_heads ?? 8,
    rope_theta: config.rope_theta ?? 5000000,
    bos_token_id: config.bos_token_id === undefined ? 200034 : config.bos_token_id,
    eos_token_id: config.eos_token_id === undefined ? 200020 : config.eos_token_id,
    attention_bias: false,
  }
  return typeof rotaryDim === 'number' ? withPartialRotaryDefault(withDefaults, rotaryDim / headDim) : withDefaults
}

/** MiniMaxM2TopKRouter: sigmoid scores, the top-k of score + bias, the chosen scores renormalised; every layer sparse, Mixtral's names. */
export function minimaxM2Moe(numLayers: number): {sparseLayers: boolean[]; mixtralNames: true; normTopkProb: true; grouped: GroupedRouting} {
  return {
    sparseLayers: Array<boolean>(numLayers).fill(true),
    mixtralNames: true,
    normTopkProb: true,
    grouped: {groups: 1, topkGroups: 1, sigmoid: true, groupTop2: false, routerBias: true, routedScalingFactor: 1},
  }
}

/** MiniMaxM2Attention (FlexOlmo's): q_norm over all query heads, k_norm over all KV heads, before rope; Llama's block otherwise. */
export function minimaxM2RmsVariant(): RmsVariantFeatures {
  return {residualMultiplier: 1, logitsMultiplier: 1, postNormsOnly: false, wholeQkNorm: true, normMean: false, parallelBlock: false, normAffine: true, clipQkv: 0}
}
