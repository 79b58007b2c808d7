// transformers 5.18's config-class defaults where they differ from what the shared parser assumes for an absent key
// (rms_norm_eps 1e-6, rope_theta 10000), for the families no view of their own fills (the Llama-twist families carry
// theirs in llama-twists.ts). test/config-defaults.test.ts holds every family to its class.
type Json = Record<string, unknown>

const DEFAULTS: Record<string, Json> = {
  MixtralForCausalLM: {rms_norm_eps: 1e-5, rope_theta: 1e6},
  Phi3ForCausalLM: {rms_norm_eps: 1e-5},
  GraniteSWAForCausalLM: {rms_norm_eps: 1e-5},
  SmolLM3ForCausalLM: {rope_theta: 2e6},
  FlexOlmoForCausalLM: {rope_theta: 5e5},
  HunYuanDenseV1ForCausalLM: {rms_norm_eps: 1e-5},
  Emu3ForCausalLM: {rms_norm_eps: 1e-5, rope_theta: 1e6},
  HYV3ForCausalLM: {rms_norm_eps: 1e-5, rope_theta: 11158840},
}

/** The config.json with its class's defaults for the keys it leaves out (an explicit null keeps the shared parser's meaning). */
export function withConfigClassDefaults(config: Json, architecture: string): Json {
  const defaults = DEFAULTS[architecture]
  if (!defaults) return config
  const out = {...config}
  for (const [key, value] of Object.entries(defaults)) if (!(key in config)) out[key] = value
  // rope_parameters.rope_theta (transformers 5's place for it), when given, still wins over the top-level default.
  return out
}
