// The config.json of the Apertus, BitNet, NanoChat and DiffLlama test-model variants, for test-model.ts.

export type Dense3TestVariant = 'apertus' | 'bitnet' | 'nanochat' | 'diffllama'
export const DENSE3_TEST_VARIANTS: readonly Dense3TestVariant[] = ['apertus', 'bitnet', 'nanochat', 'diffllama']

export function isDense3TestVariant(variant: string): variant is Dense3TestVariant {
  return (DENSE3_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * apertus: ApertusConfig's defaults where they matter left out (hidden_act xielu, eps 1e-5, its llama3 rope x8 over 8192
 * positions at base 1.2e7, which scales the slow half of a 16-value head), so the parser's defaults are what runs. bitnet:
 * microsoft/bitnet-b1.58-2B-4T-bf16's quantization_config (autobitlinear, online: ternary weights, int8 activations), its
 * relu2, eps and rope base 5e5 left out. nanochat: NanoChatConfig's relu2 and final_logit_softcapping 15 (which bends
 * the logits of a random model by a few percent) left out. diffllama: 4 heads over 2 KV heads (GQA, so each pass's value
 * heads differ per pair), eps 1e-5 left out. Untied.
 */
export function dense3TestModelConfigJson(variant: Dense3TestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const {hidden_act: _act, ...rest} = common
  if (variant === 'bitnet') {
    return {architectures: ['BitNetForCausalLM'], model_type: variant, ...rest, tie_word_embeddings: false,
      quantization_config: {quant_method: 'bitnet', linear_class: 'autobitlinear', quantization_mode: 'online'}}
  }
  if (variant === 'diffllama') return {architectures: ['DiffLlamaForCausalLM'], model_type: variant, ...common, rope_theta: 10000.0, tie_word_embeddings: false}
  if (variant === 'nanochat') return {architectures: ['NanoChatForCausalLM'], model_type: variant, ...rest, tie_word_embeddings: false}
  return {architectures: ['ApertusForCausalLM'], model_type: variant, ...rest, tie_word_embeddings: false}
}
