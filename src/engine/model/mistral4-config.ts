// Mistral Small 4 (Mistral4ForCausalLM; also the text_config of its Mistral3ForConditionalGeneration checkpoints):
// DeepSeek-V3's latent attention and shared experts (deepseek-config.ts) with softmax routing whose groups rank by their
// best two scores, each layer's experts in two 3D tensors stored [experts, out, in], YaRN and Llama 4's query scale as
// Ministral 3's (ministral3-config.ts). Facts from transformers 5.18's Mistral4Config, Mistral4TopkRouter,
// Mistral4Experts and Mistral4Attention.
import {ModelLoadError, quotedValue} from '../errors.js'
import {llamaQueryScaleCap, ropeParametersOrDefault} from './ministral3-config.js'

type Json = Record<string, unknown>

export const MISTRAL4 = 'Mistral4ForCausalLM'

/** Mistral4Config's rope_parameters when config.json gives none. */
const DEFAULT_ROPE: Json = {
  type: 'yarn', rope_theta: 10000, factor: 128, original_max_position_embeddings: 8192, beta_fast: 32, beta_slow: 1, mscale_all_dim: 1, mscale: 1, llama_4_scaling_beta: 0.1,
}

/** The config with Mistral4Config's defaults for the keys deepseekView does not fill, its context capped by llamaQueryScaleCap. */
export function mistral4View(config: Json, source: string): {config: Json; note?: string} {
  const rope = ropeParametersOrDefault(config, source, DEFAULT_ROPE)
  // Mistral4DecoderLayer has no moe_layer_freq: every layer from first_k_dense_replace on is sparse.
  if (config.moe_layer_freq != null && config.moe_layer_freq !== 1) throw new ModelLoadError(`${source}: "moe_layer_freq" ${quotedValue(config.moe_layer_freq)} is not read by ${MISTRAL4} (every layer past first_k_dense_replace is sparse); remove it.`)
  const out: Json = {max_position_embeddings: 1048576, rms_norm_eps: 1e-6, kv_lora_rank: 256, bos_token_id: 1, eos_token_id: 2, ...config, rope_parameters: rope, rope_scaling: undefined}
  return llamaQueryScaleCap(out, MISTRAL4, source)
}
