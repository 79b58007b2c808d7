// The config.json of the third batch of hybrid test-model variants, for test-model.ts: kimi-linear (Kimi Delta
// Attention among NoPE latent-attention layers over DeepSeek-V3's experts: kimi-linear-config.ts) and zamba2 (Mamba-2
// layers, some running shared transformer blocks: zamba2-config.ts).

export type Hybrid3TestVariant = 'kimi-linear' | 'zamba2'
export const HYBRID3_TEST_VARIANTS: readonly Hybrid3TestVariant[] = ['kimi-linear', 'zamba2']

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
export function hybrid3TestModelConfigJson(variant: Hybrid3TestVariant, common: Record<string, unknown> & {num_attention_heads: number}): Record<string, unknown> {
  const {head_dim: _, max_position_embeddings: maxPositions, ...rest} = common
  if (variant === 'zamba2') return zamba2TestModelConfigJson(rest, maxPositions)
  return {
    architectures: ['KimiLinearForCausalLM'], model_type: 'kimi_linear', ...rest, num_hidden_layers: 3, num_key_value_heads: common.num_attention_heads,
    model_max_length: maxPositions, pad_token_id: null, rms_norm_eps: 1e-5, tie_word_embeddings: false, attention_bias: false,
    kv_lora_rank: 32, q_lora_rank: null, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 12, mla_use_nope: true,
    num_experts: 8, num_experts_per_token: 2, moe_intermediate_size: 32, num_shared_experts: 1, num_expert_group: 2, topk_group: 1,
    moe_renormalize: true, moe_router_activation_func: 'sigmoid', routed_scaling_factor: 2.446, first_k_dense_replace: 1,
    linear_attn_config: {full_attn_layers: [2], kda_layers: [1, 3], head_dim: 16, num_heads: 2, short_conv_kernel_size: 4},
  }
}

/**
 * zamba2: five layers, mamba / hybrid / mamba / hybrid / hybrid over two shared blocks (layers 1 and 4 run block 0 with
 * their own adapters, layer 3 block 1), adapters of rank 8 on q/k/v and gate_up, rope in the shared attention, 4 Mamba
 * heads in 2 groups (the gated norm per group), erf gelu; tied embeddings, as released (transformers ties the shared
 * blocks' uses only then). The layer types as released configs write them ("mamba" / "hybrid").
 */
function zamba2TestModelConfigJson(rest: Record<string, unknown>, maxPositions: unknown): Record<string, unknown> {
  const {intermediate_size: _, num_key_value_heads: _kv, ...common} = rest
  return {
    architectures: ['Zamba2ForCausalLM'], model_type: 'zamba2', ...common, num_hidden_layers: 5, max_position_embeddings: maxPositions, pad_token_id: 0,
    layers_block_type: ['mamba', 'hybrid', 'mamba', 'hybrid', 'hybrid'], num_mem_blocks: 2, use_shared_attention_adapter: true, adapter_rank: 8, use_mem_rope: true,
    intermediate_size: 96, hidden_act: 'gelu', rms_norm_eps: 1e-5, tie_word_embeddings: true, n_mamba_heads: 4, mamba_ngroups: 2, mamba_d_state: 8, mamba_d_conv: 4,
    mamba_expand: 2, time_step_min: 0.001, add_bias_linear: false, use_long_context: false, rope_parameters: {rope_type: 'default', rope_theta: 10000.0},
  }
}
