// GraniteMoE's checkpoint layout: each layer's experts in two 3D tensors (input_linear [experts, 2 x inter, hidden] with
// gate rows then up rows per expert, output_linear [experts, hidden, inter]) and router.layer, seen as the per-expert
// tensors the backends load (Qwen's names). A part is a byte window of the file, as for Phi-3's fused projections.
// GraniteMoeShared (and GraniteMoeSWA) adds a shared expert fused alike (shared_mlp.input_linear [2 x shared, hidden], output_linear).
// GraniteMoeSWA's checkpoints name the experts and router as transformers 5 does (experts.gate_up_proj / down_proj, router.weight).
import {ModelLoadError} from '../errors.js'
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'
import {GRANITE_MOE_SWA} from './granite-swa-config.js'

const LAYER = /^(model\.layers\.\d+\.)block_sparse_moe\.(input_linear|output_linear|router\.layer)\.weight$/
/** GraniteMoeSWA's names for the same tensors: transformers 5.18 loads them as its modules name them (no renaming for it). */
const SWA_LAYER = /^(model\.layers\.\d+\.)block_sparse_moe\.(experts\.gate_up_proj|experts\.down_proj|router\.weight)$/
const SWA_KINDS: Record<string, string> = {'experts.gate_up_proj': 'input_linear', 'experts.down_proj': 'output_linear', 'router.weight': 'router.layer'}
const SWA_NAMES: Record<string, string> = {input_linear: 'experts.gate_up_proj', output_linear: 'experts.down_proj', 'router.layer': 'router.weight'}
const SHARED = /^(model\.layers\.\d+\.)shared_mlp\.(input_linear|output_linear)\.weight$/
const GRANITE_MOE = new Set(['GraniteMoeForCausalLM', 'GraniteMoeSharedForCausalLM', 'GraniteMoeHybridForCausalLM', 'GraniteMoeSWAForCausalLM'])

/** GraniteMoeShared's shared expert split into gate/up (input_linear's halves, as transformers' chunk(2)) and down. */
function splitSharedExpert(config: ModelConfig, tensor: TensorInfo, prefix: string, kind: string): TensorInfo[] {
  const shared = config.moe!.sharedExpertIntermediateSize
  const shape = kind === 'input_linear' ? [2 * shared, config.hiddenSize] : [config.hiddenSize, shared]
  if (tensor.shape.length !== 2 || tensor.shape.some((d, i) => d !== shape[i])) {
    throw new ModelLoadError(`Tensor ${tensor.name} has shape [${tensor.shape.join(', ')}], but config.json implies [${shape.join(', ')}] (in ${tensor.path}).`)
  }
  if (kind === 'output_linear') return [{...tensor, name: `${prefix}mlp.shared_expert.down_proj.weight`}]
  const half = tensor.nbytes / 2
  const part = (name: string, index: number): TensorInfo => ({...tensor, name, shape: [shared, config.hiddenSize], offset: tensor.offset + index * half, nbytes: half})
  return [part(`${prefix}mlp.shared_expert.gate_proj.weight`, 0), part(`${prefix}mlp.shared_expert.up_proj.weight`, 1)]
}

/** The checkpoint's tensors with GraniteMoE's fused experts split per expert and its router renamed; others unchanged. */
export function splitGraniteMoeExperts(config: ModelConfig, tensors: TensorInfo[]): TensorInfo[] {
  if (!GRANITE_MOE.has(config.architecture) || !config.moe) return tensors
  const {numExperts: experts, expertIntermediateSize: inter} = config.moe
  const hidden = config.hiddenSize
  return tensors.flatMap((tensor) => {
    const shared = config.moe!.sharedExpertIntermediateSize > 0 ? SHARED.exec(tensor.name) : null
    if (shared) return splitSharedExpert(config, tensor, shared[1]!, shared[2]!)
    const swa = config.architecture === GRANITE_MOE_SWA
    const match = (swa ? SWA_LAYER : LAYER).exec(tensor.name)
    if (!match) return [tensor]
    const prefix = match[1]!
    const kind = swa ? SWA_KINDS[match[2]!]! : match[2]!
    if (kind === 'router.layer') return [{...tensor, name: `${prefix}mlp.gate.weight`}]
    const [rows, cols] = kind === 'input_linear' ? [2 * inter, hidden] : [hidden, inter]
    const shape = [experts, rows, cols]
    if (tensor.shape.length !== 3 || tensor.shape.some((d, i) => d !== shape[i]) || tensor.nbytes % (experts * rows) !== 0) {
      throw new ModelLoadError(`Tensor ${tensor.name} has shape [${tensor.shape.join(', ')}], but config.json implies [${shape.join(', ')}] (in ${tensor.path}).`)
    }
    const rowBytes = tensor.nbytes / (experts * rows)
    const part = (name: string, firstRow: number, count: number): TensorInfo => ({...tensor, name, shape: [count, cols], offset: tensor.offset + firstRow * rowBytes, nbytes: count * rowBytes})
    return Array.from({length: experts}, (_, e) => kind === 'input_linear'
      ? [part(`${prefix}mlp.experts.${e}.gate_proj.weight`, e * rows, inter), part(`${prefix}mlp.experts.${e}.up_proj.weight`, e * rows + inter, inter)]
      : [part(`${prefix}mlp.experts.${e}.down_proj.weight`, e * rows, rows)]).flat()
  })
}

/** The tensors a GraniteMoE checkpoint holds in place of the engine's per-expert ones, for writing test checkpoints. */
export function graniteMoeCheckpointShapes(config: ModelConfig, shapes: {name: string; shape: number[]}[]): {name: string; shape: number[]}[] {
  if (!GRANITE_MOE.has(config.architecture) || !config.moe) return shapes
  const {numExperts: experts, expertIntermediateSize: inter} = config.moe
  return shapes.flatMap(({name, shape}) => {
    const shared = /^(model\.layers\.\d+\.)mlp\.shared_expert\.(gate|up|down)_proj\.weight$/.exec(name)
    if (shared?.[2] === 'up') return []
    if (shared) return [shared[2] === 'gate' ? {name: `${shared[1]}shared_mlp.input_linear.weight`, shape: [2 * shape[0]!, shape[1]!]} : {name: `${shared[1]}shared_mlp.output_linear.weight`, shape}]
    const match = /^(model\.layers\.\d+\.)mlp\.(gate|experts\.(\d+)\.(gate|up|down)_proj)\.weight$/.exec(name)
    if (!match) return [{name, shape}]
    const prefix = match[1]!
    const named = (kind: string) => (config.architecture === GRANITE_MOE_SWA ? `${prefix}block_sparse_moe.${SWA_NAMES[kind]}` : `${prefix}block_sparse_moe.${kind}.weight`)
    if (match[2] === 'gate') return [{name: named('router.layer'), shape}]
    // The first expert's gate and down stand for the whole fused tensor.
    if (match[3] !== '0' || match[4] === 'up') return []
    return match[4] === 'gate'
      ? [{name: named('input_linear'), shape: [experts, 2 * inter, config.hiddenSize]}]
      : [{name: named('output_linear'), shape: [experts, config.hiddenSize, inter]}]
  })
}
