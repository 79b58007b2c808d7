// Kimi Linear's tensors (kimi-linear-config.ts): a Kimi Delta Attention layer's self_attn.* (named linear_attn.* in the
// engine, so DeepSeek's latent-attention renames in deepseek-config.ts leave its q/k/v/o_proj alone), a full layer's
// q/k/v/o (deepseekTensorShapes turns them into latent attention), and the sparse MLPs' block_sparse_moe with
// Mixtral's expert names (w1 gate, w3 up, w2 down) beside DeepSeek's shared_experts and router bias.
import type {ModelConfig} from './model-config.js'
import type {HybridFeatures} from './qwen35-config.js'
import type {TensorInfo} from './safetensors.js'

type Shape = {name: string; shape: number[]}

/** One layer's token mixer under `prefix` (model.layers.N), engine names. */
export function kimiLinearLayerShapes(config: ModelConfig, hybrid: HybridFeatures, layer: number, prefix: string): Shape[] {
  const hidden = config.hiddenSize
  if (!hybrid.linearLayers[layer]) {
    const q = config.numHeads * config.headDim
    const kv = config.numKvHeads * config.headDim
    return ['q', 'k', 'v'].map((part) => ({name: `${prefix}.self_attn.${part}_proj.weight`, shape: [part === 'q' ? q : kv, hidden]}))
      .concat({name: `${prefix}.self_attn.o_proj.weight`, shape: [hidden, q]})
  }
  const heads = hybrid.linearNumValueHeads
  const dim = hybrid.linearValueHeadDim
  const width = heads * dim
  const p = `${prefix}.linear_attn`
  return [
    ...['q', 'k', 'v'].map((part) => ({name: `${p}.${part}_proj.weight`, shape: [width, hidden]})),
    ...['q', 'k', 'v'].map((part) => ({name: `${p}.${part}_conv1d.weight`, shape: [width, 1, hybrid.convKernel]})),
    {name: `${p}.f_a_proj.weight`, shape: [dim, hidden]},
    {name: `${p}.f_b_proj.weight`, shape: [width, dim]},
    {name: `${p}.dt_bias`, shape: [width]},
    {name: `${p}.A_log`, shape: [1, 1, heads, 1]},
    {name: `${p}.b_proj.weight`, shape: [heads, hidden]},
    {name: `${p}.g_a_proj.weight`, shape: [dim, hidden]},
    {name: `${p}.g_b_proj.weight`, shape: [width, dim]},
    {name: `${p}.o_norm.weight`, shape: [dim]},
    {name: `${p}.o_proj.weight`, shape: [hidden, width]},
  ]
}

const EXPERT_PARTS: Record<string, string> = {gate: 'w1', up: 'w3', down: 'w2'}
const EXPERT_ENGINE: Record<string, string> = {w1: 'gate', w3: 'up', w2: 'down'}

/** The checkpoint's names as the engine's (moe-config.ts moeEngineName then takes shared_experts to shared_expert). */
export function kimiLinearEngineTensors(config: Pick<ModelConfig, 'hybrid'>, tensors: TensorInfo[]): TensorInfo[] {
  const linearLayers = config.hybrid?.kimiDelta ? config.hybrid.linearLayers : null
  if (!linearLayers) return tensors
  return tensors.map((tensor) => {
    const layer = /^model\.layers\.(\d+)\.self_attn\./.exec(tensor.name)
    const name = layer && linearLayers[Number(layer[1])] ? tensor.name.replace('.self_attn.', '.linear_attn.') : tensor.name
    return {...tensor, name: name.replace(/\.block_sparse_moe\.experts\.(\d+)\.(w1|w2|w3)\.weight$/, (_, e: string, w: string) => `.mlp.experts.${e}.${EXPERT_ENGINE[w]}_proj.weight`).replace('.block_sparse_moe.', '.mlp.')}
  })
}

/** The checkpoint's name of an engine tensor after moeCheckpointName (for messages and for writing test checkpoints); others unchanged. */
export function kimiLinearCheckpointName(config: Pick<ModelConfig, 'hybrid'>, name: string): string {
  if (!config.hybrid?.kimiDelta) return name
  return name.replace(/^(model\.layers\.\d+\.)linear_attn\./, '$1self_attn.')
    .replace(/\.mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$/, (_, e: string, part: string) => `.block_sparse_moe.experts.${e}.${EXPERT_PARTS[part]}.weight`)
    .replace(/\.mlp\.(gate\.|shared_experts\.)/, '.block_sparse_moe.$1')
}
