// The config.json of the Jais 2 and CWM test-model variants, for test-model.ts.

export type Dense2TestVariant = 'jais2' | 'cwm'
export const DENSE2_TEST_VARIANTS: readonly Dense2TestVariant[] = ['jais2', 'cwm']

export function isDense2TestVariant(variant: string): variant is Dense2TestVariant {
  return (DENSE2_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * jais2: Jais2Config's defaults where they matter left out (hidden_act relu2, every projection biased, layer_norm_eps), so
 * the parser's defaults are what runs. cwm: CwmConfig's defaults left out (its llama3 rope at base 1e6, layer_types: layer
 * 0 full, layer 1 sliding) with a window of 8, and attention_bias true, which CwmAttention does not read. Both untied.
 */
export function dense2TestModelConfigJson(variant: Dense2TestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const {hidden_act: _act, ...rest} = common
  if (variant === 'jais2') return {architectures: ['Jais2ForCausalLM'], model_type: 'jais2', ...rest, rope_theta: 10000.0, tie_word_embeddings: false, pad_token_id: common.eos_token_id}
  return {architectures: ['CwmForCausalLM'], model_type: 'cwm', ...common, sliding_window: 8, attention_bias: true, tie_word_embeddings: false, pad_token_id: common.eos_token_id}
}
