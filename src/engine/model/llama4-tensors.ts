// Llama 4's checkpoint layout under the engine's names (feed_forward and its router are renamed by tensor-renames.ts,
// a multimodal checkpoint's prefix by gemma3-config.ts): each layer's experts in two 3D tensors stored [in, out]
// (gate_up_proj [experts, hidden, 2 x inter], gate columns then up columns; down_proj [experts, inter, hidden]) seen as
// one transposed byte window per expert, and q/k rows rotating interleaved pairs reordered to rotate_half's at load (as
// GLM's: llama-twists.ts). Qwen3-VL-MoE stores its experts alike, under mlp.experts (moe.fusedExperts), except in its
// FP8 releases, which keep each expert apart as Qwen3-MoE does; Mistral Small 4 under mlp.experts as transformers holds
// them, [experts, out, in] (no transpose in its loader); Aria's language model as Llama 4's, [in, out] only, also as fc1 / fc2.
import {ModelLoadError} from '../errors.js'
import {LLAMA4} from './llama4-config.js'
import {MISTRAL4} from './mistral4-config.js'
import {ARIA_TEXT} from './aria-config.js'
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

const EXPERTS = /^(model\.layers\.\d+\.)(?:feed_forward|mlp)\.experts\.(gate_up_proj|down_proj)$/
/** Aria's original checkpoints' names for the same two tensors (transformers renames them). */
const ARIA_EXPERTS = /^(model\.layers\.\d+\.)mlp\.experts\.(fc1|fc2)\.weight$/

/** The config for the checkpoint's expert layout: Qwen3-VL-MoE's experts stored apart (gate_proj, up_proj, down_proj) are read as Qwen3-MoE's. */
export function withExpertLayout(config: ModelConfig, tensors: readonly {name: string}[]): ModelConfig {
  if (!config.moe?.fusedExperts || config.architecture === LLAMA4 || config.architecture === ARIA_TEXT) return config
  if (!tensors.some((t) => /\.mlp\.experts\.\d+\.gate_proj\.weight$/.test(t.name))) return config
  const {fusedExperts: _, ...moe} = config.moe
  return {...config, moe}
}

/** The checkpoint's tensors under the engine's names, fused experts split per expert; other models' tensors unchanged. */
export function llama4Tensors(config: ModelConfig, tensors: TensorInfo[]): TensorInfo[] {
  const llama4 = config.architecture === LLAMA4
  if (!llama4 && !config.moe?.fusedExperts) return tensors
  const {numHeads, numKvHeads, headDim} = config
  return tensors.flatMap((tensor): TensorInfo[] => {
    const {name} = tensor
    // Interleaved pairs (2i, 2i + 1) of every head become (i, i + headDim / 2); q.k is unchanged, NoPE layers included.
    if (llama4 && /\.self_attn\.q_proj\.(weight|bias)$/.test(name)) return [{...tensor, ropeInterleavedHeads: numHeads, ropeInterleavedDims: headDim}]
    if (llama4 && /\.self_attn\.k_proj\.(weight|bias)$/.test(name)) return [{...tensor, ropeInterleavedHeads: numKvHeads, ropeInterleavedDims: headDim}]
    const aria = config.architecture === ARIA_TEXT
    const ariaMatch = aria ? ARIA_EXPERTS.exec(name) : null
    const match = ariaMatch ? [ariaMatch[0], ariaMatch[1], ariaMatch[2] === 'fc1' ? 'gate_up_proj' : 'down_proj'] : EXPERTS.exec(name)
    if (!match || !config.moe?.fusedExperts) return [tensor]
    const [, prefix, part] = match as unknown as [string, string, string]
    const {numExperts: experts, expertIntermediateSize: inter} = config.moe
    const hidden = config.hiddenSize
    const [stored, engine] = part === 'gate_up_proj' ? [[experts, hidden, 2 * inter], [2 * inter, hidden]] : [[experts, inter, hidden], [hidden, inter]]
    const is = (shape: number[]) => tensor.shape.length === 3 && tensor.shape.every((d, i) => d === shape[i])
    // Qwen3-VL-MoE's loader (transformers' Transpose with check_dims) also takes experts already stored [out, in], as
    // transformers holds them, and reads a shape that fits both so.
    const untransposed = !llama4 && !aria && is([experts, ...engine!]) // Aria's loader takes [in, out] only
    const outIn = config.architecture === MISTRAL4
    if ((!untransposed && (outIn || !is(stored))) || tensor.nbytes % experts !== 0) {
      throw new ModelLoadError(`Tensor ${tensor.name} has shape [${tensor.shape.join(', ')}], but config.json implies [${(outIn ? [experts, ...engine!] : stored).join(', ')}] (in ${tensor.path}).`)
    }
    const bytes = tensor.nbytes / experts
    return Array.from({length: experts}, (_, e): TensorInfo => ({
      ...tensor, name: `${prefix}mlp.experts.${e}.${part}.weight`, shape: engine!, offset: tensor.offset + e * bytes, nbytes: bytes, ...(untransposed ? {} : {transposed: true}),
    }))
  })
}

/** The fused expert tensors a Llama 4 (Qwen3-VL-MoE, Mistral Small 4) checkpoint holds in place of the engine's per-expert ones, for writing test checkpoints. */
export function llama4CheckpointShapes(config: ModelConfig, shapes: {name: string; shape: number[]}[]): {name: string; shape: number[]}[] {
  if (!config.moe?.fusedExperts) return shapes
  const block = config.architecture === LLAMA4 ? 'feed_forward' : 'mlp'
  const {numExperts: experts, expertIntermediateSize: inter} = config.moe
  return shapes.flatMap(({name, shape}) => {
    const expert = /^(model\.layers\.\d+\.)mlp\.experts\.(\d+)\.(gate_up|down)_proj\.weight$/.exec(name)
    // The first expert's tensors stand for the whole fused ones.
    if (expert && expert[2] !== '0') return []
    if (expert) {
      const [rows, columns] = expert[3] === 'gate_up' ? [config.hiddenSize, 2 * inter] : [inter, config.hiddenSize]
      const fused = config.architecture === MISTRAL4 ? [experts, columns, rows] : [experts, rows, columns]
      return [{name: `${expert[1]}${block}.experts.${expert[3]}_proj`, shape: fused}]
    }
    return [{name, shape}]
  })
}
