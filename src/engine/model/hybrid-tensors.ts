// The tensors of Qwen 3.5's and Qwen3-Next's hybrid layers: what a checkpoint holds per layer (a Gated DeltaNet layer's
// linear_attn.*, or a gated attention whose q_proj interleaves each head's query and gate rows), cut into the row
// windows the native loader stacks: q_proj per head as [queries | k | v | gates] (native/cpu/model_weights.cpp
// attention_parts), the linear projections per key-head group as [q | k | v | z | b | a] (linear_attention.cpp).
import type {ModelConfig} from './model-config.js'
import {rowWindows} from './fused-tensors.js'
import {mamba1LayerShapes} from './mamba1-tensors.js'
import {mamba2LayerShapes} from './mamba2-tensors.js'
import {lfm2LayerShapes} from './lfm2-tensors.js'
import {kimiLinearLayerShapes} from './kimi-linear-tensors.js'
import {zamba2LayerShapes} from './zamba2-tensors.js'
import {olmoHybridEngineTensors} from './olmo-hybrid-tensors.js'
import type {HybridFeatures} from './qwen35-config.js'
import type {TensorInfo} from './safetensors.js'

type Shape = {name: string; shape: number[]}

/** One layer's token mixer under `prefix` (model.layers.N): a linear layer's tensors, or the gated attention's. */
export function hybridMixerShapes(config: ModelConfig, hybrid: HybridFeatures, layer: number, prefix: string): Shape[] {
  // Zamba2 over Mamba-2 mixers, Zamba (v1) over Mamba-1 ones.
  if (hybrid.zamba2) return [...(hybrid.mamba1 ? mamba1LayerShapes(config, hybrid.mamba1, true, prefix) : mamba2LayerShapes(config, hybrid.mamba2!, true, prefix)), ...zamba2LayerShapes(config, hybrid.zamba2, layer)]
  if (hybrid.mamba2) return mamba2LayerShapes(config, hybrid.mamba2, hybrid.linearLayers[layer]!, prefix)
  if (hybrid.shortConv) return lfm2LayerShapes(config, hybrid.shortConv.kernel, hybrid.linearLayers[layer]!, prefix)
  if (hybrid.mamba1) return mamba1LayerShapes(config, hybrid.mamba1, hybrid.linearLayers[layer]!, prefix)
  if (hybrid.kimiDelta) return kimiLinearLayerShapes(config, hybrid, layer, prefix)
  const hidden = config.hiddenSize
  if (!hybrid.linearLayers[layer]) {
    const q = config.numHeads * config.headDim
    const kv = config.numKvHeads * config.headDim
    return [
      {name: `${prefix}.self_attn.q_proj.weight`, shape: [2 * q, hidden]},
      {name: `${prefix}.self_attn.k_proj.weight`, shape: [kv, hidden]},
      {name: `${prefix}.self_attn.v_proj.weight`, shape: [kv, hidden]},
      {name: `${prefix}.self_attn.q_norm.weight`, shape: [config.headDim]},
      {name: `${prefix}.self_attn.k_norm.weight`, shape: [config.headDim]},
      {name: `${prefix}.self_attn.o_proj.weight`, shape: [hidden, q]},
    ]
  }
  const keys = hybrid.linearNumKeyHeads * hybrid.linearKeyHeadDim
  const values = hybrid.linearNumValueHeads * hybrid.linearValueHeadDim
  const channels = 2 * keys + values
  const heads = hybrid.linearNumValueHeads
  const p = `${prefix}.linear_attn`
  // Qwen3-Next fuses them as in_proj_qkvz and in_proj_ba, grouped by key head (its GGUF file: qkv and z apart).
  const qkvz = hybrid.groupedProjections && !hybrid.qkvzApart
    ? [{name: `${p}.in_proj_qkvz.weight`, shape: [channels + values, hidden]}]
    : [{name: `${p}.in_proj_qkv.weight`, shape: [channels, hidden]}, {name: `${p}.in_proj_z.weight`, shape: [values, hidden]}]
  const ba = hybrid.groupedProjections
    ? [{name: `${p}.in_proj_ba.weight`, shape: [2 * heads, hidden]}]
    : [{name: `${p}.in_proj_b.weight`, shape: [heads, hidden]}, {name: `${p}.in_proj_a.weight`, shape: [heads, hidden]}]
  const projections = [...qkvz, ...ba]
  return [
    ...projections,
    {name: `${p}.conv1d.weight`, shape: [channels, 1, hybrid.convKernel]},
    {name: `${p}.dt_bias`, shape: [heads]},
    {name: `${p}.A_log`, shape: [heads]},
    {name: `${p}.norm.weight`, shape: [hybrid.linearValueHeadDim]},
    {name: `${p}.out_proj.weight`, shape: [hidden, values]},
  ]
}

/**
 * Each gated q_proj as its heads' query and gate row windows (self_attn.q_query.H / q_gate.H), each linear projection
 * as its key-head groups' windows (linear_attn.in_proj.{q,k,v,z,b,a}.G), the rest as they are.
 */
export function splitHybridProjections(config: ModelConfig, hybrid: HybridFeatures, tensors: TensorInfo[]): TensorInfo[] {
  if (hybrid.olmoHybrid) return olmoHybridEngineTensors(hybrid, tensors)
  if (hybrid.mamba2 || hybrid.mamba1 || hybrid.shortConv || hybrid.kimiDelta) return tensors // plain or latent attention; one in_proj per mixer or short conv, Kimi's q/k/v apart
  const groups = hybrid.linearNumKeyHeads
  const perGroup = hybrid.linearNumValueHeads / groups
  const rows: Record<string, number> = {q: hybrid.linearKeyHeadDim, k: hybrid.linearKeyHeadDim, v: perGroup * hybrid.linearValueHeadDim, z: perGroup * hybrid.linearValueHeadDim, b: perGroup, a: perGroup}
  // Which parts each checkpoint tensor holds, and whether they run part-major (all groups' q, then k, ...) or group-major.
  const layouts: Record<string, {parts: string[]; groupMajor: boolean}> = {
    in_proj_qkv: {parts: ['q', 'k', 'v'], groupMajor: false}, in_proj_z: {parts: ['z'], groupMajor: false},
    in_proj_b: {parts: ['b'], groupMajor: false}, in_proj_a: {parts: ['a'], groupMajor: false},
    in_proj_qkvz: {parts: ['q', 'k', 'v', 'z'], groupMajor: true}, in_proj_ba: {parts: ['b', 'a'], groupMajor: true},
  }
  return tensors.flatMap((tensor) => {
    const query = /^(model\.layers\.\d+\.self_attn\.)q_proj\.weight$/.exec(tensor.name)
    if (query) {
      const parts: [string, number][] = []
      for (let h = 0; h < config.numHeads; h++) parts.push([`${query[1]}q_query.${h}.weight`, config.headDim], [`${query[1]}q_gate.${h}.weight`, config.headDim])
      return rowWindows(tensor, parts, 2)
    }
    const linear = /^(model\.layers\.\d+\.linear_attn\.)(in_proj_\w+)\.weight$/.exec(tensor.name)
    const layout = linear ? layouts[linear[2]!] : undefined
    if (!linear || !layout) return [tensor]
    const window = (part: string, g: number): [string, number] => [`${linear[1]}in_proj.${part}.${g}.weight`, rows[part]!]
    const parts = layout.groupMajor
      ? Array.from({length: groups}, (_, g) => layout.parts.map((part) => window(part, g))).flat()
      : layout.parts.flatMap((part) => Array.from({length: groups}, (_, g) => window(part, g)))
    return rowWindows(tensor, parts, 2)
  })
}
