// GLM-4.5 (Glm4MoeForCausalLM) as transformers 5.18's Glm4MoeConfig reads it: Llama-style attention with q/k/v biases
// (attention_bias), rope on the first half of each head (partial_rotary_factor 0.5), optional per-head q/k RMSNorms
// (use_qk_norm), over DeepSeek-V3's sigmoid grouped routing and shared experts (deepseek-config.ts).
import {switchOn} from './config-switch.js'

type Json = Record<string, unknown>

/** The config with Glm4MoeConfig's defaults where they differ from the shared parser's, its biases under the q/k/v-only key. */
export function glm4MoeView(config: Json, source: string): Json {
  return {
    ...config,
    // Glm4MoeAttention: attention_bias puts biases on q/k/v only (o_proj has none), as Qwen2's qkv_bias.
    qkv_bias: switchOn(config, 'attention_bias', source),
    attention_bias: false,
    partial_rotary_factor: config.partial_rotary_factor ?? 0.5,
    num_key_value_heads: config.num_key_value_heads ?? 8,
    rms_norm_eps: config.rms_norm_eps ?? 1e-5,
    num_experts: config.n_routed_experts ?? 128,
  }
}

/** use_qk_norm: per-head RMSNorms of q and k (q_norm / k_norm, [head_dim]) before rope, as Qwen3's. */
export function glm4MoeQkNorm(config: Json, source: string): boolean {
  return switchOn(config, 'use_qk_norm', source)
}
