// HyperCLOVA X SEED (HyperCLOVAXForCausalLM): Granite's block and multipliers (rms-variants.ts) with Peri-Layer norms on
// each sublayer's output before its scaled residual add (use_post_norm: post_norm1 / post_norm2, Gemma 2's sandwich norms
// under their own names: tensor-renames.ts), logits multiplied by logits_scaling (Granite divides), and the attention
// scale head_dim^-0.5 unless attention_multiplier is given. Read as transformers 5.18's HyperCLOVAXConfig reads it.
import {ModelLoadError, quotedValue} from '../errors.js'

export const HYPERCLOVAX = 'HyperCLOVAXForCausalLM'

type Json = Record<string, unknown>

/** The config with HyperCLOVAXConfig's attention_multiplier default (head_dim^-0.5); use_post_norm checked, its validation of the head count as the class's. */
export function hyperclovaxView(config: Json, source: string): Json {
  if (config.use_post_norm != null && typeof config.use_post_norm !== 'boolean') throw new ModelLoadError(`${source}: "use_post_norm" must be true or false, got ${quotedValue(config.use_post_norm)}.`)
  const {hidden_size: hidden, num_attention_heads: heads} = config
  if (typeof hidden !== 'number' || typeof heads !== 'number' || heads <= 0) return config // the shared parser names them
  // HyperCLOVAXConfig.validate_architecture refuses a width its head count does not divide, head_dim given or not.
  if (hidden % heads !== 0) throw new ModelLoadError(`${source}: "hidden_size" ${hidden} is not a multiple of "num_attention_heads" ${heads}, which ${HYPERCLOVAX} requires.`)
  const headDim = typeof config.head_dim === 'number' ? config.head_dim : hidden / heads
  return {...config, attention_multiplier: config.attention_multiplier ?? headDim ** -0.5}
}

/** Whether the layers carry the post-norms (use_post_norm, true by default). */
export function hyperclovaxPostNorms(config: Json): boolean {
  return config.use_post_norm !== false
}
