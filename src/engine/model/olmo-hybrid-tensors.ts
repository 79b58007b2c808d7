// OLMo Hybrid's tensors: a linear layer holds linear_attn.{q,k,v,a,b,g}_proj apart, o_norm and o_proj (cut at load into
// the key-head-group windows and names native/cpu/linear_attention.cpp stacks, g as Qwen 3.5's z); an attention layer
// holds OLMo 3's q/k/v/o with whole-width q/k norms and post-norms only, no input_layernorm.
import type {ModelConfig} from './model-config.js'
import {rowWindows} from './fused-tensors.js'
import type {HybridFeatures} from './qwen35-config.js'
import type {TensorInfo} from './safetensors.js'

type Shape = {name: string; shape: number[]}

/** Layer `layer`'s tensors under `prefix` (model.layers.N): mixer, norms and MLP. */
export function olmoHybridLayerShapes(config: ModelConfig, hybrid: HybridFeatures, layer: number, prefix: string): Shape[] {
  const hidden = config.hiddenSize
  const inter = config.intermediateSize
  const mlp = [{name: `${prefix}.mlp.gate_proj.weight`, shape: [inter, hidden]}, {name: `${prefix}.mlp.up_proj.weight`, shape: [inter, hidden]}, {name: `${prefix}.mlp.down_proj.weight`, shape: [hidden, inter]}]
  if (!hybrid.linearLayers[layer]) {
    const q = config.numHeads * config.headDim
    const kv = config.numKvHeads * config.headDim
    const a = `${prefix}.self_attn`
    return [
      {name: `${a}.q_proj.weight`, shape: [q, hidden]}, {name: `${a}.k_proj.weight`, shape: [kv, hidden]}, {name: `${a}.v_proj.weight`, shape: [kv, hidden]},
      {name: `${a}.q_norm.weight`, shape: [q]}, {name: `${a}.k_norm.weight`, shape: [kv]}, {name: `${a}.o_proj.weight`, shape: [hidden, q]},
      {name: `${prefix}.post_attention_layernorm.weight`, shape: [hidden]}, ...mlp, {name: `${prefix}.post_feedforward_layernorm.weight`, shape: [hidden]},
    ]
  }
  const keys = hybrid.linearNumKeyHeads * hybrid.linearKeyHeadDim
  const values = hybrid.linearNumValueHeads * hybrid.linearValueHeadDim
  const heads = hybrid.linearNumValueHeads
  const p = `${prefix}.linear_attn`
  return [
    {name: `${prefix}.input_layernorm.weight`, shape: [hidden]},
    {name: `${p}.q_proj.weight`, shape: [keys, hidden]}, {name: `${p}.k_proj.weight`, shape: [keys, hidden]}, {name: `${p}.v_proj.weight`, shape: [values, hidden]},
    {name: `${p}.a_proj.weight`, shape: [heads, hidden]}, {name: `${p}.b_proj.weight`, shape: [heads, hidden]}, {name: `${p}.g_proj.weight`, shape: [values, hidden]},
    {name: `${p}.conv1d.weight`, shape: [2 * keys + values, 1, hybrid.convKernel]},
    {name: `${p}.dt_bias`, shape: [heads]}, {name: `${p}.A_log`, shape: [heads]},
    {name: `${p}.o_norm.weight`, shape: [hybrid.linearValueHeadDim]}, {name: `${p}.o_proj.weight`, shape: [hidden, values]},
    {name: `${prefix}.post_attention_layernorm.weight`, shape: [hidden]}, ...mlp,
  ]
}

/** The engine's part of each projection row: g is the gate Qwen 3.5 calls z. */
const PART: Record<string, string> = {q: 'q', k: 'k', v: 'v', g: 'z', b: 'b', a: 'a'}

/** Each linear projection as its key-head groups' windows (linear_attn.in_proj.{q,k,v,z,b,a}.G), o_norm and o_proj under Qwen 3.5's names. */
export function olmoHybridEngineTensors(hybrid: HybridFeatures, tensors: TensorInfo[]): TensorInfo[] {
  const groups = hybrid.linearNumKeyHeads
  const perGroup = hybrid.linearNumValueHeads / groups
  const rows: Record<string, number> = {q: hybrid.linearKeyHeadDim, k: hybrid.linearKeyHeadDim, v: perGroup * hybrid.linearValueHeadDim, z: perGroup * hybrid.linearValueHeadDim, b: perGroup, a: perGroup}
  return tensors.flatMap((tensor) => {
    const projection = /^(model\.layers\.\d+\.linear_attn\.)([qkvgba])_proj\.weight$/.exec(tensor.name)
    if (projection) {
      const part = PART[projection[2]!]!
      return rowWindows(tensor, Array.from({length: groups}, (_, g): [string, number] => [`${projection[1]}in_proj.${part}.${g}.weight`, rows[part]!]), 2)
    }
    return [{...tensor, name: tensor.name.replace(/(\.linear_attn\.)o_norm\./, '$1norm.').replace(/(\.linear_attn\.)o_proj\./, '$1out_proj.')}]
  })
}
