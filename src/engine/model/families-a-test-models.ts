// The config.json of the mistral4 (Mistral Small 4: mistral4-config.ts), olmo-hybrid (OLMo Hybrid:
// olmo-hybrid-config.ts) and zamba (Zamba v1: zamba-config.ts) test-model variants, for test-model.ts.

export type FamiliesATestVariant = 'mistral4' | 'olmo-hybrid' | 'zamba'
export const FAMILIES_A_TEST_VARIANTS: readonly FamiliesATestVariant[] = ['mistral4', 'olmo-hybrid', 'zamba']

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
export function familiesATestModelConfigJson(variant: FamiliesATestVariant, common: Record<string, unknown> & {num_attention_heads: number}): Record<string, unknown> {
  const {head_dim: _, ...rest} = common
  if (variant === 'olmo-hybrid') return olmoHybridTestModelConfigJson(rest)
  if (variant === 'zamba') return zambaTestModelConfigJson(rest)
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

/**
 * olmo-hybrid: three layers, Gated DeltaNet / attention / Gated DeltaNet (so the state carries across a full layer), 2
 * key heads of 16 each read by 2 of 4 value heads of 12 (not twice the key size, so the sizes are read, not derived),
 * beta doubled (linear_allow_neg_eigval); attention with 2 KV heads for 4 and no rope (rope_theta null, as released).
 */
function olmoHybridTestModelConfigJson(rest: Record<string, unknown>): Record<string, unknown> {
  return {
    architectures: ['OlmoHybridForCausalLM'], model_type: 'olmo_hybrid', ...rest, num_hidden_layers: 3, num_key_value_heads: 2, rms_norm_eps: 1e-6,
    tie_word_embeddings: false, attention_bias: false, pad_token_id: null, layer_types: ['linear_attention', 'full_attention', 'linear_attention'],
    linear_num_key_heads: 2, linear_num_value_heads: 4, linear_key_head_dim: 16, linear_value_head_dim: 12, linear_conv_kernel_dim: 4, linear_allow_neg_eigval: true,
    rope_parameters: {rope_type: 'default', rope_theta: null},
  }
}

/**
 * zamba: five layers, mamba / hybrid / mamba / hybrid / mamba (the one shared block run twice, by layers 1 and 3, each
 * through its own linear), 2 KV heads for 4 in the shared attention (heads of 2 x hidden / heads, no rope), 2 Mamba
 * heads (each with its own x_proj and dt_proj) of state 8, dt rank auto (4), erf gelu; tied embeddings, as released
 * (transformers ties the shared block's uses only then). The layer types as the released config writes them.
 */
function zambaTestModelConfigJson(rest: Record<string, unknown>): Record<string, unknown> {
  return {
    architectures: ['ZambaForCausalLM'], model_type: 'zamba', ...rest, num_hidden_layers: 5, num_key_value_heads: 2, intermediate_size: 96, pad_token_id: 0,
    layers_block_type: ['mamba', 'hybrid', 'mamba', 'hybrid', 'mamba'], hidden_act: 'gelu', rms_norm_eps: 1e-5, tie_word_embeddings: true,
    n_mamba_heads: 2, mamba_d_state: 8, mamba_d_conv: 4, mamba_expand: 2, mamba_dt_rank: 'auto', mamba_conv_bias: true, mamba_proj_bias: false, hidden_mamba_act: 'silu',
  }
}
