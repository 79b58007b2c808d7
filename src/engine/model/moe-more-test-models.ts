// The config.json of the test-model variants of the MoE families on existing routing with a twist (ERNIE 4.5 MoE,
// dots.llm1, MiniMax-M2), for test-model.ts.

export type MoeMoreTestVariant = 'ernie4_5_moe' | 'dots1' | 'minimax_m2' | 'flex_olmo' | 'solar_open' | 'hunyuan_moe' | 'exaone_moe'
export const MOE_MORE_TEST_VARIANTS: readonly MoeMoreTestVariant[] = ['ernie4_5_moe', 'dots1', 'minimax_m2', 'flex_olmo', 'solar_open', 'hunyuan_moe', 'exaone_moe']

export function isMoeMoreTestVariant(variant: string): variant is MoeMoreTestVariant {
  return (MOE_MORE_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * ernie4_5_moe: Ernie4_5_MoeConfig's own keys (moe_num_experts 8, moe_k 2), layer 0 dense by moe_layer_start_index, one
 * shared expert, rope_theta and tie_word_embeddings left to the class's defaults (500000, tied), interleaved rope.
 * dots1: Qwen3's q/k norms and biases on every attention projection, a dense first layer, 8 experts in 2 groups (one
 * kept), top-2 left unnormalised (Dots1Config's default) and scaled by 2.5, one shared expert, no window (sliding_window null).
 * minimax_m2: Mixtral's names, 8 experts top-2 as wide as intermediate_size, heads of 32 (twice hidden / heads) rotated on
 * their first rotary_dim 16, whole-width q/k norms over 4 query and 2 KV heads, rope_theta left to the class's 5e6.
 * solar_open: q/k/v biases, rope in rope_parameters, 8 experts in 2 groups (one
 * kept) top-2 renormalised and scaled by 1.5, one shared expert, in every layer (intermediate_size left out, as SolarOpenConfig has none).
 * hunyuan_moe: the dense hunyuan variant's attention (q/k norms after rope, dynamic rope with alpha 1000, every bias) over
 * 4 experts of intermediate_size 32 with moe_topk a per-layer list of 2s, and the shared MLP.
 * exaone_moe: EXAONE 4's layer types from sliding_window_pattern 2 (layer 0 sliding with rope, a window of 8; layer 1 full
 * without), layer 0 dense (first_k_dense_replace's default), 8 experts in 2 groups (one kept) top-2 scaled by the default 2.5, one shared expert.
 * flex_olmo: OLMo2's post-norms and whole-width q/k norms, every attention bias, 4 experts top-2 unnormalised (FlexOlmoConfig's default).
 */
export function moeMoreTestModelConfigJson(variant: MoeMoreTestVariant, common: Record<string, unknown>): Record<string, unknown> {
  if (variant === 'ernie4_5_moe') {
    return {
      architectures: ['Ernie4_5_MoeForCausalLM'], model_type: 'ernie4_5_moe', ...common, rms_norm_eps: 1e-5, pad_token_id: common.eos_token_id,
      moe_num_experts: 8, moe_k: 2, moe_intermediate_size: 32, moe_num_shared_experts: 1, moe_layer_start_index: 1, moe_layer_end_index: -1, moe_layer_interval: 1, use_bias: false,
    }
  }
  if (variant === 'solar_open') {
    const {intermediate_size: _, ...rest} = common
    return {
      architectures: ['SolarOpenForCausalLM'], model_type: 'solar_open', ...rest, rms_norm_eps: 1e-5, tie_word_embeddings: false, attention_bias: true,
      rope_parameters: {rope_type: 'default', rope_theta: 10000.0}, n_routed_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 32,
      n_shared_experts: 1, n_group: 2, topk_group: 1, routed_scaling_factor: 1.5, norm_topk_prob: true,
    }
  }
  if (variant === 'hunyuan_moe') {
    return {
      architectures: ['HunYuanMoEV1ForCausalLM'], model_type: 'hunyuan_v1_moe', ...common, intermediate_size: 32, rope_theta: 10000.0, tie_word_embeddings: false,
      attention_bias: true, num_experts: 4, moe_topk: [2, 2], pad_token_id: common.eos_token_id,
      rope_scaling: {alpha: 1000.0, beta_fast: 32, beta_slow: 1, factor: 1.0, mscale: 1.0, mscale_all_dim: 1.0, type: 'dynamic'},
    }
  }
  if (variant === 'exaone_moe') {
    return {
      architectures: ['ExaoneMoeForCausalLM'], model_type: 'exaone_moe', ...common, rope_theta: 10000.0, tie_word_embeddings: false, pad_token_id: common.eos_token_id,
      sliding_window: 8, sliding_window_pattern: 2, num_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 32, num_shared_experts: 1, n_group: 2, topk_group: 1,
    }
  }
  if (variant === 'flex_olmo') {
    return {
      architectures: ['FlexOlmoForCausalLM'], model_type: 'flex_olmo', ...common, intermediate_size: 32, rms_norm_eps: 1e-6, rope_theta: 10000.0,
      tie_word_embeddings: false, attention_bias: true, num_experts: 4, num_experts_per_tok: 2, pad_token_id: common.eos_token_id,
    }
  }
  if (variant === 'minimax_m2') {
    return {
      architectures: ['MiniMaxM2ForCausalLM'], model_type: 'minimax_m2', ...common, intermediate_size: 32, head_dim: 32, rotary_dim: 16, rms_norm_eps: 1e-6,
      tie_word_embeddings: false, num_local_experts: 8, num_experts_per_tok: 2,
    }
  }
  return {
    architectures: ['Dots1ForCausalLM'], model_type: 'dots1', ...common, rms_norm_eps: 1e-6, rope_theta: 10000.0, tie_word_embeddings: false, attention_bias: true,
    sliding_window: null, n_routed_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 32, n_shared_experts: 1, first_k_dense_replace: 1,
    n_group: 2, topk_group: 1, routed_scaling_factor: 2.5,
  }
}
