// The config.json of the Gemma-family test-model variants (gemma, gemma2, gemma3), for test-model.ts.

export type GemmaTestVariant = 'gemma' | 'gemma2' | 'gemma3'

export function isGemmaTestVariant(variant: string): variant is GemmaTestVariant {
  return variant === 'gemma' || variant === 'gemma2' || variant === 'gemma3'
}

/**
 * gemma: one KV head, GeGLU, tied. gemma2: soft caps large enough to bend random scores and logits, a query scalar
 * apart from head_dim, a window of 16 on every other layer. gemma3: gemma2's layout without soft caps (q/k norms come
 * with the architecture), a window of 8 on layer 0 (pattern 2) with rope_local_base_freq there and rope_theta 1e6
 * with linear scaling 8 on the full layer. Head size twice hidden / heads, as real Gemma's 256 is.
 */
export function gemmaTestModelConfigJson(variant: GemmaTestVariant, common: Record<string, unknown> & {hidden_size: number; num_attention_heads: number}): Record<string, unknown> {
  const base = {...common, head_dim: (2 * common.hidden_size) / common.num_attention_heads, rms_norm_eps: 1e-6, attention_bias: false, tie_word_embeddings: true}
  if (variant === 'gemma') {
    return {architectures: ['GemmaForCausalLM'], model_type: 'gemma', ...base, num_key_value_heads: 1, hidden_act: 'gelu_pytorch_tanh', rope_theta: 10000.0}
  }
  // Gemma2Config and Gemma3TextConfig read hidden_activation.
  const later = {...base, num_key_value_heads: 2, hidden_act: undefined, hidden_activation: 'gelu_pytorch_tanh', query_pre_attn_scalar: 24}
  if (variant === 'gemma2') {
    return {
      architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2', ...later, rope_theta: 10000.0,
      attn_logit_softcapping: 5.5, // not whole numbers: Gemma2Config wants floats and JSON writes 5.0 as 5
      final_logit_softcapping: 12.5,
      sliding_window: 16,
    }
  }
  return {
    architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', ...later,
    rope_theta: 1000000.0, rope_local_base_freq: 10000.0, rope_scaling: {rope_type: 'linear', factor: 8.0},
    sliding_window: 8, sliding_window_pattern: 2,
  }
}
