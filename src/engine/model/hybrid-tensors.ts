// The tensors of Qwen 3.5's hybrid layers: what a checkpoint holds per layer (a Gated DeltaNet layer's linear_attn.*,
// or a gated attention whose q_proj interleaves each head's query and gate rows), and q_proj cut into the per-head
// row windows the native loader stacks as [queries | k | v | gates] (native/cpu/model_weights.cpp attention_parts).
import type {ModelConfig} from './model-config.js'
import {rowWindows} from './fused-tensors.js'
import type {HybridFeatures} from './qwen35-config.js'
import type {TensorInfo} from './safetensors.js'

type Shape = {name: string; shape: number[]}

/** One layer's token mixer under `prefix` (model.layers.N): a linear layer's tensors, or the gated attention's. */
export function hybridMixerShapes(config: ModelConfig, hybrid: HybridFeatures, layer: number, prefix: string): Shape[] {
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
  return [
    {name: `${p}.in_proj_qkv.weight`, shape: [channels, hidden]},
    {name: `${p}.in_proj_z.weight`, shape: [values, hidden]},
    {name: `${p}.in_proj_b.weight`, shape: [heads, hidden]},
    {name: `${p}.in_proj_a.weight`, shape: [heads, hidden]},
    {name: `${p}.conv1d.weight`, shape: [channels, 1, hybrid.convKernel]},
    {name: `${p}.dt_bias`, shape: [heads]},
    {name: `${p}.A_log`, shape: [heads]},
    {name: `${p}.norm.weight`, shape: [hybrid.linearValueHeadDim]},
    {name: `${p}.out_proj.weight`, shape: [hidden, values]},
  ]
}

/** Each gated q_proj as its heads' query and gate row windows (self_attn.q_query.H / q_gate.H), the rest as they are. */
export function splitGatedQueries(config: ModelConfig, tensors: TensorInfo[]): TensorInfo[] {
  return tensors.flatMap((tensor) => {
    const match = /^(model\.layers\.\d+\.self_attn\.)q_proj\.weight$/.exec(tensor.name)
    if (!match) return [tensor]
    const parts: [string, number][] = []
    for (let h = 0; h < config.numHeads; h++) parts.push([`${match[1]}q_query.${h}.weight`, config.headDim], [`${match[1]}q_gate.${h}.weight`, config.headDim])
    return rowWindows(tensor, parts, 2)
  })
}
