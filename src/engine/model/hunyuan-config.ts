// Hunyuan dense (HunYuanDenseV1ForCausalLM): Llama with per-head q/k norms (query_layernorm / key_layernorm, renamed at
// load: tensor-renames.ts) applied after rope, and Hunyuan's "dynamic" rope with alpha, a plain rope of a raised base.
// Read as transformers 5.18's HunYuanDenseV1Config and rotary embedding read them; rms-variants.ts runs it (CPU only).
import {ModelLoadError, quotedValue} from '../errors.js'

export const HUNYUAN_DENSE = 'HunYuanDenseV1ForCausalLM'

type Json = Record<string, unknown>

/**
 * Its rope_parameters (or rope_scaling) of type "dynamic" with an alpha are a default rope of base theta * alpha^(d / (d - 2))
 * over head_dim d (HunYuanDenseV1RotaryEmbedding; within max_position_embeddings, which caps the context, nothing rescales it).
 */
export function hunyuanView(config: Json, source: string): Json {
  const key = config.rope_parameters != null ? 'rope_parameters' : 'rope_scaling'
  const rope = config[key]
  if (rope === null || typeof rope !== 'object') return config
  const {alpha, rope_type: ropeType, type} = rope as Json
  if ((ropeType ?? type) !== 'dynamic' || !alpha) return config
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) throw new ModelLoadError(`${source}: "${key}.alpha" must be a positive number, got ${quotedValue(alpha)}.`)
  const headDim = config.head_dim ?? (typeof config.hidden_size === 'number' && typeof config.num_attention_heads === 'number' ? Math.floor(config.hidden_size / config.num_attention_heads) : undefined)
  if (typeof headDim !== 'number' || headDim <= 2) return config // the shared parser names the sizes
  const theta = (rope as Json).rope_theta ?? config.rope_theta ?? 10000
  if (typeof theta !== 'number' || !Number.isFinite(theta) || theta <= 0) throw new ModelLoadError(`${source}: "rope_theta" must be a positive number, got ${quotedValue(theta)}.`)
  return {...config, rope_scaling: null, rope_theta: undefined, rope_parameters: {rope_type: 'default', rope_theta: theta * alpha ** (headDim / (headDim - 2))}}
}
