// partial_rotary_factor on the RMSNorm path: Phi-3's modeling code (Phi-4-mini sets 0.75) rotates the first
// int(head_dim * factor) values of each head and passes the rest through.
import {ModelLoadError, quotedValue} from '../errors.js'

type Json = Record<string, unknown>

/** Architectures whose transformers attention splits each head into a rotated part and a passed-through part. */
const PARTIAL_ROTARY_READERS = new Set(['Phi3ForCausalLM', 'GlmForCausalLM', 'Glm4ForCausalLM', 'NemotronForCausalLM', 'Glm4MoeForCausalLM', 'Qwen3_5ForCausalLM', 'Qwen3_5MoeForCausalLM', 'Qwen3NextForCausalLM', 'BambaForCausalLM', 'MiniMaxM2ForCausalLM'])

/** A config class's partial_rotary_factor default (GLM's, Nemotron's 0.5) where config.json gives none, in rope_parameters or at the top level. */
export function withPartialRotaryDefault(config: Json, fallback: number): Json {
  const rope = config.rope_parameters ?? config.rope_scaling
  const ropeFactor = rope !== null && typeof rope === 'object' ? (rope as Json).partial_rotary_factor : undefined
  return {...config, partial_rotary_factor: ropeFactor ?? config.partial_rotary_factor ?? fallback}
}

/**
 * The rotated values per head (headDim: whole heads), from rope_parameters (or rope_scaling) or the top-level key.
 * transformers' other RMSNorm models (Llama, Qwen, ...) ignore the factor with the default rope, and with a scaled one
 * compute frequencies over int(head_dim * factor) values but multiply whole heads by them, which fails: refused so.
 */
export function parseRotaryDim(config: Json, rope: Json | null, architecture: string, headDim: number, source: string): number {
  const fraction = rope?.partial_rotary_factor ?? config.partial_rotary_factor ?? 1
  if (typeof fraction !== 'number' || !Number.isFinite(fraction) || fraction <= 0 || fraction > 1) {
    throw new ModelLoadError(`${source}: "partial_rotary_factor" must be a number in (0, 1], got ${quotedValue(fraction)}.`)
  }
  if (fraction === 1) return headDim
  if (!PARTIAL_ROTARY_READERS.has(architecture)) {
    const ropeType = rope?.rope_type ?? rope?.type ?? 'default'
    if (ropeType === 'default') return headDim
    throw new ModelLoadError(`${source}: partial_rotary_factor ${fraction} with ${JSON.stringify(ropeType)} rope is not supported for ${architecture} (transformers cannot run it either: its attention rotates whole heads with frequencies for part of one).`)
  }
  const rotaryDim = Math.floor(headDim * fraction)
  if (rotaryDim === 0 || rotaryDim % 2 !== 0) {
    throw new ModelLoadError(`${source}: partial_rotary_factor ${fraction} rotates ${rotaryDim} of ${headDim} values per head; a positive even count is needed.`)
  }
  return rotaryDim
}
