// Phi-3's fused projections (qkv_proj, gate_up_proj; GGUF phi2's attn_qkv too) as the separate q/k/v and gate/up tensors the backends load: row
// ranges of one [rows, in] matrix are byte ranges of the file, so a part is the same tensor with a narrower window.
import {ModelLoadError} from '../errors.js'
import {isGlm} from './glm-config.js'
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

/** For each layer: the fused tensor's suffix and its parts' suffixes with their row counts, in the order they are stacked. */
function fusedParts(config: ModelConfig): {fused: string; parts: [string, number][]}[] {
  const q = config.numHeads * config.headDim
  const kv = config.numKvHeads * config.headDim
  return [
    // GLM fuses the MLP's alone (q, k and v stay apart).
    ...(isGlm(config.architecture) ? [] : [{fused: 'self_attn.qkv_proj.weight', parts: [['self_attn.q_proj.weight', q], ['self_attn.k_proj.weight', kv], ['self_attn.v_proj.weight', kv]] as [string, number][]}]),
    // transformers' Phi3MLP: gate, up = gate_up_proj(x).chunk(2)
    {fused: 'mlp.gate_up_proj.weight', parts: [['mlp.gate_proj.weight', config.intermediateSize], ['mlp.up_proj.weight', config.intermediateSize]]},
  ]
}

/** The checkpoint's tensors with every fused projection replaced by its parts; a fused tensor of the wrong rows is refused by name. */
export function splitFusedProjections(config: ModelConfig, tensors: TensorInfo[]): TensorInfo[] {
  if (!config.fusedProjections) return tensors
  const fusedSuffixes = new Map(fusedParts(config).map((entry) => [entry.fused, entry.parts]))
  return tensors.flatMap((tensor) => {
    const match = /^(model\.layers\.\d+\.)(.+)$/.exec(tensor.name)
    const parts = match ? fusedSuffixes.get(match[2]!) : undefined
    if (!match || !parts) return [tensor]
    return rowWindows(tensor, parts.map(([suffix, count]) => [match[1] + suffix, count]), 2)
  })
}

/**
 * A tensor cut into consecutive row ranges, one [name, rows] each: byte windows of the same file, exact for block
 * formats too since blocks run along a row. A tensor of other rows or rank is refused by name.
 */
export function rowWindows(tensor: TensorInfo, parts: [string, number][], rank: 1 | 2): TensorInfo[] {
  const rows = parts.reduce((sum, [, count]) => sum + count, 0)
  if (tensor.shape.length !== rank || tensor.shape[0] !== rows || tensor.nbytes % rows !== 0) {
    throw new ModelLoadError(`Tensor ${tensor.name} has shape [${tensor.shape.join(', ')}], but config.json implies [${[rows, ...tensor.shape.slice(1, rank)].join(', ')}] (in ${tensor.path}).`)
  }
  const rowBytes = tensor.nbytes / rows
  let row = 0
  return parts.map(([name, count]) => {
    const part = {...tensor, name, shape: [count, ...tensor.shape.slice(1)], offset: tensor.offset + row * rowBytes, nbytes: count * rowBytes}
    row += count
    return part
  })
}

/** The tensors a checkpoint of this config holds: expected (engine) shapes with each layer's parts fused back, for writing test checkpoints. */
export function checkpointTensorShapes(config: ModelConfig, shapes: {name: string; shape: number[]}[]): {name: string; shape: number[]}[] {
  if (!config.fusedProjections) return shapes
  const firstPart = new Map(fusedParts(config).map((entry) => [entry.parts[0]![0], entry]))
  const laterParts = new Set(fusedParts(config).flatMap((entry) => entry.parts.slice(1).map(([suffix]) => suffix)))
  return shapes.flatMap(({name, shape}) => {
    const match = /^(model\.layers\.\d+\.)(.+)$/.exec(name)
    if (!match) return [{name, shape}]
    const entry = firstPart.get(match[2]!)
    if (entry) return [{name: match[1] + entry.fused, shape: [entry.parts.reduce((sum, [, count]) => sum + count, 0), shape[1]!]}]
    return laterParts.has(match[2]!) ? [] : [{name, shape}]
  })
}
