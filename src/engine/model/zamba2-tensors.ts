// Zamba2's tensors (zamba2-config.ts) under the engine's names: a hybrid layer's mamba_decoder.* as a plain mixer
// layer's; each shared block, stored under the first hybrid layer that runs it (model.layers.L.shared_transformer.*),
// as model.shared_blocks.B.*; each use's adapters, stored in that block's adapter lists by hybrid-layer number, as the
// using layer's (model.layers.L.{gate_up,q,k,v}_adapter.{0,1}); final_layernorm as model.norm.
import type {ModelConfig} from './model-config.js'
import type {Zamba2Features} from './zamba2-config.js'
import type {TensorInfo} from './safetensors.js'

type Shape = {name: string; shape: number[]}

/** The tensors a layer has beside its mixer: its linear and adapters, and the shared block it is the first to run. */
export function zamba2LayerShapes(config: ModelConfig, z: Zamba2Features, layer: number): Shape[] {
  const block = z.sharedBlocks[layer]!
  if (block < 0) return []
  const hidden = config.hiddenSize
  const width = 2 * hidden
  const [q, kv, inter, rank] = [config.numHeads * config.headDim, config.numKvHeads * config.headDim, config.intermediateSize, z.adapterRank]
  const p = `model.layers.${layer}`
  const adapter = (name: string, input: number, output: number): Shape[] => [{name: `${p}.${name}.0.weight`, shape: [rank, input]}, {name: `${p}.${name}.1.weight`, shape: [output, rank]}]
  const shapes: Shape[] = [{name: `${p}.linear.weight`, shape: [hidden, hidden]}, ...(rank > 0 ? adapter('gate_up_adapter', hidden, 2 * inter) : []),
    ...(z.attentionAdapters ? [...adapter('q_adapter', width, q), ...adapter('k_adapter', width, kv), ...adapter('v_adapter', width, kv)] : [])]
  if (z.sharedBlocks.indexOf(block) !== layer) return shapes
  const b = `model.shared_blocks.${block}`
  return [
    {name: `${b}.input_layernorm.weight`, shape: [width]},
    {name: `${b}.self_attn.q_proj.weight`, shape: [q, width]},
    {name: `${b}.self_attn.k_proj.weight`, shape: [kv, width]},
    {name: `${b}.self_attn.v_proj.weight`, shape: [kv, width]},
    {name: `${b}.self_attn.o_proj.weight`, shape: [hidden, q]},
    {name: `${b}.pre_ff_layernorm.weight`, shape: [hidden]},
    ...(z.gateUpApart ? [{name: `${b}.feed_forward.gate_proj.weight`, shape: [inter, hidden]}, {name: `${b}.feed_forward.up_proj.weight`, shape: [inter, hidden]}]
      : [{name: `${b}.feed_forward.gate_up_proj.weight`, shape: [2 * inter, hidden]}]),
    {name: `${b}.feed_forward.down_proj.weight`, shape: [hidden, inter]},
    ...shapes,
  ]
}

const ADAPTER_LISTS: Record<string, string> = {'feed_forward.gate_up_proj_adapter_list': 'gate_up_adapter', 'self_attn.linear_q_adapter_list': 'q_adapter', 'self_attn.linear_k_adapter_list': 'k_adapter', 'self_attn.linear_v_adapter_list': 'v_adapter'}

/** The hybrid layers in order (adapter lists count them), and each block's source layer (its first user). */
function layout(z: Zamba2Features): {hybridLayers: number[]; sourceLayers: number[]} {
  const hybridLayers = z.sharedBlocks.flatMap((block, layer) => (block >= 0 ? [layer] : []))
  return {hybridLayers, sourceLayers: Array.from({length: z.numMemBlocks}, (_, block) => z.sharedBlocks.indexOf(block))}
}

/** The checkpoint's names as the engine's; the tied copies of a block a checkpoint may also hold keep their names (and are not read). */
export function zamba2EngineTensors(config: Pick<ModelConfig, 'hybrid'>, tensors: TensorInfo[]): TensorInfo[] {
  const z = config.hybrid?.zamba2
  if (!z || config.hybrid?.mamba1) return tensors // Zamba (v1): zamba-tensors.ts
  const {hybridLayers, sourceLayers} = layout(z)
  return tensors.map((tensor) => {
    if (tensor.name === 'model.final_layernorm.weight') return {...tensor, name: 'model.norm.weight'}
    const decoder = /^model\.layers\.(\d+)\.mamba_decoder\.(.+)$/.exec(tensor.name)
    if (decoder) return {...tensor, name: `model.layers.${decoder[1]}.${decoder[2]}`}
    const shared = /^model\.layers\.(\d+)\.shared_transformer\.(.+)$/.exec(tensor.name)
    const block = shared ? sourceLayers.indexOf(Number(shared[1])) : -1
    if (!shared || block < 0) return tensor
    const adapter = /^(.+)\.(\d+)\.([01])\.weight$/.exec(shared[2]!)
    const use = adapter && ADAPTER_LISTS[adapter[1]!] ? hybridLayers[Number(adapter[2])] : undefined
    if (adapter && use !== undefined) return {...tensor, name: `model.layers.${use}.${ADAPTER_LISTS[adapter[1]!]}.${adapter[3]}.weight`}
    return {...tensor, name: `model.shared_blocks.${block}.${shared[2]}`}
  })
}

/** The checkpoint's name of an engine tensor (for messages and for writing test checkpoints); others unchanged. */
export function zamba2CheckpointName(config: Pick<ModelConfig, 'hybrid'>, name: string): string {
  const z = config.hybrid?.zamba2
  if (!z || config.hybrid?.mamba1) return name // Zamba (v1): zamba-tensors.ts
  const {hybridLayers, sourceLayers} = layout(z)
  if (name === 'model.norm.weight') return 'model.final_layernorm.weight'
  const block = /^model\.shared_blocks\.(\d+)\.(.+)$/.exec(name)
  if (block) return `model.layers.${sourceLayers[Number(block[1])]}.shared_transformer.${block[2]}`
  const adapter = /^model\.layers\.(\d+)\.(gate_up|q|k|v)_adapter\.([01])\.weight$/.exec(name)
  if (adapter) {
    const layer = Number(adapter[1])
    const list = Object.keys(ADAPTER_LISTS).find((key) => ADAPTER_LISTS[key] === `${adapter[2]}_adapter`)!
    return `model.layers.${sourceLayers[z.sharedBlocks[layer]!]}.shared_transformer.${list}.${hybridLayers.indexOf(layer)}.${adapter[3]}.weight`
  }
  const mixer = /^model\.layers\.(\d+)\.((mamba|input_layernorm)\..+)$/.exec(name)
  if (mixer && z.sharedBlocks[Number(mixer[1])]! >= 0) return `model.layers.${mixer[1]}.mamba_decoder.${mixer[2]}`
  return name
}
