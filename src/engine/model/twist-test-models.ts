// The config.json of the test-model variants of Llama-shaped families with a twist each (GLM, GLM-4-0414, ...), for test-model.ts.

export type TwistTestVariant = 'glm' | 'glm4' | 'exaone4'
export const TWIST_TEST_VARIANTS: readonly TwistTestVariant[] = ['glm', 'glm4', 'exaone4']

export function isTwistTestVariant(variant: string): variant is TwistTestVariant {
  return (TWIST_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * glm: GlmConfig's defaults where they matter (half of each head rotated, interleaved; q/k/v biases; eps 1.5625e-7) left
 * out, so the parser's defaults are what runs. glm4: the same with GLM-4-0414's sandwich norms and partial_rotary_factor
 * 0.75 in rope_parameters (transformers 5's place for it), so 6 of 16 values per head pass through unrotated. exaone4:
 * sliding_window_pattern 2 (layer 0 sliding with rope, a window of 8; layer 1 full without rope), layer_types left out.
 * Untied.
 */
export function twistTestModelConfigJson(variant: TwistTestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const llama = {...common, rope_theta: 10000.0, tie_word_embeddings: false, pad_token_id: common.eos_token_id}
  if (variant === 'exaone4') return {architectures: ['Exaone4ForCausalLM'], model_type: 'exaone4', ...llama, sliding_window: 8, sliding_window_pattern: 2}
  if (variant === 'glm') return {architectures: ['GlmForCausalLM'], model_type: 'glm', ...llama}
  return {architectures: ['Glm4ForCausalLM'], model_type: 'glm4', ...llama, rope_theta: undefined, rope_parameters: {rope_type: 'default', rope_theta: 10000.0, partial_rotary_factor: 0.75}}
}
