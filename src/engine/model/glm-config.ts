// GLM-4 (GlmForCausalLM, the 9B) and GLM-4-0414 (Glm4ForCausalLM): Llama's attention with q/k/v biases (attention_bias,
// o_proj without one) and an interleaved rope on the first half of each head, Phi-3's fused gate_up_proj; GLM-4-0414 adds
// Gemma 2-style sandwich norms under its own names. Read as transformers 5.18's GlmConfig / Glm4Config read them.
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

export const GLM_ARCHITECTURES = ['GlmForCausalLM', 'Glm4ForCausalLM'] as const

export function isGlm(architecture: string): boolean {
  return (GLM_ARCHITECTURES as readonly string[]).includes(architecture)
}

type Json = Record<string, unknown>

/**
 * The config.json with GlmConfig's defaults where the shared parser's differ: 2 KV heads, eps 1.5625e-7, half of each
 * head rotated (partial_rotary_factor 0.5, top level or in rope_parameters), and attention_bias (default true) as the
 * q/k/v-only biases the parser reads from qkv_bias (GlmAttention's o_proj has none).
 */
export function glmView(config: Json): Json {
  const rope = config.rope_parameters ?? config.rope_scaling
  const ropeFactor = rope !== null && typeof rope === 'object' ? (rope as Json).partial_rotary_factor : undefined
  return {
    ...config,
    num_key_value_heads: config.num_key_value_heads ?? 2,
    rms_norm_eps: config.rms_norm_eps ?? 1.5625e-7,
    partial_rotary_factor: ropeFactor ?? config.partial_rotary_factor ?? 0.5,
    qkv_bias: config.attention_bias ?? true,
    // Glm4Config and GlmConfig: eos [151329, 151336, 151338] when unset (ids past a smaller vocab are dropped with a note).
    eos_token_id: config.eos_token_id ?? [151329, 151336, 151338],
  }
}

/** GLM-4-0414's sandwich: its checkpoint names -> the engine's (Gemma 2's) for the same four norms. */
const GLM4_NORM_NAMES: [string, string][] = [
  ['post_self_attn_layernorm', 'post_attention_layernorm'],
  ['post_attention_layernorm', 'pre_feedforward_layernorm'],
  ['post_mlp_layernorm', 'post_feedforward_layernorm'],
]

/** A layer tensor's name with one norm name swapped by `pairs` (from -> to); other names as they are. */
function renamedNorm(name: string, pairs: [string, string][]): string {
  const match = /^(model\.layers\.\d+\.)([a-z_]+)(\.weight)$/.exec(name)
  const to = match ? pairs.find(([from]) => from === match[2])?.[1] : undefined
  return to === undefined ? name : match![1] + to + match![3]
}

/** Glm4: the checkpoint's norm names as the engine's sandwich names (expectedTensorShapes lists those). */
export function glmEngineTensorNames(config: Pick<ModelConfig, 'architecture'>, tensors: TensorInfo[]): TensorInfo[] {
  if (config.architecture !== 'Glm4ForCausalLM') return tensors
  return tensors.map((t) => ({...t, name: renamedNorm(t.name, GLM4_NORM_NAMES)}))
}

/** The other way, for writing test checkpoints under Glm4's names. */
export function glmCheckpointTensorNames<T extends {name: string}>(config: Pick<ModelConfig, 'architecture'>, tensors: T[]): T[] {
  if (config.architecture !== 'Glm4ForCausalLM') return tensors
  const back = GLM4_NORM_NAMES.map(([checkpoint, engine]): [string, string] => [engine, checkpoint])
  return tensors.map((t) => ({...t, name: renamedNorm(t.name, back)}))
}

/**
 * GLM rotates interleaved pairs (2i, 2i + 1) of each head's first rotaryDim values (cos/sin repeat_interleave'd); those
 * rows of q_proj and k_proj (and their biases) are reordered at load to rotate_half's (i, i + rotaryDim / 2), as GPT-J's
 * are, so the shared partial-rotary kernel applies. q.k is unchanged by reordering q and k alike; v and o_proj keep theirs.
 */
export function glmRopeRows(config: Pick<ModelConfig, 'architecture' | 'numHeads' | 'numKvHeads' | 'headDim' | 'rotaryDim'>, tensors: TensorInfo[]): TensorInfo[] {
  if (!isGlm(config.architecture)) return tensors
  const dims = config.rotaryDim ?? config.headDim
  return tensors.map((t) => {
    if (/\.self_attn\.q_proj\.(weight|bias)$/.test(t.name)) return {...t, ropeInterleavedHeads: config.numHeads, ropeInterleavedDims: dims}
    if (/\.self_attn\.k_proj\.(weight|bias)$/.test(t.name)) return {...t, ropeInterleavedHeads: config.numKvHeads, ropeInterleavedDims: dims}
    return t
  })
}
