// Sizes the GPU KV pool: free device memory times --gpu-memory-utilization, minus weights and activations.
import type {ModelConfig} from './model/model-config.js'

export interface GpuKvBudget {
  /** cudaMemGetInfo's free bytes, read before the weights are loaded. */
  freeBytes: number
  /** Fraction of the free memory the engine may take (weights + activations + KV). */
  gpuMemoryUtilization: number
  weightBytes: number
  activationReserveBytes: number
  kvBytesPerBlock: number
}

/** Number of KV blocks that fit; 0 when weights and activations alone exceed the budget. */
export function gpuKvBlocks(budget: GpuKvBudget): number {
  const {freeBytes, gpuMemoryUtilization, weightBytes, activationReserveBytes, kvBytesPerBlock} = budget
  if (!(gpuMemoryUtilization > 0 && gpuMemoryUtilization <= 1)) throw new RangeError('gpuMemoryUtilization must be in (0, 1]')
  if (!(kvBytesPerBlock > 0)) throw new RangeError('kvBytesPerBlock must be positive')
  const left = Math.floor(freeBytes * gpuMemoryUtilization) - weightBytes - activationReserveBytes
  return left > 0 ? Math.floor(left / kvBytesPerBlock) : 0
}

/** The CUDA pool keeps K and V in the weight dtype (2 bytes), all layers of a block together. */
export function cudaKvBytesPerBlock(config: ModelConfig, blockSize: number): number {
  return 2 * config.numLayers * blockSize * config.numKvHeads * config.headDim * 2
}

/** Weights as the CUDA backend stores them: every matrix and norm in 2 bytes, a tied LM head once, biases in fp32. */
export function cudaWeightBytes(config: ModelConfig): number {
  const {hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim, vocabSize, numLayers} = config
  const qkvRows = (numHeads + 2 * numKvHeads) * headDim
  const perLayer = 2 * (2 * h + qkvRows * h + h * numHeads * headDim + 3 * h * inter) + (config.attentionBias ? 4 * qkvRows : 0)
  return 2 * (vocabSize * h * (config.tieWordEmbeddings ? 1 : 2) + h) + numLayers * perLayer
}

/**
 * Peak scratch of one step (native/cuda/cuda_backend.cu's ScratchPlan at maxNumBatchedTokens tokens and maxNumSeqs
 * logits rows), with the 1.5x growth headroom it allocates, plus a fixed margin for allocator rounding.
 */
export function cudaActivationReserveBytes(config: ModelConfig, maxNumBatchedTokens: number, maxNumSeqs: number, maxModelLen: number): number {
  const n = maxNumBatchedTokens
  const {hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim, vocabSize} = config
  const qWidth = numHeads * headDim
  const qkvWidth = qWidth + 2 * numKvHeads * headDim
  const partitions = Math.ceil(maxModelLen / 512)
  const bytes =
    n * h * 4 * 2 + // residual and delta (fp32)
    n * Math.max(h, qWidth) * 2 + // normed GEMM input
    n * qkvWidth * 4 +
    n * qWidth * 2 + // attention output
    n * 2 * inter * 4 + // gate/up
    n * inter * 2 + // SiLU output
    (partitions > 1 ? n * numHeads * partitions * (2 + headDim) * 4 : 0) +
    maxNumSeqs * h * 2 +
    maxNumSeqs * vocabSize * 4 // logits
  return Math.ceil(bytes * 1.5) + 256 * 2 ** 20
}
