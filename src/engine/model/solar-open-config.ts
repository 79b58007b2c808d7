// Solar Open (SolarOpenForCausalLM) as transformers 5.18's SolarOpenConfig reads it: Llama's attention with biases on
// q/k/v only (attention_bias; o_proj never), whole heads rotated (its rope kernel has no partial form), and GLM-4-MoE's
// sparse block (DeepSeek-V3's sigmoid routing with the correction bias, shared experts) in every layer.
import {glm4MoeView} from './glm4-moe-config.js'

export const SOLAR_OPEN = 'SolarOpenForCausalLM'

type Json = Record<string, unknown>

/** GLM-4-MoE's reading under SolarOpenConfig's defaults; it has no first_k_dense_replace nor use_qk_norm (every layer sparse, no q/k norms), whatever config.json says. */
export function solarOpenView(config: Json, source: string): Json {
  return {
    ...glm4MoeView(config, source),
    partial_rotary_factor: config.partial_rotary_factor,
    rope_theta: config.rope_theta ?? 1000000,
    moe_intermediate_size: config.moe_intermediate_size ?? 1280,
    // SolarOpenConfig has no intermediate_size (no dense MLP); the shared parser needs one, which no tensor checks.
    intermediate_size: config.intermediate_size ?? config.moe_intermediate_size ?? 1280,
    first_k_dense_replace: 0,
    moe_layer_freq: 1,
  }
}
