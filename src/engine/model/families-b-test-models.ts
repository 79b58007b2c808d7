// The config.json of the emu3 (Emu3's language model: Llama's layers) test-model variant, for test-model.ts.

export type FamiliesBTestVariant = 'emu3'
export const FAMILIES_B_TEST_VARIANTS: readonly FamiliesBTestVariant[] = ['emu3']

export function isFamiliesBTestVariant(variant: string): variant is FamiliesBTestVariant {
  return (FAMILIES_B_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * emu3: Llama's layout under Emu3TextConfig, with attention_bias and mlp_bias on (the class reads both as Llama does,
 * so the biases show that they are read) and no rope base given (its class's 1e6). Its pad_token_id must be an id (its
 * default 151643 lies beyond a tiny vocabulary): the end-of-text token, as Phi-3's.
 */
export function familiesBTestModelConfigJson(_variant: FamiliesBTestVariant, common: Record<string, unknown>): Record<string, unknown> {
  return {architectures: ['Emu3ForCausalLM'], model_type: 'emu3_text_model', ...common, rms_norm_eps: 1e-5, attention_bias: true, mlp_bias: true, tie_word_embeddings: false, pad_token_id: common.eos_token_id}
}
