// The config.json of the LFM2 test-model variants (lfm2-config.ts), for test-model.ts.

export type Lfm2TestVariant = 'lfm2' | 'lfm2-moe'
export const LFM2_TEST_VARIANTS: readonly Lfm2TestVariant[] = ['lfm2', 'lfm2-moe']

export function isLfm2TestVariant(variant: string): variant is Lfm2TestVariant {
  return (LFM2_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * Both: conv / attention / conv layers (the conv state carries across the attention layer), a conv kernel of 3 as LFM2
 * ships, per-head q/k norms, rope base 1e6, the preset's GQA heads. lfm2: layers by full_attn_idxs, untied by LFM2's own
 * tie_embedding key (Lfm2Config ties by default), an MLP width from block_ff_dim adjusted as block_auto_adjust_ff_dim does (two thirds of
 * 200 rounded up to a multiple of 32: 160). lfm2-moe: layers by layer_types, layer 0 dense (num_dense_layers 1), then 4
 * experts of half the preset's MLP width, top-2 by sigmoid score plus expert_bias, renormalised and scaled by 1.5; untied.
 */
export function lfm2TestModelConfigJson(variant: Lfm2TestVariant, common: Record<string, unknown> & {intermediate_size: number}): Record<string, unknown> {
  const {head_dim: _d, hidden_act: _act, intermediate_size: inter, ...rest} = common
  const shared = {...rest, num_hidden_layers: 3, norm_eps: 1e-5, rope_theta: 1000000.0, conv_L_cache: 3, conv_bias: false}
  if (variant === 'lfm2') {
    return {architectures: ['Lfm2ForCausalLM'], model_type: 'lfm2', ...shared, full_attn_idxs: [1], tie_embedding: false,
      block_ff_dim: 200, block_auto_adjust_ff_dim: true, block_ffn_dim_multiplier: 1.0, block_multiple_of: 32}
  }
  return {architectures: ['Lfm2MoeForCausalLM'], model_type: 'lfm2_moe', ...shared, layer_types: ['conv', 'full_attention', 'conv'], tie_word_embeddings: false,
    intermediate_size: inter, moe_intermediate_size: inter / 2, num_experts: 4, num_experts_per_tok: 2, num_dense_layers: 1,
    use_expert_bias: true, norm_topk_prob: true, routed_scaling_factor: 1.5}
}
