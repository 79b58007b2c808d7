// The config.json of the codegen (CodeGen: layernorm-codegen.ts) test-model variant, for test-model.ts.

export type FamiliesLnTestVariant = 'codegen'
export const FAMILIES_LN_TEST_VARIANTS: readonly FamiliesLnTestVariant[] = ['codegen']

export function isFamiliesLnTestVariant(variant: string): variant is FamiliesLnTestVariant {
  return (FAMILIES_LN_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * codegen: 8 heads of 8 (so each of qkv_proj's 4 model-parallel blocks holds 2 heads, and a wrong head order shows),
 * rotate_every_two over the first 4 values of each head, gelu_new, biases on the MLP and lm_head, untied.
 */
export function familiesLnTestModelConfigJson(variant: FamiliesLnTestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const {vocab_size, hidden_size, intermediate_size, num_hidden_layers, max_position_embeddings, bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model} = common
  return {
    architectures: ['CodeGenForCausalLM'], model_type: variant, vocab_size, n_embd: hidden_size, n_inner: intermediate_size, n_layer: num_hidden_layers, n_head: 8,
    n_positions: max_position_embeddings, n_ctx: max_position_embeddings, rotary_dim: 4, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: false,
    bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model,
  }
}
