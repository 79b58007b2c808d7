// GLM-4 (GlmForCausalLM, the 9B) and GLM-4-0414 (Glm4ForCausalLM): Llama's attention with q/k/v biases and an interleaved
// rope on the first half of each head (llama-twists.ts), Phi-3's fused gate_up_proj; GLM-4-0414 adds Gemma 2-style
// sandwich norms under its own names. Read as transformers 5.18's GlmConfig / Glm4Config read them.
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

export const GLM_ARCHITECTURES = ['GlmForCausalLM', 'Glm4ForCausalLM'] as const

export function isGlm(architecture: string): boolean {
  return (GLM_ARCHITECTURES as readonly string[]).includes(architecture)
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
