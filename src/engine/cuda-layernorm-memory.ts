// The LayerNorm family's regions on the GPU, as native/cuda/layernorm_weights.cu stores its weights and
// native/cuda/layernorm_forward.cu plans a step's scratch; gpu-memory.ts rounds each to 256 bytes and sums them.
import {layerNormTensorShapes} from './model/layernorm-family.js'
import type {ModelConfig} from './model/model-config.js'

/** The weight region a tensor goes to: q/k/v (weights, biases), gate/up and per-head q/k norms are stacked into one each. */
function regionOf(name: string): string {
  return name.replace(/\.self_attn\.[qkv]_proj\./, '.self_attn.qkv_parts.').replace(/\.mlp\.(gate|up)_proj\./, '.mlp.gate_up.').replace(/_norm\.\d+\.weight$/, '_norm.heads')
}

/**
 * The bytes of each weight region as layernorm_weights.cu stores them: matrices in 2 bytes, vectors (norms, biases) and
 * the learned position rows in fp32, a tied LM head once.
 */
export function layerNormWeightRegions(config: ModelConfig): number[] {
  const regions = new Map<string, number>()
  for (const {name, shape} of layerNormTensorShapes(config)) {
    const fp32 = shape.length === 1 || name === 'model.embed_positions.weight'
    const bytes = shape.reduce((product, dim) => product * dim, 1) * (fp32 ? 4 : 2)
    regions.set(regionOf(name), (regions.get(regionOf(name)) ?? 0) + bytes)
  }
  return [...regions.values()]
}

/**
 * One step's scratch tensors as LayerNormForward::carve plans them, in its order: `numTokens` rows through the layers,
 * `chunkRows` logits rows at a time, the attention partitions' workspace as given. Like the Llama path's plan in
 * gpu-memory.ts it leaves out the WMMA split-K workspace, which the activation reserve's margin holds.
 */
export function layerNormScratchTensors(config: ModelConfig, numTokens: number, chunkRows: number, attentionWorkspace: number): number[] {
  const n = numTokens
  const {hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim, vocabSize} = config
  const embed = config.layerNorm!.embedDim
  const widest = Math.max(h, embed)
  const qWidth = numHeads * headDim
  return [
    chunkRows * vocabSize * 4, // logits
    n * h * 4, // residual
    n * h * 4, // attention output (o_proj, fp32)
    n * h * 4, // MLP output
    n * embed * 4, // embeddings before project_in (OPT's word_embed_proj_dim)
    n * widest * 2, // the next GEMM's input
    n * (qWidth + 2 * numKvHeads * headDim) * 4,
    n * qWidth * 2, // attention output (GEMM input)
    n * (config.layerNorm!.gatedMlp ? 2 : 1) * inter * 4, // fc1 (StableLM: gate/up)
    n * inter * 2, // activation
    attentionWorkspace,
    0, // WMMA split-K partials: see above
    chunkRows * widest * 2, // final-norm rows
    chunkRows * embed * 4, // project_out's output
  ]
}
