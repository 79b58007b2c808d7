// Ministral 3 (Ministral3ForCausalLM; also the text_config of Ministral 3's Mistral3ForConditionalGeneration checkpoints):
// Mistral's layers with Ministral3Config's defaults (YaRN x16 over 16384 positions) and Llama 4's position-dependent
// query scale. Facts from transformers 5.18's Ministral3Config and Ministral3Attention.
import {ModelLoadError, quotedValue} from '../errors.js'
import {isObject} from './rope-scaling.js'

type Json = Record<string, unknown>

export const MINISTRAL3 = 'Ministral3ForCausalLM'

/** Ministral3Config's rope_parameters when config.json gives none. */
const DEFAULT_ROPE: Json = {
  type: 'yarn', rope_theta: 1e6, factor: 16, original_max_position_embeddings: 16384, beta_fast: 32, beta_slow: 1, mscale_all_dim: 1, mscale: 1, llama_4_scaling_beta: 0.1,
}

/** config.json's rope_parameters (or rope_scaling) as a fresh object, else the class's defaults; rope_theta filled from the top level or the defaults. */
export function ropeParametersOrDefault(config: Json, source: string, defaults: Json): Json {
  const given = config.rope_parameters ?? config.rope_scaling
  if (given != null && !isObject(given)) throw new ModelLoadError(`${source}: "rope_parameters" must be an object, got ${quotedValue(given)}.`)
  const rope: Json = {...(given ?? defaults)}
  if (rope.rope_theta == null) rope.rope_theta = config.rope_theta ?? defaults.rope_theta
  return rope
}

/** The config with Ministral3Config's defaults for the keys it leaves out, its context capped by llamaQueryScaleCap. */
export function ministral3View(config: Json, source: string): {config: Json; note?: string} {
  const rope = ropeParametersOrDefault(config, source, DEFAULT_ROPE)
  const out: Json = {num_key_value_heads: 8, head_dim: 128, max_position_embeddings: 262144, rms_norm_eps: 1e-5, bos_token_id: 1, eos_token_id: 2, ...config, rope_parameters: rope, rope_scaling: undefined}
  return llamaQueryScaleCap(out, MINISTRAL3, source)
}

/**
 * The context capped where Llama 4's query scale starts (Ministral 3, Mistral Small 4): their attention multiplies each
 * query at position p by 1 + beta * log(1 + floor(p / original)), beta rope_parameters.llama_4_scaling_beta and original
 * its original_max_position_embeddings. Below `original` that is exactly 1; past it the scale is per query position,
 * which the kernels do not take, so the context stops there (a note says so) rather than run unscaled queries.
 */
export function llamaQueryScaleCap(config: Json, architecture: string, source: string): {config: Json; note?: string} {
  const rope = config.rope_parameters as Json
  const beta = rope.llama_4_scaling_beta
  if (beta == null || beta === 0) return {config}
  if (typeof beta !== 'number' || !Number.isFinite(beta)) throw new ModelLoadError(`${source}: "rope_parameters.llama_4_scaling_beta" must be a number, got ${quotedValue(beta)}.`)
  const original = rope.original_max_position_embeddings
  if (typeof original !== 'number' || !Number.isInteger(original) || original <= 0) {
    throw new ModelLoadError(`${source}: "rope_parameters.llama_4_scaling_beta" needs a positive integer "original_max_position_embeddings" (where the query scale starts), got ${quotedValue(original)}.`)
  }
  const max = config.max_position_embeddings
  if (typeof max !== 'number' || max <= original) return {config}
  return {
    config: {...config, max_position_embeddings: original},
    note: `${architecture}: the context is capped at ${original} tokens (original_max_position_embeddings): past it transformers scales each query by 1 + llama_4_scaling_beta * log(1 + floor(position / ${original})), which the kernels do not run.`,
  }
}
