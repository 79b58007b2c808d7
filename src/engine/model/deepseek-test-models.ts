// The config.json of the DeepSeek test-model variants (and GLM-4-MoE's, on V3's routing), for moe-test-models.ts: a
// dense first layer, then shared and grouped-routed experts.

/**
 * deepseek-v2: a plain q_proj (q_lora_rank null, as V2-Lite), group_limited_greedy over 4 groups of 2 experts, top-3
 * scaled by 1.5, two shared experts. deepseek-v3: q through its normed latent, sigmoid routing with the correction
 * bias, groups ranked by their best two, top-2 renormalised and scaled by 2.5, one shared expert, and YaRN whose mscale
 * and mscale_all_dim differ (so both the cos/sin factor and the softmax scale move). glm4-moe: GQA with q/k/v biases,
 * q/k norms, rope on half of each head, V3's routing over 2 groups of 4 (one kept), scaled by 1.5. glm4-moe-lite:
 * V3's layers under Glm4MoeLiteConfig's defaults (one group, scaling 1.8), its sparse layers in mlp_layer_types.
 */
export function deepseekTestModelConfigJson(variant: 'deepseek-v2' | 'deepseek-v3' | 'glm4-moe' | 'glm4-moe-lite', common: Record<string, unknown>): Record<string, unknown> {
  if (variant === 'glm4-moe') {
    return {
      architectures: ['Glm4MoeForCausalLM'], model_type: 'glm4_moe', ...common, rms_norm_eps: 1e-5, rope_theta: 10000.0, tie_word_embeddings: false,
      attention_bias: true, use_qk_norm: true, partial_rotary_factor: 0.5, n_routed_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 32,
      n_shared_experts: 1, first_k_dense_replace: 1, n_group: 2, topk_group: 1, routed_scaling_factor: 1.5, norm_topk_prob: true,
    }
  }
  // DeepseekV3Config's default of 128 KV heads must be overridden; head_dim is derived (qk_rope_head_dim).
  const {head_dim: _, ...rest} = common
  const shared = {
    ...rest, num_key_value_heads: common.num_attention_heads, rms_norm_eps: 1e-6, rope_theta: 10000.0, tie_word_embeddings: false, attention_bias: false,
    kv_lora_rank: 32, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 12, n_routed_experts: 8, moe_intermediate_size: 32,
    first_k_dense_replace: 1, n_group: 4, topk_group: 2,
  }
  if (variant === 'deepseek-v2') {
    return {
      architectures: ['DeepseekV2ForCausalLM'], model_type: 'deepseek_v2', ...shared, q_lora_rank: null, num_experts_per_tok: 3,
      n_shared_experts: 2, topk_method: 'group_limited_greedy', routed_scaling_factor: 1.5, norm_topk_prob: false,
    }
  }
  if (variant === 'glm4-moe-lite') {
    return {
      architectures: ['Glm4MoeLiteForCausalLM'], model_type: 'glm4_moe_lite', ...shared, n_group: 1, topk_group: 1, q_lora_rank: 24,
      num_experts_per_tok: 2, n_shared_experts: 1, norm_topk_prob: true, mlp_layer_types: ['dense', 'sparse'],
    }
  }
  return {
    architectures: ['DeepseekV3ForCausalLM'], model_type: 'deepseek_v3', ...shared, q_lora_rank: 24, num_experts_per_tok: 2,
    n_shared_experts: 1, routed_scaling_factor: 2.5, norm_topk_prob: true, rope_interleave: true,
    rope_scaling: {type: 'yarn', factor: 4.0, original_max_position_embeddings: 128, mscale: 0.9, mscale_all_dim: 0.8, beta_fast: 32, beta_slow: 1},
  }
}
