// The config.json of the test-model variants of Llama-shaped families with a twist each (GLM, GLM-4-0414, ...), for test-model.ts.

export type TwistTestVariant = 'glm' | 'glm4' | 'exaone4' | 'seedoss' | 'helium' | 'ernie4_5' | 'arcee' | 'nemotron' | 'hunyuan' | 'vaultgemma' | 'ministral'
export const TWIST_TEST_VARIANTS: readonly TwistTestVariant[] = ['glm', 'glm4', 'exaone4', 'seedoss', 'helium', 'ernie4_5', 'arcee', 'nemotron', 'hunyuan', 'vaultgemma', 'ministral']

export function isTwistTestVariant(variant: string): variant is TwistTestVariant {
  return (TWIST_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * glm: GlmConfig's defaults where they matter (half of each head rotated, interleaved; q/k/v biases; eps 1.5625e-7) left
 * out, so the parser's defaults are what runs. glm4: the same with GLM-4-0414's sandwich norms and partial_rotary_factor
 * 0.75 in rope_parameters (transformers 5's place for it), so 6 of 16 values per head pass through unrotated. exaone4:
 * sliding_window_pattern 2 (layer 0 sliding with rope, a window of 8; layer 1 full without rope), layer_types left out.
 * seedoss: every bias on (q/k/v, o_proj's attention_out_bias, mlp_bias). helium: q/k/v and MLP biases, interleaved rope.
 * ernie4_5: use_bias (every projection), interleaved rope. arcee: its ungated relu2 MLP (hidden_act left out) with
 * mlp_bias. nemotron: the same MLP under LayerNorm1P (norm_eps left out), half of each head rotated by default, every bias
 * on (attention_bias, mlp_bias). hunyuan: q/k norms after rope, Hunyuan-7B's dynamic rope with alpha 1000, attention_bias.
 * vaultgemma: gemma2's test model without the post-norms (a window of 16 on layer 0, soft caps low enough to bend).
 * ministral: layer_types with layer 1 sliding (a window of 8), layer 0 full. Untied.
 */
export function twistTestModelConfigJson(variant: TwistTestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const llama = {...common, rope_theta: 10000.0, tie_word_embeddings: false, pad_token_id: common.eos_token_id}
  if (variant === 'exaone4') return {architectures: ['Exaone4ForCausalLM'], model_type: 'exaone4', ...llama, sliding_window: 8, sliding_window_pattern: 2}
  if (variant === 'seedoss') return {architectures: ['SeedOssForCausalLM'], model_type: 'seed_oss', ...llama, attention_bias: true, attention_out_bias: true, mlp_bias: true}
  if (variant === 'helium') return {architectures: ['HeliumForCausalLM'], model_type: 'helium', ...llama, attention_bias: true, mlp_bias: true}
  if (variant === 'ernie4_5') return {architectures: ['Ernie4_5ForCausalLM'], model_type: 'ernie4_5', ...llama, use_bias: true}
  if (variant === 'arcee') return {architectures: ['ArceeForCausalLM'], model_type: 'arcee', ...llama, hidden_act: undefined, mlp_bias: true}
  if (variant === 'nemotron') return {architectures: ['NemotronForCausalLM'], model_type: 'nemotron', ...llama, hidden_act: undefined, attention_bias: true, mlp_bias: true}
  if (variant === 'hunyuan') {
    return {architectures: ['HunYuanDenseV1ForCausalLM'], model_type: 'hunyuan_v1_dense', ...llama, attention_bias: true,
      rope_scaling: {alpha: 1000.0, beta_fast: 32, beta_slow: 1, factor: 1.0, mscale: 1.0, mscale_all_dim: 1.0, type: 'dynamic'}}
  }
  if (variant === 'vaultgemma') {
    return {architectures: ['VaultGemmaForCausalLM'], model_type: 'vaultgemma', ...llama, hidden_act: undefined, hidden_activation: 'gelu_pytorch_tanh', rms_norm_eps: 1e-6,
      query_pre_attn_scalar: 24, attn_logit_softcapping: 5.5, final_logit_softcapping: 12.5, sliding_window: 16}
  }
  if (variant === 'ministral') return {architectures: ['MinistralForCausalLM'], model_type: 'ministral', ...llama, sliding_window: 8, layer_types: ['full_attention', 'sliding_attention']}
  if (variant === 'glm') return {architectures: ['GlmForCausalLM'], model_type: 'glm', ...llama}
  return {architectures: ['Glm4ForCausalLM'], model_type: 'glm4', ...llama, rope_theta: undefined, rope_parameters: {rope_type: 'default', rope_theta: 10000.0, partial_rotary_factor: 0.75}}
}
