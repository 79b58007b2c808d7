// The config.json of the hybrid linear-attention test-model variant (qwen3_5: Qwen 3.5's Gated DeltaNet layers among
// gated full-attention ones), for test-model.ts.

export type HybridTestVariant = 'qwen3_5' | 'qwen3_5_moe' | 'qwen3_next'
export const HYBRID_TEST_VARIANTS: readonly HybridTestVariant[] = ['qwen3_5', 'qwen3_5_moe', 'qwen3_next']

export function isHybridTestVariant(variant: string): variant is HybridTestVariant {
  return (HYBRID_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * qwen3_5: three layers, linear / full / linear (so a linear layer reads the full one's output and the state carries
 * across both), 2 key heads of 16 and 4 value heads of 8 (value heads share key heads, and k and v sizes differ so a
 * transposed state shows), a conv kernel of 4, full attention with head_dim twice hidden / heads and a quarter of it
 * rotated (partial_rotary_factor 0.25 in transformers 5's rope_parameters, mrope sections as Qwen 3.5 writes them).
 * qwen3_5_moe: the same layers over 4 experts of a quarter of the preset's MLP width, top-2, and a shared expert of
 * three eighths of it under its sigmoid gate; no intermediate_size, as Qwen3_5MoeTextConfig has none. qwen3_next: the
 * same experts, layer 0's MLP dense (mlp_only_layers), its linear projections fused by key-head group.
 */
export function hybridTestModelConfigJson(variant: HybridTestVariant, common: Record<string, unknown> & {hidden_size: number; num_attention_heads: number}): Record<string, unknown> {
  const headDim = (2 * common.hidden_size) / common.num_attention_heads
  const inter = common.intermediate_size as number
  const moe = variant === 'qwen3_5_moe'
    ? {architectures: ['Qwen3_5MoeForCausalLM'], model_type: 'qwen3_5_moe_text', intermediate_size: undefined, num_experts: 4, num_experts_per_tok: 2,
        moe_intermediate_size: inter / 4, shared_expert_intermediate_size: (3 * inter) / 8}
    : variant === 'qwen3_next'
      ? {architectures: ['Qwen3NextForCausalLM'], model_type: 'qwen3_next', num_experts: 4, num_experts_per_tok: 2, norm_topk_prob: true, decoder_sparse_step: 1,
          mlp_only_layers: [0], moe_intermediate_size: inter / 4, shared_expert_intermediate_size: (3 * inter) / 8}
      : {}
  return {
    architectures: ['Qwen3_5ForCausalLM'], model_type: 'qwen3_5_text', ...common, num_hidden_layers: 3, head_dim: headDim,
    layer_types: ['linear_attention', 'full_attention', 'linear_attention'], rms_norm_eps: 1e-6, attention_bias: false, tie_word_embeddings: false,
    linear_num_key_heads: 2, linear_num_value_heads: 4, linear_key_head_dim: 16, linear_value_head_dim: 8, linear_conv_kernel_dim: 4,
    rope_parameters: {rope_type: 'default', rope_theta: 1000000.0, partial_rotary_factor: 0.25, mrope_section: [2, 1, 1], mrope_interleaved: true},
    ...moe,
  }
}
