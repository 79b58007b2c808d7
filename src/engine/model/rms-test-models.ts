// The config.json of the Granite, OLMo2, SmolLM3, Cohere, OLMo, OLMoE, GraniteMoE, Cohere2, OLMo 3, GraniteMoeShared and PhiMoE test-model variants, for test-model.ts.

export type RmsTestVariant = 'granite' | 'olmo2' | 'smollm3' | 'cohere' | 'olmo' | 'olmoe' | 'granitemoe' | 'cohere2' | 'olmo3' | 'granitemoeshared' | 'phimoe'
export const RMS_TEST_VARIANTS: readonly RmsTestVariant[] = ['granite', 'olmo2', 'smollm3', 'cohere', 'olmo', 'olmoe', 'granitemoe', 'cohere2', 'olmo3', 'granitemoeshared', 'phimoe']

export function isRmsTestVariant(variant: string): variant is RmsTestVariant {
  return (RMS_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * granite: every multiplier away from 1 and the attention one apart from 1 / sqrt(head_dim), small enough that random
 * embeddings times embedding_multiplier do not drown the layers. olmo2: its defaults (rms_norm_eps 1e-5 left out).
 * smollm3: no_rope_layer_interval 2 (layer 1 without rope) and a window of 8 on it, from SmolLM3Config's default
 * layer_types (no_rope_layers and layer_types left out). cohere: logit_scale 0.5 (its 0.0625 would flatten random
 * logits), layer_norm_eps 1e-5 left out. olmo, olmoe: clip_qkv low enough to clamp some random q/k/v values; olmoe: 6
 * experts of half the preset's MLP width, top-2 without renormalising (OlmoeConfig's default). granitemoe: granite's
 * multipliers over 4 experts of half the width, top-2, its experts fused per layer in the checkpoint. cohere2: cohere's with
 * sliding_window_pattern 2 (layer 0 sliding with rope, a window of 8; layer 1 full without rope). olmo3: olmo2's with layer 0
 * sliding (a window of 8, rope base 10000) and layer 1 full (base 1e6 with YaRN over an original context of 64), in
 * transformers 5's per-layer-type rope_parameters. granitemoeshared: granitemoe's with a shared expert a quarter of the
 * preset's MLP width. phimoe: 4 experts of half the width under sparsemixer with router_jitter_noise 0.25 (so its masks keep
 * some experts and drop others), every bias on, a window of 16 on every layer, and LongRoPE over an original context of
 * half max_position_embeddings with short_mscale 1.25 (long_mscale 1.5). All untied (see test-model.ts).
 */
export function rmsTestModelConfigJson(variant: RmsTestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const llama = {...common, attention_bias: false, mlp_bias: false, rope_theta: 10000.0, tie_word_embeddings: false}
  const multipliers = {embedding_multiplier: 1.75, residual_multiplier: 0.625, attention_multiplier: 0.375, logits_scaling: 1.5}
  if (variant === 'granite') return {architectures: ['GraniteForCausalLM'], model_type: 'granite', ...llama, rms_norm_eps: 1e-6, ...multipliers}
  if (variant === 'granitemoe' || variant === 'granitemoeshared') {
    const shared = variant === 'granitemoeshared'
    return {
      architectures: [shared ? 'GraniteMoeSharedForCausalLM' : 'GraniteMoeForCausalLM'], model_type: variant, ...llama, mlp_bias: undefined, rms_norm_eps: 1e-6, ...multipliers,
      intermediate_size: (common.intermediate_size as number) / 2, num_local_experts: 4, num_experts_per_tok: 2,
      ...(shared ? {shared_intermediate_size: (common.intermediate_size as number) / 4} : {}),
    }
  }
  if (variant === 'cohere') {
    return {architectures: ['CohereForCausalLM'], model_type: 'cohere', ...llama, mlp_bias: undefined, logit_scale: 0.5, use_qk_norm: false, pad_token_id: common.eos_token_id}
  }
  if (variant === 'cohere2') {
    return {architectures: ['Cohere2ForCausalLM'], model_type: 'cohere2', ...llama, mlp_bias: undefined, logit_scale: 0.5, sliding_window: 8, sliding_window_pattern: 2,
      pad_token_id: common.eos_token_id}
  }
  if (variant === 'olmo') return {architectures: ['OlmoForCausalLM'], model_type: 'olmo', ...llama, mlp_bias: undefined, clip_qkv: 1.5}
  if (variant === 'olmoe') {
    return {
      architectures: ['OlmoeForCausalLM'], model_type: 'olmoe', ...llama, mlp_bias: undefined, clip_qkv: 2.5,
      intermediate_size: (common.intermediate_size as number) / 2, num_experts: 6, num_experts_per_tok: 2, norm_topk_prob: false,
    }
  }
  if (variant === 'olmo3') {
    return {architectures: ['Olmo3ForCausalLM'], model_type: 'olmo3', ...llama, mlp_bias: undefined, rope_theta: undefined, sliding_window: 8,
      layer_types: ['sliding_attention', 'full_attention'], rope_parameters: {sliding_attention: {rope_type: 'default', rope_theta: 10000},
        full_attention: {rope_type: 'yarn', rope_theta: 1e6, factor: 8, original_max_position_embeddings: 64}}}
  }
  if (variant === 'phimoe') {
    const max = common.max_position_embeddings as number
    const half = (common.head_dim as number) / 2
    const shortFactor = Array.from({length: half}, (_, i) => 1 + (3 * i) / (half - 1))
    return {
      architectures: ['PhiMoEForCausalLM'], model_type: 'phimoe', ...common, rms_norm_eps: 1e-5, rope_theta: 10000.0, tie_word_embeddings: false,
      intermediate_size: (common.intermediate_size as number) / 2, num_local_experts: 4, num_experts_per_tok: 2, router_jitter_noise: 0.25,
      input_jitter_noise: 0.01, attention_bias: true, lm_head_bias: true, sliding_window: 16, max_position_embeddings: 2 * max, original_max_position_embeddings: max,
      rope_scaling: {type: 'longrope', short_factor: shortFactor, long_factor: shortFactor.map((f) => 2 * f), short_mscale: 1.25, long_mscale: 1.5, original_max_position_embeddings: max},
      pad_token_id: common.eos_token_id,
    }
  }
  if (variant === 'olmo2') return {architectures: ['Olmo2ForCausalLM'], model_type: 'olmo2', ...llama, mlp_bias: undefined}
  return {
    architectures: ['SmolLM3ForCausalLM'], model_type: 'smollm3', ...llama, rms_norm_eps: 1e-6,
    no_rope_layer_interval: 2, use_sliding_window: true, sliding_window: 8,
    // SmolLM3Config's default pad id (128004) lies beyond a small vocabulary.
    pad_token_id: common.eos_token_id,
  }
}
