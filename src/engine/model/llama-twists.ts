// Llama-layout families set apart by their config class's defaults, biases and rope layout (Seed-OSS, Helium, ERNIE 4.5;
// GLM and GLM-4-0414 too, whose other twists are in glm-config.ts): which projections carry biases and whether q and k
// rotate interleaved pairs, as transformers 5.18 reads them.
import type {ModelConfig} from './model-config.js'
import {withPartialRotaryDefault} from './partial-rotary.js'
import type {TensorInfo} from './safetensors.js'
import {switchValue} from './config-switch.js'

type Json = Record<string, unknown>

interface TwistFamily {
  /** The config class's values for keys config.json leaves out (an explicit null keeps the shared parser's meaning). */
  defaults: Json
  /** Which projections carry biases: q/k/v, o_proj, and gate/up/down. */
  biases: (flag: (key: string, fallback: boolean) => boolean) => {qkv: boolean; o: boolean; mlp: boolean}
  /** q and k rotate interleaved pairs (2i, 2i + 1), cos/sin repeat_interleave'd (GPT-J's layout), not rotate_half's. */
  interleavedRope: boolean
  /** The config class's partial_rotary_factor default, when it has one. */
  partialRotary?: number
}

/** GlmConfig / Glm4Config: eos [151329, 151336, 151338] when unset (ids past a smaller vocab are dropped with a note). */
const GLM: TwistFamily = {
  defaults: {num_key_value_heads: 2, rms_norm_eps: 1.5625e-7, eos_token_id: [151329, 151336, 151338]},
  // GlmAttention: attention_bias on q/k/v, none on o_proj; Phi-3's MLP has none.
  biases: (flag) => ({qkv: flag('attention_bias', true), o: false, mlp: false}),
  interleavedRope: true,
  partialRotary: 0.5,
}

const TWISTS: Record<string, TwistFamily> = {
  GlmForCausalLM: GLM,
  Glm4ForCausalLM: GLM,
  // Seed-OSS: q/k/v biases by default, o_proj's apart (attention_out_bias), mlp_bias.
  SeedOssForCausalLM: {
    defaults: {num_key_value_heads: 8, head_dim: 128, rms_norm_eps: 1e-6, bos_token_id: 0, eos_token_id: 2},
    biases: (flag) => ({qkv: flag('attention_bias', true), o: flag('attention_out_bias', false), mlp: flag('mlp_bias', false)}),
    interleavedRope: false,
  },
  // Helium: Granite's attention with o_proj never biased, interleaved rope, eps 1e-8.
  HeliumForCausalLM: {
    defaults: {num_key_value_heads: 20, head_dim: 128, rms_norm_eps: 1e-8, rope_theta: 100000, bos_token_id: 1, eos_token_id: 2},
    biases: (flag) => ({qkv: flag('attention_bias', false), o: false, mlp: flag('mlp_bias', false)}),
    interleavedRope: true,
  },
  // ERNIE 4.5: use_bias on every projection, interleaved rope, tied.
  Ernie4_5ForCausalLM: {
    defaults: {num_key_value_heads: 2, head_dim: 128, rms_norm_eps: 1e-5, rope_theta: 500000, bos_token_id: 1, eos_token_id: 2},
    biases: (flag) => {
      const all = flag('use_bias', false)
      return {qkv: all, o: all, mlp: all}
    },
    interleavedRope: true,
  },
  // ERNIE 4.5 MoE: the dense one's attention and rope, Ernie4_5_MoeConfig's defaults (use_bias is refused: ernie45-moe-config.ts).
  Ernie4_5_MoeForCausalLM: {
    defaults: {num_key_value_heads: 4, rms_norm_eps: 1e-5, bos_token_id: 1, eos_token_id: 2},
    biases: () => ({qkv: false, o: false, mlp: false}),
    interleavedRope: true,
  },
}

export function isLlamaTwist(architecture: string): boolean {
  return Object.hasOwn(TWISTS, architecture)
}

/** The config.json with the family's defaults for the keys it leaves out (GLM's half-rotated heads among them). */
export function twistView(config: Json, architecture: string): Json {
  const family = TWISTS[architecture]!
  const out = family.partialRotary === undefined ? {...config} : withPartialRotaryDefault(config, family.partialRotary)
  for (const [key, value] of Object.entries(family.defaults)) if (!(key in config)) out[key] = value
  return out
}

/** Sets the bias flags of `model` from the family's own keys (each a true/false switch, refused otherwise), in place of Llama's reading. */
export function applyTwistBiases(model: ModelConfig, config: Json, architecture: string, source: string): void {
  const flag = (key: string, fallback: boolean) => switchValue(config, key, fallback, source)
  const {qkv, o, mlp} = TWISTS[architecture]!.biases(flag)
  model.attentionBias = qkv
  // Absent rather than false, as for every other family (the native config reads a present key as a switch).
  delete model.attentionOutputBias
  delete model.mlpBias
  if (o) model.attentionOutputBias = true
  if (mlp) model.mlpBias = true
}

/**
 * Families rotating interleaved pairs (2i, 2i + 1) of each head's first rotaryDim values: those rows of q_proj and k_proj
 * (and their biases) are reordered at load to rotate_half's (i, i + rotaryDim / 2), as GPT-J's are, so the shared rotary
 * kernel applies. q.k is unchanged by reordering q and k alike; v and o_proj keep their order.
 */
export function interleavedRopeRows(config: Pick<ModelConfig, 'architecture' | 'numHeads' | 'numKvHeads' | 'headDim' | 'rotaryDim'>, tensors: TensorInfo[]): TensorInfo[] {
  if (!TWISTS[config.architecture]?.interleavedRope) return tensors
  const dims = config.rotaryDim ?? config.headDim
  return tensors.map((t) => {
    if (/\.self_attn\.q_proj\.(weight|bias)$/.test(t.name)) return {...t, ropeInterleavedHeads: config.numHeads, ropeInterleavedDims: dims}
    if (/\.self_attn\.k_proj\.(weight|bias)$/.test(t.name)) return {...t, ropeInterleavedHeads: config.numKvHeads, ropeInterleavedDims: dims}
    return t
  })
}
