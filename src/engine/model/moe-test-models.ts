// The config.json of the mixture-of-experts test-model variants (mixtral, qwen2moe, qwen3moe, gptoss, deepseek-v2, deepseek-v3, glm4-moe, glm4-moe-lite), for test-model.ts.
import {deepseekTestModelConfigJson} from './deepseek-test-models.js'

export type MoeTestVariant = 'mixtral' | 'qwen2moe' | 'qwen3moe' | 'gptoss' | 'deepseek-v2' | 'deepseek-v3' | 'glm4-moe' | 'glm4-moe-lite'
export const MOE_TEST_VARIANTS: readonly MoeTestVariant[] = ['mixtral', 'qwen2moe', 'qwen3moe', 'gptoss', 'deepseek-v2', 'deepseek-v3', 'glm4-moe', 'glm4-moe-lite']

export function isMoeTestVariant(variant: string): variant is MoeTestVariant {
  return (MOE_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * mixtral: 8 experts of half the preset's MLP width, top-2, so a token's active parameters equal the dense llama
 * variant's (the decode benchmark compares the two). qwen2moe: 6 experts top-2 without renormalising (Qwen2MoeConfig's
 * norm_topk_prob false), a shared expert under its sigmoid gate, q/k/v biases. qwen3moe: q/k norms, 8 experts top-3
 * renormalised (as Qwen3-30B-A3B), layer 0 dense through mlp_only_layers. gptoss: 4 experts top-2 of half the width,
 * heads twice hidden / heads wide, a window of 8 on layer 0 (GptOssConfig's alternation), YaRN x4 over 128 positions
 * untruncated (as gpt-oss's x32 over 4096), sinks and every bias. deepseek-v2, deepseek-v3, glm4-moe(-lite): deepseek-test-models.ts.
 */
export function moeTestModelConfigJson(variant: MoeTestVariant, common: Record<string, unknown> & {intermediate_size: number; hidden_size: number; num_hidden_layers: number}): Record<string, unknown> {
  if (variant === 'deepseek-v2' || variant === 'deepseek-v3' || variant === 'glm4-moe' || variant === 'glm4-moe-lite') return deepseekTestModelConfigJson(variant, common)
  const expertWidth = common.intermediate_size / 2
  if (variant === 'mixtral') {
    return {
      architectures: ['MixtralForCausalLM'], model_type: 'mixtral', ...common, intermediate_size: expertWidth,
      rms_norm_eps: 1e-5, rope_theta: 1000000.0, num_local_experts: 8, num_experts_per_tok: 2,
      sliding_window: null, tie_word_embeddings: false,
    }
  }
  if (variant === 'gptoss') {
    return {
      architectures: ['GptOssForCausalLM'], model_type: 'gpt_oss', ...common, intermediate_size: expertWidth,
      head_dim: (2 * common.hidden_size) / (common.num_attention_heads as number), rms_norm_eps: 1e-5, rope_theta: 150000.0,
      rope_scaling: {rope_type: 'yarn', factor: 4.0, beta_fast: 32.0, beta_slow: 1.0, truncate: false, original_max_position_embeddings: 128},
      num_local_experts: 4, num_experts_per_tok: 2, sliding_window: 8, attention_bias: true, tie_word_embeddings: false,
    }
  }
  const qwen = {
    ...common, rms_norm_eps: 1e-6, rope_theta: 1000000.0, tie_word_embeddings: false, use_sliding_window: false,
    sliding_window: null, max_window_layers: common.num_hidden_layers, moe_intermediate_size: expertWidth / 2,
  }
  if (variant === 'qwen2moe') {
    return {
      architectures: ['Qwen2MoeForCausalLM'], model_type: 'qwen2_moe', ...qwen, num_experts: 6, num_experts_per_tok: 2,
      norm_topk_prob: false, decoder_sparse_step: 1, mlp_only_layers: [], shared_expert_intermediate_size: expertWidth, qkv_bias: true,
    }
  }
  return {
    architectures: ['Qwen3MoeForCausalLM'], model_type: 'qwen3_moe', ...qwen, head_dim: (2 * common.hidden_size) / (common.num_attention_heads as number),
    attention_bias: false, num_experts: 8, num_experts_per_tok: 3, norm_topk_prob: true, decoder_sparse_step: 1, mlp_only_layers: [0],
  }
}
