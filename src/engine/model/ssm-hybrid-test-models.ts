// The config.json of the Nemotron-H test-model variant (nemotron-h-config.ts), for test-model.ts.

export type SsmHybridTestVariant = 'nemotron-h'
export const SSM_HYBRID_TEST_VARIANTS: readonly SsmHybridTestVariant[] = ['nemotron-h']

export function isSsmHybridTestVariant(variant: string): variant is SsmHybridTestVariant {
  return (SSM_HYBRID_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * nemotron-h: the pattern M-M*-M (six checkpoint layers, four engine layers: a mixer with its MLP, a mixer alone before
 * the attention, the attention with its MLP, a last mixer alone), 8 Mamba heads of 16 (twice the hidden width) in 2
 * groups (so the gated RMSNorm normalises two groups apart) with 16 state values, a conv kernel of 4 with its bias,
 * transformers' chunked prefill in chunks of 16 (the prompts cross them), relu2 MLPs, rope-free GQA attention.
 */
export function ssmHybridTestModelConfigJson(_variant: SsmHybridTestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const {hidden_act: _act, ...rest} = common
  return {
    architectures: ['NemotronHForCausalLM'], model_type: 'nemotron_h', ...rest, num_hidden_layers: 6, hybrid_override_pattern: 'M-M*-M',
    tie_word_embeddings: false, layer_norm_epsilon: 1e-5, mlp_hidden_act: 'relu2', mamba_hidden_act: 'silu', attention_bias: false, mlp_bias: false, use_bias: false,
    mamba_num_heads: 8, mamba_head_dim: 16, n_groups: 2, ssm_state_size: 16, conv_kernel: 4, use_conv_bias: true, chunk_size: 16, residual_in_fp32: true,
  }
}
