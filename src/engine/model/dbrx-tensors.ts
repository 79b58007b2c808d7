// DBRX's checkpoint layout under the engine's names: transformer.wte / blocks.N / norm_f, each block's fused Wqkv (q, k
// and v rows) cut into row windows, and its experts stored as three [experts x ffn, hidden] matrices: w1 (gate) and v1
// (up) are each expert's [ffn, hidden] rows as the engine holds them, w2 (down) each expert's [ffn, hidden] = down
// transposed, so one transposed byte window per expert (as Llama 4's: llama4-tensors.ts).
import {ModelLoadError} from '../errors.js'
import {DBRX} from './dbrx-config.js'
import {rowWindows} from './fused-tensors.js'
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

/** Block suffix in the checkpoint -> the engine's layer suffix (the fused ones are cut below). */
const RENAMES: Record<string, string> = {
  'norm_attn_norm.norm_1.weight': 'input_layernorm.weight',
  'norm_attn_norm.attn.out_proj.weight': 'self_attn.o_proj.weight',
  'norm_attn_norm.norm_2.weight': 'post_attention_layernorm.weight',
  'ffn.router.layer.weight': 'mlp.gate.weight',
}
const EXPERT_PARTS: Record<string, string> = {w1: 'gate_proj', v1: 'up_proj', w2: 'down_proj'}

/** The checkpoint's tensors under the engine's names; other models' tensors unchanged. */
export function dbrxTensors(config: ModelConfig, tensors: TensorInfo[]): TensorInfo[] {
  if (config.architecture !== DBRX || !config.moe) return tensors
  const q = config.numHeads * config.headDim
  const kv = config.numKvHeads * config.headDim
  return tensors.flatMap((tensor): TensorInfo[] => {
    if (tensor.name === 'transformer.wte.weight') return [{...tensor, name: 'model.embed_tokens.weight'}]
    if (tensor.name === 'transformer.norm_f.weight') return [{...tensor, name: 'model.norm.weight'}]
    const match = /^transformer\.blocks\.(\d+)\.(.+)$/.exec(tensor.name)
    if (!match) return [tensor]
    const [, layer, suffix] = match as unknown as [string, string, string]
    const prefix = `model.layers.${layer}.`
    if (suffix === 'norm_attn_norm.attn.Wqkv.weight') return rowWindows(tensor, [[`${prefix}self_attn.q_proj.weight`, q], [`${prefix}self_attn.k_proj.weight`, kv], [`${prefix}self_attn.v_proj.weight`, kv]], 2)
    const expert = /^ffn\.experts\.mlp\.(w1|v1|w2)$/.exec(suffix)
    if (expert) return expertWindows(config, tensor, `${prefix}mlp.experts.`, expert[1]!)
    return [{...tensor, name: RENAMES[suffix] === undefined ? tensor.name : prefix + RENAMES[suffix]}]
  })
}

function expertWindows(config: ModelConfig, tensor: TensorInfo, prefix: string, part: string): TensorInfo[] {
  const {numExperts: experts, expertIntermediateSize: ffn} = config.moe!
  const hidden = config.hiddenSize
  if (tensor.shape.length !== 2 || tensor.shape[0] !== experts * ffn || tensor.shape[1] !== hidden || tensor.nbytes % experts !== 0) {
    throw new ModelLoadError(`Tensor ${tensor.name} has shape [${tensor.shape.join(', ')}], but config.json implies [${experts * ffn}, ${hidden}] (in ${tensor.path}).`)
  }
  const bytes = tensor.nbytes / experts
  const down = part === 'w2'
  return Array.from({length: experts}, (_, e): TensorInfo => ({
    ...tensor, name: `${prefix}${e}.${EXPERT_PARTS[part]}.weight`, shape: down ? [hidden, ffn] : [ffn, hidden], offset: tensor.offset + e * bytes, nbytes: bytes,
    ...(down ? {transposed: true} : {}),
  }))
}

/** The checkpoint's name of an engine tensor (the fused one for its parts), for messages and test checkpoints; other models' names unchanged. */
export function dbrxCheckpointName(config: Pick<ModelConfig, 'architecture'>, name: string): string {
  if (config.architecture !== DBRX) return name
  if (name === 'model.embed_tokens.weight') return 'transformer.wte.weight'
  if (name === 'model.norm.weight') return 'transformer.norm_f.weight'
  const match = /^model\.layers\.(\d+)\.(.+)$/.exec(name)
  if (!match) return name
  const block = `transformer.blocks.${match[1]}.`
  const suffix = match[2]!
  if (/^self_attn\.[qkv]_proj\.weight$/.test(suffix)) return `${block}norm_attn_norm.attn.Wqkv.weight`
  const expert = /^mlp\.experts\.\d+\.(gate|up|down)_proj\.weight$/.exec(suffix)
  if (expert) return `${block}ffn.experts.mlp.${{gate: 'w1', up: 'v1', down: 'w2'}[expert[1]!]}`
  const back = Object.entries(RENAMES).find(([, engine]) => engine === suffix)
  return back ? block + back[0] : name
}

/** The tensors a DBRX checkpoint holds in place of the engine's (each fused one where its first part was), for writing test checkpoints. */
export function dbrxCheckpointShapes(config: ModelConfig, shapes: {name: string; shape: number[]}[]): {name: string; shape: number[]}[] {
  if (config.architecture !== DBRX || !config.moe) return shapes
  const {numExperts: experts, expertIntermediateSize: ffn} = config.moe
  const fusedQkv = (config.numHeads + 2 * config.numKvHeads) * config.headDim
  return shapes.flatMap(({name, shape}) => {
    if (/\.self_attn\.[kv]_proj\.weight$/.test(name) || /\.mlp\.experts\.([1-9]\d*)\./.test(name)) return []
    if (name.endsWith('.self_attn.q_proj.weight')) return [{name: dbrxCheckpointName(config, name), shape: [fusedQkv, config.hiddenSize]}]
    if (/\.mlp\.experts\.0\./.test(name)) return [{name: dbrxCheckpointName(config, name), shape: [experts * ffn, config.hiddenSize]}]
    return [{name: dbrxCheckpointName(config, name), shape}]
  })
}
