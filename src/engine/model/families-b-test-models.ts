// The config.json of the emu3 (Emu3's language model: Llama's layers), hyperclovax (HyperCLOVA X SEED:
// hyperclovax-config.ts), youtu (Youtu-LLM: deepseek-config.ts), granitemoe-swa (Granite MoE SWA: granite-swa-config.ts)
// hy-v3 (Hy3: hy-v3-config.ts), mellum (Mellum: mellum-config.ts), aria-text (Aria's language model: aria-config.ts) and
// axk1 (A.X K1: deepseek-config.ts) test-model variants, for test-model.ts.

export type FamiliesBTestVariant = 'emu3' | 'hyperclovax' | 'youtu' | 'granitemoe-swa' | 'hy-v3' | 'mellum' | 'aria-text' | 'axk1'
export const FAMILIES_B_TEST_VARIANTS: readonly FamiliesBTestVariant[] = ['emu3', 'hyperclovax', 'youtu', 'granitemoe-swa', 'hy-v3', 'mellum', 'aria-text', 'axk1']

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
  if (variant === 'youtu') return youtuTestModelConfigJson(common)
  if (variant === 'granitemoe-swa') return graniteMoeSwaTestModelConfigJson(common)
  if (variant === 'hy-v3') return hyV3TestModelConfigJson(common)
  if (variant === 'mellum') return mellumTestModelConfigJson(common)
  if (variant === 'aria-text') return ariaTextTestModelConfigJson(common)
  if (variant === 'axk1') return axk1TestModelConfigJson(common)
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

/**
 * youtu: latent attention with q through its normed latent (q_lora_rank 24), k_pe and v sizes that differ, rope_interleave
 * left out (its class's true), rms_norm_eps 1e-3 (wide enough to show that the latent norms keep their class's 1e-6), YaRN x4
 * over an original context of 64 (to 256) whose mscale_all_dim moves the softmax scale; dense MLPs in every layer.
 */
function youtuTestModelConfigJson(common: Record<string, unknown>): Record<string, unknown> {
  const {head_dim: _, ...rest} = common
  return {
    architectures: ['YoutuForCausalLM'], model_type: 'youtu', ...rest, max_position_embeddings: 256, num_key_value_heads: common.num_attention_heads, rms_norm_eps: 1e-3, tie_word_embeddings: false,
    attention_bias: false, q_lora_rank: 24, kv_lora_rank: 32, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 12,
    rope_parameters: {rope_type: 'yarn', rope_theta: 10000.0, factor: 4.0, original_max_position_embeddings: 64, beta_fast: 32.0, beta_slow: 1.0, mscale: 1.0, mscale_all_dim: 1.2},
  }
}

/**
 * granitemoe-swa: four layers (GraniteMoeSWAConfig's layer_types: layer 0 full, the others sliding, a window of 8), rope
 * bases 1e6 on the full layer, 1e4 on the sliding ones but none on layer 2 (layer_rope_theta 0), Granite's multipliers,
 * sinks, 4 experts of half the preset's MLP width top-2 and a shared expert a quarter of it.
 */
function graniteMoeSwaTestModelConfigJson(common: Record<string, unknown>): Record<string, unknown> {
  return {
    architectures: ['GraniteMoeSWAForCausalLM'], model_type: 'granitemoe_swa', ...common, num_hidden_layers: 4, rms_norm_eps: 1e-6, rope_theta: 10000.0, sliding_window: 8,
    layer_rope_theta: [1e6, 1e4, 0, 1e4], embedding_multiplier: 1.75, residual_multiplier: 0.625, attention_multiplier: 0.375, logits_scaling: 1.5, tie_word_embeddings: false,
    intermediate_size: (common.intermediate_size as number) / 2, num_local_experts: 4, num_experts_per_tok: 2, shared_intermediate_size: (common.intermediate_size as number) / 4,
  }
}

/**
 * hy-v3: three layers (HYV3Config's mlp_layer_types: layer 0 dense, then sparse), 8 experts of 32 top-2 by sigmoid
 * scores chosen with the correction bias, scaled by 1.5, one shared MLP of 32; heads of 24 (apart from hidden / heads)
 * with q/k norms; the rope base left out (its class's 11158840).
 */
function hyV3TestModelConfigJson(common: Record<string, unknown>): Record<string, unknown> {
  return {
    architectures: ['HYV3ForCausalLM'], model_type: 'hy_v3', ...common, num_hidden_layers: 3, head_dim: 24, rms_norm_eps: 1e-5, tie_word_embeddings: false,
    num_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 32, num_shared_experts: 1, router_scaling_factor: 1.5,
  }
}

/**
 * mellum: three layers, sliding / full / sliding (a window of 8) rotating at base 1e4 and at 1e6 with YaRN x4 over an
 * original context of 64 (to 256); layer 0 dense, then 8 experts of 32 top-2 (norm_topk_prob left out: true); heads of
 * 24 with q/k norms.
 */
function mellumTestModelConfigJson(common: Record<string, unknown>): Record<string, unknown> {
  return {
    architectures: ['MellumForCausalLM'], model_type: 'mellum', ...common, num_hidden_layers: 3, head_dim: 24, max_position_embeddings: 256, rms_norm_eps: 1e-6, tie_word_embeddings: false,
    sliding_window: 8, layer_types: ['sliding_attention', 'full_attention', 'sliding_attention'], mlp_layer_types: ['dense', 'sparse', 'sparse'],
    num_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 32,
    rope_parameters: {full_attention: {rope_type: 'yarn', rope_theta: 1e6, factor: 4.0, original_max_position_embeddings: 64}, sliding_attention: {rope_type: 'default', rope_theta: 1e4}},
  }
}

/** aria-text: 4 experts of 48 (intermediate_size; not half of hidden 64, so a transposed layout would show) top-2, one shared MLP of 48, attention_bias on. */
function ariaTextTestModelConfigJson(common: Record<string, unknown>): Record<string, unknown> {
  return {
    architectures: ['AriaTextForCausalLM'], model_type: 'aria_text', ...common, intermediate_size: 48, rms_norm_eps: 1e-6, rope_theta: 10000.0, attention_bias: true, tie_word_embeddings: false,
    moe_num_experts: 4, moe_topk: 2, moe_num_shared_experts: 1, pad_token_id: common.eos_token_id,
  }
}

/**
 * axk1: three layers, latent attention as youtu's (q_lora_rank 24, rms_norm_eps 1e-3 against the latent norms' 1e-6, no
 * YaRN); first_k_dense_replace left out (its class's 1: layer 0 dense), then 8 experts of 24 in 2 groups (one kept), top-2
 * by sigmoid scores with the correction bias, scaled by 1.5, one shared expert, each sparse output RMS-normed.
 */
function axk1TestModelConfigJson(common: Record<string, unknown>): Record<string, unknown> {
  const {head_dim: _, ...rest} = common
  return {
    architectures: ['AXK1ForCausalLM'], model_type: 'axk1', ...rest, num_hidden_layers: 3, max_position_embeddings: 256, num_key_value_heads: common.num_attention_heads, rms_norm_eps: 1e-3,
    tie_word_embeddings: false, attention_bias: false, q_lora_rank: 24, kv_lora_rank: 32, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 12,
    n_routed_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 24, n_shared_experts: 1, n_group: 2, topk_group: 1, routed_scaling_factor: 1.5,
    rope_parameters: {rope_type: 'default', rope_theta: 10000.0},
  }
}

/** A test checkpoint's tensor name as the variant's checkpoints hold it, where the writer's name differs: Hy3's router bias (mlp.expert_bias). */
export function familiesBCheckpointName(variant: FamiliesBTestVariant, name: string): string {
  return variant === 'hy-v3' ? name.replace(/\.mlp\.gate\.e_score_correction_bias$/, '.mlp.expert_bias') : name
}
