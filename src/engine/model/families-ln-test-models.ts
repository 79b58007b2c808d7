// The config.json of the codegen (CodeGen: layernorm-codegen.ts), persimmon (Persimmon: layernorm-persimmon.ts), xglm
// (XGLM: layernorm-xglm.ts), openai-gpt (GPT-1: layernorm-openai-gpt.ts) and biogpt (BioGPT: layernorm-biogpt.ts)
// test-model variants, for test-model.ts.

export type FamiliesLnTestVariant = 'codegen' | 'persimmon' | 'xglm' | 'openai-gpt' | 'biogpt'
export const FAMILIES_LN_TEST_VARIANTS: readonly FamiliesLnTestVariant[] = ['codegen', 'persimmon', 'xglm', 'openai-gpt', 'biogpt']

export function isFamiliesLnTestVariant(variant: string): variant is FamiliesLnTestVariant {
  return (FAMILIES_LN_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * codegen: 8 heads of 8 (so each of qkv_proj's 4 model-parallel blocks holds 2 heads, and a wrong head order shows),
 * rotate_every_two over the first 4 values of each head, gelu_new, biases on the MLP and lm_head, untied. persimmon: 4 heads
 * of 16, q/k LayerNorms, a quarter of each head rotated (partial_rotary_factor at the top level, as Persimmon-8B's
 * config.json has it) at base 25000, relu2, untied. xglm: embeddings scaled by sqrt(64), sinusoidal positions whose
 * zeroed padding row is pad_token_id 5's (so position 3 reads zeros, as in transformers), exact gelu, untied. openai-gpt:
 * post-LN Conv1D blocks (the MLP 4 x n_embd, as GPT-1's always is), learned positions, its "gelu" (the tanh form),
 * untied. biogpt: embeddings scaled by sqrt(64), learned positions from row p + 2, layer_norm_eps 1e-3 (which no module
 * reads: its LayerNorms keep 1e-5), untied.
 */
export function familiesLnTestModelConfigJson(variant: FamiliesLnTestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const {vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, max_position_embeddings, bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model} = common
  if (variant === 'openai-gpt') {
    return {
      architectures: ['OpenAIGPTLMHeadModel'], model_type: variant, vocab_size, n_embd: hidden_size, n_layer: num_hidden_layers, n_head: num_attention_heads,
      n_positions: max_position_embeddings, afn: 'gelu', layer_norm_epsilon: 1e-5, tie_word_embeddings: false, bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model,
    }
  }
  if (variant === 'biogpt') {
    return {
      architectures: ['BioGptForCausalLM'], model_type: variant, vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, max_position_embeddings,
      hidden_act: 'gelu', layer_norm_eps: 1e-3, scale_embedding: true, tie_word_embeddings: false, pad_token_id: 1, bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model,
    }
  }
  if (variant === 'xglm') {
    return {
      architectures: ['XGLMForCausalLM'], model_type: variant, vocab_size, d_model: hidden_size, ffn_dim: intermediate_size, num_layers: num_hidden_layers, attention_heads: num_attention_heads,
      max_position_embeddings, activation_function: 'gelu', scale_embedding: true, add_cross_attention: false, tie_word_embeddings: false, pad_token_id: 5,
      bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model,
    }
  }
  if (variant === 'persimmon') {
    return {
      architectures: ['PersimmonForCausalLM'], model_type: variant, vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, max_position_embeddings,
      hidden_act: 'relu2', layer_norm_eps: 1e-5, qk_layernorm: true, rope_theta: 25000.0, partial_rotary_factor: 0.25, tie_word_embeddings: false,
      bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model,
    }
  }
  return {
    architectures: ['CodeGenForCausalLM'], model_type: variant, vocab_size, n_embd: hidden_size, n_inner: intermediate_size, n_layer: num_hidden_layers, n_head: 8,
    n_positions: max_position_embeddings, n_ctx: max_position_embeddings, rotary_dim: 4, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: false,
    bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model,
  }
}
