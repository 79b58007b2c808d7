// MiniCPM3 (MiniCPM3ForCausalLM): DeepSeek-V2's multi-head latent attention (deepseek-config.ts, native/cpu/mla.cpp) with
// the standard rotate_half rope, dense MLPs, and Granite's multipliers (rms-variants.ts' steps): embeddings times
// scale_emb, each sublayer's output times scale_depth / sqrt(num_hidden_layers) before its residual add, the last hidden
// state divided by hidden_size / dim_model_base before the LM head. Facts from transformers 5.18's MiniCPM3Config.
import {ModelLoadError, quotedValue} from '../errors.js'
import type {RmsVariantFeatures} from './rms-variants.js'

export const MINICPM3 = 'MiniCPM3ForCausalLM'

type Json = Record<string, unknown>

/** MiniCPM3Config's defaults where DeepSeek's differ: kv_lora_rank 256, v_head_dim hidden / heads, eps 1e-5; q_pe / k_pe rotate rotate_half's halves. */
export function minicpm3View(config: Json): Json {
  const {hidden_size: hidden, num_attention_heads: heads} = config
  const vHeadDim = typeof hidden === 'number' && typeof heads === 'number' && heads > 0 ? Math.floor(hidden / heads) : undefined
  return {kv_lora_rank: 256, rms_norm_eps: 1e-5, bos_token_id: 1, eos_token_id: 2, ...config, v_head_dim: config.v_head_dim ?? vHeadDim, rope_interleave: false}
}

/** The three multipliers as Granite's features (no other variant step), each checked. */
export function minicpm3Multipliers(config: Json, numLayers: number, hiddenSize: number, source: string): {rmsVariant: RmsVariantFeatures; embeddingScale: number} {
  // MiniCPM3Config's default when the key is absent; null means the neutral value (sqrt(layers), hidden_size).
  const positive = (key: string, absent: number, nullValue = absent): number => {
    const value = config[key] === undefined ? absent : config[key] === null ? nullValue : config[key]
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ModelLoadError(`${source}: "${key}" must be a positive number, got ${quotedValue(value)}.`)
    return value
  }
  const depth = positive('scale_depth', 1.4, Math.sqrt(numLayers))
  const base = positive('dim_model_base', 256, hiddenSize)
  return {
    rmsVariant: {residualMultiplier: depth / Math.sqrt(numLayers), logitsMultiplier: base / hiddenSize, postNormsOnly: false, wholeQkNorm: false, normMean: false, parallelBlock: false, normAffine: true, clipQkv: 0},
    embeddingScale: positive('scale_emb', 12),
  }
}
