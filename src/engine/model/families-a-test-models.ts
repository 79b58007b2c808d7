// The config.json of the mistral4 test-model variant (Mistral Small 4: mistral4-config.ts), for test-model.ts.

export type FamiliesATestVariant = 'mistral4'
export const FAMILIES_A_TEST_VARIANTS: readonly FamiliesATestVariant[] = ['mistral4']

export function isFamiliesATestVariant(variant: string): variant is FamiliesATestVariant {
  return (FAMILIES_A_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * mistral4: three layers, latent attention with q through its normed latent (q_lora_rank 24), k_pe and v sizes that
 * differ, rms_norm_eps 1e-3 (wide enough to show that the latent norms keep their class's 1e-6); YaRN x4 over an
 * original context of 64 (to 256) whose mscale and mscale_all_dim differ (so both the cos/sin factor and the softmax
 * scale move) with llama_4_scaling_beta 0.1 (the context capped at 64, past the longest prompt); layer 0's MLP dense,
 * then 8 experts (2 x 24 wide apart from hidden 64, so a transposed layout would show) in 2 groups (one kept) by
 * softmax, top-2 renormalised and scaled by 1.5, one shared expert.
 */
export function familiesATestModelConfigJson(_variant: FamiliesATestVariant, common: Record<string, unknown> & {num_attention_heads: number}): Record<string, unknown> {
  const {head_dim: _, ...rest} = common
  return {
    architectures: ['Mistral4ForCausalLM'], model_type: 'mistral4', ...rest, num_hidden_layers: 3, max_position_embeddings: 256, num_key_value_heads: common.num_attention_heads,
    rms_norm_eps: 1e-3, tie_word_embeddings: false, attention_bias: false, pad_token_id: null,
    q_lora_rank: 24, kv_lora_rank: 32, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 12,
    n_routed_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 24, n_shared_experts: 1, n_group: 2, topk_group: 1,
    routed_scaling_factor: 1.5, norm_topk_prob: true, first_k_dense_replace: 1, rope_interleave: true,
    rope_parameters: {rope_type: 'yarn', rope_theta: 10000.0, factor: 4.0, original_max_position_embeddings: 64, beta_fast: 32.0, beta_slow: 1.0,
      mscale: 0.8, mscale_all_dim: 1.2, llama_4_scaling_beta: 0.1, partial_rotary_factor: 1 / 3},
  }
}
