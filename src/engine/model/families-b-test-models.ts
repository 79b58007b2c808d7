// The config.json of the emu3 (Emu3's language model: Llama's layers) and hyperclovax (HyperCLOVA X SEED:
// hyperclovax-config.ts) test-model variants, for test-model.ts.

export type FamiliesBTestVariant = 'emu3' | 'hyperclovax'
export const FAMILIES_B_TEST_VARIANTS: readonly FamiliesBTestVariant[] = ['emu3', 'hyperclovax']

export function isFamiliesBTestVariant(variant: string): variant is FamiliesBTestVariant {
  return (FAMILIES_B_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * emu3: Llama's layout under Emu3TextConfig, with attention_bias and mlp_bias on (the class reads both as Llama does,
 * so the biases show that they are read) and no rope base given (its class's 1e6). Its pad_token_id must be an id (its
 * default 151643 lies beyond a tiny vocabulary): the end-of-text token, as Phi-3's.
 */
export function familiesBTestModelConfigJson(variant: FamiliesBTestVariant, common: Record<string, unknown>): Record<string, unknown> {
  if (variant === 'hyperclovax') return hyperclovaxTestModelConfigJson(common)
  return {architectures: ['Emu3ForCausalLM'], model_type: 'emu3_text_model', ...common, rms_norm_eps: 1e-5, attention_bias: true, mlp_bias: true, tie_word_embeddings: false, pad_token_id: common.eos_token_id}
}

/**
 * hyperclovax: Granite's multipliers away from 1 (logits_scaling 1.5 multiplies here), attention_multiplier left out (its
 * class's head_dim^-0.5, not Granite's 1) and the post-norms on (use_post_norm left out: true by default).
 */
function hyperclovaxTestModelConfigJson(common: Record<string, unknown>): Record<string, unknown> {
  return {
    architectures: ['HyperCLOVAXForCausalLM'], model_type: 'hyperclovax', ...common, rms_norm_eps: 1e-5, rope_theta: 10000.0, attention_bias: false, mlp_bias: false,
    tie_word_embeddings: false, embedding_multiplier: 1.75, residual_multiplier: 0.625, logits_scaling: 1.5,
  }
}
