// The config.json of the third batch of hybrid test-model variants, for test-model.ts: kimi-linear (Kimi Delta
// Attention among NoPE latent-attention layers over DeepSeek-V3's experts: kimi-linear-config.ts).

export type Hybrid3TestVariant = 'kimi-linear'
export const HYBRID3_TEST_VARIANTS: readonly Hybrid3TestVariant[] = ['kimi-linear']

export function isHybrid3TestVariant(variant: string): variant is Hybrid3TestVariant {
  return (HYBRID3_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * kimi-linear: three layers, Kimi Delta Attention / latent attention / Kimi Delta Attention (so the state carries
 * across a full layer), 2 linear heads of 16 with a conv kernel of 4; latent attention with a plain q_proj (q_lora_rank
 * null, as released) and k_pe, v sizes that differ; layer 0's MLP dense, then 8 experts in 2 groups (one kept), top-2
 * renormalised and scaled by 2.446, one shared expert. Written as the released config.json names things
 * (linear_attn_config with 1-based layer lists, num_experts, num_experts_per_token, moe_renormalize, num_expert_group,
 * num_shared_experts, model_max_length), so the readers' key mapping is what is tested.
 */
export function hybrid3TestModelConfigJson(_variant: Hybrid3TestVariant, common: Record<string, unknown> & {num_attention_heads: number}): Record<string, unknown> {
  const {head_dim: _, max_position_embeddings: maxPositions, ...rest} = common
  return {
    architectures: ['KimiLinearForCausalLM'], model_type: 'kimi_linear', ...rest, num_hidden_layers: 3, num_key_value_heads: common.num_attention_heads,
    model_max_length: maxPositions, pad_token_id: null, rms_norm_eps: 1e-5, tie_word_embeddings: false, attention_bias: false,
    kv_lora_rank: 32, q_lora_rank: null, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 12, mla_use_nope: true,
    num_experts: 8, num_experts_per_token: 2, moe_intermediate_size: 32, num_shared_experts: 1, num_expert_group: 2, topk_group: 1,
    moe_renormalize: true, moe_router_activation_func: 'sigmoid', routed_scaling_factor: 2.446, first_k_dense_replace: 1,
    linear_attn_config: {full_attn_layers: [2], kda_layers: [1, 3], head_dim: 16, num_heads: 2, short_conv_kernel_size: 4},
  }
}
