// The config.json of the Mamba-2 hybrid test-model variants (mamba2-config.ts), for test-model.ts.

export type Mamba2TestVariant = 'granitemoehybrid' | 'granitemoehybrid-dense' | 'bamba' | 'mamba2'
export const MAMBA2_TEST_VARIANTS: readonly Mamba2TestVariant[] = ['granitemoehybrid', 'granitemoehybrid-dense', 'bamba', 'mamba2']

export function isMamba2TestVariant(variant: string): variant is Mamba2TestVariant {
  return (MAMBA2_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * Every mixer: 8 heads of 16 over twice the hidden width, 2 groups of B and C with 16 state values each (so heads share
 * a group), a conv kernel of 4 with its bias, dt clamped to [0, inf). granitemoehybrid: mamba / attention / mamba layers
 * (the state carries across the attention layer), Granite's multipliers, rope, 4 experts of half the preset's MLP width
 * (top-2) beside a shared_mlp of three eighths of it. granitemoehybrid-dense: the same layers without rope ("nope", as
 * Granite 4.0 ships) and no experts (num_local_experts 0: the shared_mlp is the MLP), time_step_limit in transformers 5's
 * JSON ({"__float__": "Infinity"}). bamba: attention at attn_layer_indices [1] (half of each head rotated, as Bamba
 * fixes it). mamba2: two mixer-only layers (no attention, no KV cache, no MLP).
 */
export function mamba2TestModelConfigJson(variant: Mamba2TestVariant, common: Record<string, unknown> & {hidden_size: number; intermediate_size: number}): Record<string, unknown> {
  const inter = common.intermediate_size
  const layers = {num_hidden_layers: 3, tie_word_embeddings: false, rms_norm_eps: 1e-6}
  const mixer = {mamba_n_heads: 8, mamba_d_head: 16, mamba_n_groups: 2, mamba_d_state: 16, mamba_d_conv: 4, mamba_expand: 2, mamba_conv_bias: true, mamba_proj_bias: false, mamba_chunk_size: 256}
  if (variant === 'mamba2') {
    const {num_attention_heads: _h, num_key_value_heads: _kv, head_dim: _d, intermediate_size: _i, ...rest} = common
    return {architectures: ['Mamba2ForCausalLM'], model_type: 'mamba2', ...rest, num_hidden_layers: 2, tie_word_embeddings: false, layer_norm_epsilon: 1e-5,
      num_heads: 8, head_dim: 16, n_groups: 2, state_size: 16, conv_kernel: 4, expand: 2, use_bias: false, use_conv_bias: true, residual_in_fp32: true}
  }
  if (variant === 'bamba') {
    return {architectures: ['BambaForCausalLM'], model_type: 'bamba', ...common, ...layers, ...mixer, attn_layer_indices: [1], rope_theta: 10000.0, attention_bias: false, mlp_bias: false}
  }
  const dense = variant === 'granitemoehybrid-dense'
  return {
    architectures: ['GraniteMoeHybridForCausalLM'], model_type: 'granitemoehybrid', ...common, ...layers, ...mixer,
    layer_types: dense ? ['mamba', 'attention', 'mamba'] : ['linear_attention', 'full_attention', 'linear_attention'],
    embedding_multiplier: 1.75, residual_multiplier: 0.625, attention_multiplier: 0.375, logits_scaling: 1.5,
    position_embedding_type: dense ? 'nope' : 'rope', rope_theta: 10000.0, attention_bias: false,
    intermediate_size: inter / 2, num_local_experts: dense ? 0 : 4, num_experts_per_tok: 2, shared_intermediate_size: (3 * inter) / 8,
    time_step_limit: dense ? [0.0001, {__float__: 'Infinity'}] : [0.0001, 1000.5],
  }
}
