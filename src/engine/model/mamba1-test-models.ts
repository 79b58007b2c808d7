// The config.json of the Mamba-1 test-model variants (mamba1-config.ts), for test-model.ts.

export type Mamba1TestVariant = 'mamba' | 'falcon-mamba' | 'jamba'
export const MAMBA1_TEST_VARIANTS: readonly Mamba1TestVariant[] = ['mamba', 'falcon-mamba', 'jamba']

export function isMamba1TestVariant(variant: string): variant is Mamba1TestVariant {
  return (MAMBA1_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * Every mixer: twice the hidden width of channels, 16 state values each, a conv kernel of 4. mamba: two mixer-only
 * layers, tied embeddings (as state-spaces/mamba-*-hf ship), time_step_rank "auto" (hidden_size / 16), the conv's
 * bias. falcon-mamba: the same untied, with an explicit time_step_rank of 8, no conv bias and mixer_rms_eps 1e-5 for its
 * weightless dt / B / C norms. jamba: four layers, attention at 1 and 3 (attn_layer_period 2, offset 1), 4 experts
 * (top-2) at 0 and 3 (expert_layer_period 3, offset 0), so each of mixer and attention meets both a dense MLP and
 * experts; weighted dt / B / C norms.
 */
export function mamba1TestModelConfigJson(variant: Mamba1TestVariant, common: Record<string, unknown> & {hidden_size: number; intermediate_size: number}): Record<string, unknown> {
  if (variant === 'jamba') {
    return {architectures: ['JambaForCausalLM'], model_type: 'jamba', ...common, num_hidden_layers: 4, tie_word_embeddings: false, rms_norm_eps: 1e-6,
      attn_layer_period: 2, attn_layer_offset: 1, expert_layer_period: 3, expert_layer_offset: 0, num_experts: 4, num_experts_per_tok: 2,
      mamba_d_state: 16, mamba_d_conv: 4, mamba_expand: 2, mamba_dt_rank: 'auto', mamba_conv_bias: true, mamba_proj_bias: false}
  }
  const {num_attention_heads: _h, num_key_value_heads: _kv, head_dim: _d, intermediate_size: _i, ...rest} = common
  const mixer = {num_hidden_layers: 2, layer_norm_epsilon: 1e-5, state_size: 16, expand: 2, conv_kernel: 4, use_bias: false, residual_in_fp32: true}
  if (variant === 'mamba') return {architectures: ['MambaForCausalLM'], model_type: 'mamba', ...rest, ...mixer, tie_word_embeddings: true, time_step_rank: 'auto', use_conv_bias: true}
  return {architectures: ['FalconMambaForCausalLM'], model_type: 'falcon_mamba', ...rest, ...mixer, tie_word_embeddings: false, time_step_rank: 8, use_conv_bias: false, mixer_rms_eps: 1e-5}
}
