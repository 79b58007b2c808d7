// The config.json of the Jais 2, CWM, MiniCPM3 and Granite SWA test-model variants, for test-model.ts.

export type Dense2TestVariant = 'jais2' | 'cwm' | 'minicpm3' | 'granite-swa'
export const DENSE2_TEST_VARIANTS: readonly Dense2TestVariant[] = ['jais2', 'cwm', 'minicpm3', 'granite-swa']

export function isDense2TestVariant(variant: string): variant is Dense2TestVariant {
  return (DENSE2_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * jais2: Jais2Config's defaults where they matter left out (hidden_act relu2, every projection biased, layer_norm_eps), so
 * the parser's defaults are what runs. cwm: CwmConfig's defaults left out (its llama3 rope at base 1e6, layer_types: layer
 * 0 full, layer 1 sliding) with a window of 8, and attention_bias true, which CwmAttention does not read. minicpm3: latent
 * attention with q_lora_rank 32, kv_lora_rank 16, 16 + 8 values per head (V 16), and its three multipliers away from 1
 * (hidden / dim_model_base 2, a power of two, so dividing the hidden state equals scaling the logits). granite-swa: four
 * layers (GraniteSWAConfig's layer_types: layer 0 full, the others sliding, a window of 8), rope bases 1e6 on the full
 * layer, 1e4 on the sliding ones but none on layer 2 (layer_rope_theta 0), Granite's multipliers, sinks. All untied.
 */
export function dense2TestModelConfigJson(variant: Dense2TestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const {hidden_act: _act, ...rest} = common
  if (variant === 'jais2') return {architectures: ['Jais2ForCausalLM'], model_type: 'jais2', ...rest, rope_theta: 10000.0, tie_word_embeddings: false, pad_token_id: common.eos_token_id}
  if (variant === 'minicpm3') {
    return {architectures: ['MiniCPM3ForCausalLM'], model_type: 'minicpm3', ...common, num_key_value_heads: common.num_attention_heads, head_dim: undefined, rms_norm_eps: 1e-5,
      rope_theta: 10000.0, q_lora_rank: 32, kv_lora_rank: 16, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 16, scale_emb: 2.5, scale_depth: 1.4,
      dim_model_base: (common.hidden_size as number) / 2, tie_word_embeddings: false, pad_token_id: common.eos_token_id}
  }
  if (variant === 'granite-swa') {
    return {architectures: ['GraniteSWAForCausalLM'], model_type: 'granite_swa', ...common, num_hidden_layers: 4, rms_norm_eps: 1e-6, rope_theta: 10000.0, sliding_window: 8,
      layer_rope_theta: [1e6, 1e4, 0, 1e4], embedding_multiplier: 1.75, residual_multiplier: 0.625, attention_multiplier: 0.375, logits_scaling: 1.5, tie_word_embeddings: false}
  }
  return {architectures: ['CwmForCausalLM'], model_type: 'cwm', ...common, sliding_window: 8, attention_bias: true, tie_word_embeddings: false, pad_token_id: common.eos_token_id}
}
