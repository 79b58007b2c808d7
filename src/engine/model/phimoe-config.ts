// PhiMoE (Phi-3.5-MoE): Mixtral's sparse layers (and checkpoint names) routed by sparsemixer, under LayerNorms with
// bias, q/k/v/o biases, an lm_head bias and LongRoPE whose cos and sin are scaled by short_mscale (long_mscale past the
// original context). Read as transformers 5.18's PhimoeConfig reads it; rms-variants.ts runs the block, moe.cpp the experts.
import {ModelLoadError, quotedValue} from '../errors.js'
import {isObject} from './rope-scaling.js'
import {switchOn} from './config-switch.js'

/** Microsoft's name (Phi-3.5-MoE's config.json) and transformers' (what its save_pretrained writes). */
export const PHIMOE_ARCHITECTURES = ['PhiMoEForCausalLM', 'PhimoeForCausalLM'] as const

export function isPhimoe(architecture: string): boolean {
  return (PHIMOE_ARCHITECTURES as readonly string[]).includes(architecture)
}

type Json = Record<string, unknown>

/** The config with PhimoeConfig's defaults where they differ from the shared parser's, and its rope's mscales as attention factors. */
export function phimoeView(config: Json, source: string): Json {
  const view: Json = {
    ...config,
    // PhimoeConfig: default_theta 1e6, 8 KV heads, eps 1e-5 (its 128k positions: architectures.ts).
    rope_theta: config.rope_theta ?? 1e6,
    num_key_value_heads: config.num_key_value_heads ?? 8,
    rms_norm_eps: config.rms_norm_eps ?? 1e-5,
  }
  const key = isObject(config.rope_parameters) ? 'rope_parameters' : 'rope_scaling'
  const rope = view[key]
  if (!isObject(rope)) return view
  const type = rope.rope_type ?? rope.type ?? 'default'
  if (type === 'default') return view
  if (type !== 'longrope' && type !== 'su') throw new ModelLoadError(`${source}: PhiMoE rope type ${quotedValue(type)} is not supported (default, longrope).`)
  // PhimoeRotaryEmbedding multiplies cos and sin by short_mscale, or long_mscale once a position passes the original
  // context, in place of LongRoPE's own attention factor (PhimoeConfig refuses a rope without both).
  const mscale = (name: string): number => {
    const value = rope[name]
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ModelLoadError(`${source}: PhiMoE's longrope needs "${name}" (a positive number), got ${quotedValue(value)}.`)
    return value
  }
  return {...view, [key]: {...rope, attention_factor: mscale('short_mscale'), long_attention_factor: mscale('long_mscale'), rope_theta: rope.rope_theta ?? view.rope_theta}}
}

/** PhimoeSparseMoeBlock's routing: sparsemixer always picks two experts; router_jitter_noise sets its masks. */
export function phimoeRouting(config: Json, numExperts: number, numExpertsPerToken: number, source: string): {sparsemixerJitterEps: number} {
  if (numExpertsPerToken !== 2 || numExperts < 2) {
    throw new ModelLoadError(`${source}: PhiMoE's sparsemixer routes every token to 2 experts (num_experts_per_tok ${numExpertsPerToken}, ${numExperts} experts).`)
  }
  const eps = config.router_jitter_noise ?? 0.01
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) throw new ModelLoadError(`${source}: "router_jitter_noise" must be a non-negative number, got ${quotedValue(eps)}.`)
  return {sparsemixerJitterEps: eps}
}

/** lm_head_bias (PhimoeConfig's default false) as a switch. */
export function phimoeHeadBias(config: Json, source: string): boolean {
  return switchOn(config, 'lm_head_bias', source)
}
