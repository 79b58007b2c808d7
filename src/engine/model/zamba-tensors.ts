// Zamba's (v1, zamba-config.ts) tensors under the engine's names: a hybrid layer's mamba_decoder.* as a plain mixer
// layer's; the shared block, stored under the first hybrid layer (model.layers.L.shared_transf.*), as
// model.shared_blocks.0.*; the mixers' x_proj_weight / dt_proj_weight / dt_proj_bias as x_proj.weight / dt_proj.weight /
// dt_proj.bias; final_layernorm as model.norm. The per-head [heads, head_dim, ...] A_log, D and dt_proj_bias are read
// flat over the channels (the same bytes), and in_proj's rows, x and gate interleaved per channel (ZambaMambaMixer's
// view(..., 2, seq)), are read as [x | gate] (ropeInterleavedHeads 1: the even rows, then the odd ones).
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

type Shape = {name: string; shape: number[]}

const MIXER_RENAMES: [string, string][] = [['x_proj_weight', 'x_proj.weight'], ['dt_proj_weight', 'dt_proj.weight'], ['dt_proj_bias', 'dt_proj.bias']]

function isZamba(config: Pick<ModelConfig, 'hybrid'>): boolean {
  return config.hybrid?.zamba2 !== undefined && config.hybrid.mamba1 !== undefined
}

/** The checkpoint's names as the engine's, flattened where the engine reads per channel; other models' unchanged. */
export function zambaEngineTensors(config: Pick<ModelConfig, 'hybrid'>, tensors: TensorInfo[]): TensorInfo[] {
  if (!isZamba(config)) return tensors
  const source = config.hybrid!.zamba2!.sharedBlocks.indexOf(0)
  const {innerSize: inner, heads = 1} = config.hybrid!.mamba1!
  return tensors.map((tensor) => {
    if (tensor.name === 'model.final_layernorm.weight') return {...tensor, name: 'model.norm.weight'}
    const shared = /^model\.layers\.(\d+)\.shared_transf\.(.+)$/.exec(tensor.name)
    if (shared) return Number(shared[1]) === source ? {...tensor, name: `model.shared_blocks.0.${shared[2]}`} : tensor
    const mixer = /^model\.layers\.(\d+)\.(?:mamba_decoder\.)?(mamba\.|input_layernorm\.weight$)(.*)$/.exec(tensor.name)
    if (!mixer) return tensor
    const part = MIXER_RENAMES.find(([checkpoint]) => checkpoint === mixer[3])?.[1] ?? mixer[3]
    const name = `model.layers.${mixer[1]}.${mixer[2]}${part}`
    if (part === 'in_proj.weight') return {...tensor, name, ropeInterleavedHeads: 1}
    // [heads, head_dim(, state)] over the channels.
    // (A shape other than the checkpoint's is left as it is, for the shape check to name.)
    const [first, second] = tensor.shape
    if ((part === 'A_log' || part === 'D' || part === 'dt_proj.bias') && first === heads && first * second! === inner) return {...tensor, name, shape: [inner, ...tensor.shape.slice(2)]}
    // One head's x_proj / dt_proj are the plain Mamba-1 matrices (mamba1-tensors.ts).
    if ((part === 'x_proj.weight' || part === 'dt_proj.weight') && heads === 1 && first === 1) return {...tensor, name, shape: tensor.shape.slice(1)}
    return {...tensor, name}
  })
}

/** The checkpoint's name of an engine tensor (for messages and for writing test checkpoints); others unchanged. */
export function zambaCheckpointName(config: Pick<ModelConfig, 'hybrid'>, name: string): string {
  if (!isZamba(config)) return name
  const blocks = config.hybrid!.zamba2!.sharedBlocks
  if (name === 'model.norm.weight') return 'model.final_layernorm.weight'
  const block = /^model\.shared_blocks\.0\.(.+)$/.exec(name)
  if (block) return `model.layers.${blocks.indexOf(0)}.shared_transf.${block[1]}`
  const mixer = /^model\.layers\.(\d+)\.(mamba\.(.+)|input_layernorm\.weight)$/.exec(name)
  if (!mixer) return name
  const part = mixer[3] === undefined ? mixer[2]! : `mamba.${MIXER_RENAMES.find(([, engine]) => engine === mixer[3])?.[0] ?? mixer[3]}`
  return `model.layers.${mixer[1]}.${blocks[Number(mixer[1])]! >= 0 ? 'mamba_decoder.' : ''}${part}`
}

/** The shapes a checkpoint holds for the engine's flat A_log, D and dt_proj.bias: [heads, head_dim(, state)]. */
export function zambaCheckpointShapes(config: Pick<ModelConfig, 'hybrid'>, shapes: Shape[]): Shape[] {
  if (!isZamba(config)) return shapes
  const heads = config.hybrid!.mamba1!.heads ?? 1
  return shapes.map(({name, shape}) => {
    if (/\.mamba\.(A_log|D|dt_proj\.bias)$/.test(name)) return {name, shape: [heads, shape[0]! / heads, ...shape.slice(1)]}
    return heads === 1 && /\.mamba\.(x_proj|dt_proj)\.weight$/.test(name) ? {name, shape: [1, ...shape]} : {name, shape}
  })
}
