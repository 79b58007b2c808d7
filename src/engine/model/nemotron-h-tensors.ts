// Nemotron-H's tensor names (nemotron-h-config.ts): a checkpoint layer backbone.layers.C holds one norm and one mixer
// (a Mamba-2 mixer, an attention or an MLP); the engine's layer E runs a mixer layer and the MLP layer after it.
// backbone.layers.C.norm is E's input_layernorm (a mixer's) or post_attention_layernorm (an MLP's), backbone.layers.C.mixer.*
// its mamba.*, self_attn.* or mlp.* (a MoE layer's too); backbone.embeddings and backbone.norm_f are embed_tokens and model.norm. transformers
// reads "model." for "backbone." too.
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

type Part = {engine: number; kind: 'mamba' | 'self_attn' | 'mlp'}

/** Per checkpoint layer: the engine layer it is part of and what it holds there. */
function checkpointLayers(config: ModelConfig): Part[] {
  const hybrid = config.hybrid!
  return hybrid.linearLayers.flatMap((mamba, engine): Part[] => [
    {engine, kind: mamba ? 'mamba' : 'self_attn'},
    ...(hybrid.mamba2?.mlpLayers?.[engine] ? [{engine, kind: 'mlp' as const}] : []),
  ])
}

const NORMS = {mamba: 'input_layernorm', self_attn: 'input_layernorm', mlp: 'post_attention_layernorm'}

/** The checkpoint's tensors under the engine's names; others (mtp.*, unknown layers) unchanged, so the loader drops or names them. */
export function nemotronHEngineTensors(config: ModelConfig, tensors: TensorInfo[]): TensorInfo[] {
  const parts = checkpointLayers(config)
  return tensors.map((tensor) => {
    const match = /^(?:backbone|model)\.(?:embeddings\.weight|norm_f\.weight|layers\.(\d+)\.(norm\.weight|mixer\.(.+)))$/.exec(tensor.name)
    if (!match) return tensor
    if (match[1] === undefined) return {...tensor, name: tensor.name.endsWith('embeddings.weight') ? 'model.embed_tokens.weight' : 'model.norm.weight'}
    const part = parts[Number(match[1])]
    if (!part) return tensor
    const name = match[3] === undefined ? `${NORMS[part.kind]}.weight` : `${part.kind}.${match[3]}`
    return {...tensor, name: `model.layers.${part.engine}.${name}`}
  })
}

/** The checkpoint's name of an engine tensor (for messages and for writing test checkpoints). */
export function nemotronHCheckpointName(config: ModelConfig, name: string): string {
  if (name === 'model.embed_tokens.weight') return 'backbone.embeddings.weight'
  if (name === 'model.norm.weight') return 'backbone.norm_f.weight'
  const match = /^model\.layers\.(\d+)\.(input_layernorm\.weight|post_attention_layernorm\.weight|(mamba|self_attn|mlp)\.(.+))$/.exec(name)
  if (!match) return name
  const engine = Number(match[1])
  const kind = match[3] ?? (match[2]!.startsWith('input') ? 'mixer' : 'mlp')
  const layer = checkpointLayers(config).findIndex((p) => p.engine === engine && (kind === 'mlp' ? p.kind === 'mlp' : p.kind !== 'mlp'))
  if (layer < 0) return name
  // NemotronHMoE's shared expert is shared_experts (moe-config.ts moeEngineName reads it back).
  return `backbone.layers.${layer}.${match[4] === undefined ? 'norm.weight' : `mixer.${match[4].replace(/^shared_expert\./, 'shared_experts.')}`}`
}
