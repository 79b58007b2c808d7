// The config.json of the Nemotron-H and Falcon-H1 test-model variants (nemotron-h-config.ts, falcon-h1-config.ts), for test-model.ts.

export type SsmHybridTestVariant = 'nemotron-h' | 'nemotron-h-moe' | 'nemotron-h-latent' | 'falcon-h1' | 'falcon-h1-norm-first' | 'falcon-h1-ungated-norm'
export const SSM_HYBRID_TEST_VARIANTS: readonly SsmHybridTestVariant[] = ['nemotron-h', 'nemotron-h-moe', 'nemotron-h-latent', 'falcon-h1', 'falcon-h1-norm-first', 'falcon-h1-ungated-norm']

export function isSsmHybridTestVariant(variant: string): variant is SsmHybridTestVariant {
  return (SSM_HYBRID_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * nemotron-h: the pattern M-M*-M (six checkpoint layers, four engine layers: a mixer with its MLP, a mixer alone before
 * the attention, the attention with its MLP, a last mixer alone), 8 Mamba heads of 16 (twice the hidden width) in 2
 * groups (so the gated RMSNorm normalises two groups apart) with 16 state values, a conv kernel of 4 with its bias,
 * transformers' chunked prefill in chunks of 16 (the prompts cross them), relu2 MLPs, rope-free GQA attention.
 * nemotron-h-moe: the pattern MEM*E (three engine layers, two with MoE: 8 ungated relu2 experts of 32 top-2 chosen by
 * sigmoid score plus correction bias within the best of 2 groups, renormalised and scaled by 1.5, beside a shared expert of 48).
 * nemotron-h-latent: the same with moe_latent_size 24 (the experts between fc1_latent_proj and fc2_latent_proj).
 * falcon-h1: two layers, each a mixer of 6 heads of 16 (mamba_d_ssm 96, not the hidden width's multiple) in 2 groups
 * beside rope GQA attention, the gated RMSNorm per group after the gate (mamba_norm_before_gate false, as Falcon-H1
 * ships), every muP multiplier a different value. falcon-h1-norm-first: the norm before the gate (FalconH1Config's
 * default). falcon-h1-ungated-norm: without mamba_rms_norm (y * silu(z) straight to out_proj), mamba_d_ssm null (twice
 * the hidden width: 8 heads of 16) and one group.
 */
export function ssmHybridTestModelConfigJson(variant: SsmHybridTestVariant, common: Record<string, unknown>): Record<string, unknown> {
  if (variant.startsWith('falcon-h1')) return falconH1TestConfig(variant, common)
  const {hidden_act: _act, ...rest} = common
  const moe = variant === 'nemotron-h' ? {}
    : {hybrid_override_pattern: 'MEM*E', num_hidden_layers: 5, n_routed_experts: 8, num_experts_per_tok: 2, n_group: 2, topk_group: 1, moe_intermediate_size: 32,
        moe_shared_expert_intermediate_size: 48, routed_scaling_factor: 1.5, norm_topk_prob: true, moe_latent_size: variant === 'nemotron-h-latent' ? 24 : null}
  return {
    architectures: ['NemotronHForCausalLM'], model_type: 'nemotron_h', ...rest, num_hidden_layers: 6, hybrid_override_pattern: 'M-M*-M', ...moe,
    tie_word_embeddings: false, layer_norm_epsilon: 1e-5, mlp_hidden_act: 'relu2', mamba_hidden_act: 'silu', attention_bias: false, mlp_bias: false, use_bias: false,
    mamba_num_heads: 8, mamba_head_dim: 16, n_groups: 2, ssm_state_size: 16, conv_kernel: 4, use_conv_bias: true, chunk_size: 16, residual_in_fp32: true,
  }
}

function falconH1TestConfig(variant: SsmHybridTestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const plain = variant === 'falcon-h1-ungated-norm'
  return {
    architectures: ['FalconH1ForCausalLM'], model_type: 'falcon_h1', ...common, num_hidden_layers: 2, tie_word_embeddings: false, rms_norm_eps: 1e-5, rope_theta: 10000.0,
    mamba_d_ssm: plain ? null : 96, mamba_n_heads: plain ? 8 : 6, mamba_d_head: 'auto', mamba_n_groups: plain ? 1 : 2, mamba_d_state: 16, mamba_d_conv: 4, mamba_expand: 2,
    mamba_chunk_size: 16, mamba_conv_bias: true, mamba_proj_bias: false, mamba_rms_norm: !plain, mamba_norm_before_gate: variant === 'falcon-h1-norm-first', projectors_bias: false,
    attention_bias: false, mlp_bias: false, embedding_multiplier: 1.25, lm_head_multiplier: 0.75, ssm_multipliers: [0.8, 1.2, 0.9, 1.1, 0.7], ssm_in_multiplier: 1.3,
    ssm_out_multiplier: 0.6, attention_in_multiplier: 0.9, attention_out_multiplier: 1.4, key_multiplier: 0.5, mlp_multipliers: [1.5, 0.8],
  }
}
