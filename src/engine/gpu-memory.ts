// Sizes the GPU KV pool: free device memory times --gpu-memory-utilization, minus weights and activations.
import {layerNormScratchTensors, layerNormWeightRegions} from './cuda-layernorm-memory.js'
import {InvalidRequestError} from './errors.js'
import {cudaMoeScratchBytes, cudaMoeWeightBytesDelta} from './gpu-memory-moe.js'
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

/**
 * Weights as the CUDA backend stores them (native/cuda/cuda_weights.cu): every matrix in 2 bytes, a tied LM head once;
 * norms (4 a layer with Gemma 2's sandwich norms, 1 with Cohere's parallel block, none for OLMo's weightless ones, else 2),
 * q/k norms and biases (q/k/v, o_proj, the MLP's) in fp32.
 */
export function cudaWeightBytes(config: ModelConfig): number {
  if (config.layerNorm) return plannedTotal(layerNormWeightRegions(config))
  const {hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim, vocabSize, numLayers} = config
  const qkvRows = (numHeads + 2 * numKvHeads) * headDim
  // OLMo2 (postNormsOnly) keeps 2 norms a layer, on the sublayer outputs; its q/k norms, and Command R+'s per-head ones, span the whole projections.
  const qkNorms = config.rmsVariant?.wholeQkNorm || config.rmsVariant?.headMeanQkNorm ? (numHeads + numKvHeads) * headDim : 2 * headDim
  const weightless = config.rmsVariant?.normAffine === false
  const norms = weightless ? 0 : config.sandwichNorms ? 4 : config.rmsVariant?.parallelBlock ? 1 : 2
  const fp32 = norms * h + (config.attentionBias ? qkvRows : 0) + (config.qkNorm ? qkNorms : 0) +
    (config.attentionOutputBias ? h : 0) + (config.mlpBias ? 2 * inter + h : 0)
  const perLayer = 2 * (qkvRows * h + h * numHeads * headDim + 3 * h * inter) + 4 * fp32
  // PhiMoE's LayerNorm biases (each norm's, the final one's) and lm_head bias, fp32 (native/cuda/norm_bias_weights.h).
  const biases = (config.rmsVariant?.normBias ? (norms * numLayers + 1) * h : 0) + (config.rmsVariant?.headBias ? vocabSize : 0)
  return 2 * vocabSize * h * (config.tieWordEmbeddings ? 1 : 2) + (weightless ? 0 : 4 * h) + numLayers * perLayer + cudaMoeWeightBytesDelta(config) + 4 * biases
}

/** Rows the CUDA LM head computes at a time (native/cuda/cuda_ops.h kLogitsChunkRows). */
export const CUDA_LOGITS_CHUNK_ROWS = 256
/** Context tokens per attention partition (native/include/pagedllm/decode_partitions.h kDecodePartitionTokens). */
const ATTENTION_PARTITION_TOKENS = 256
/** The GEMM grid's y dimension counts 64-row tiles of the step's tokens, and CUDA caps y at 65,535. */
export const CUDA_MAX_BATCHED_TOKENS = 65535 * 64

/** native/cuda/scratch_plan.h rounds every tensor up to 256 bytes (and weight_plan.h every weight region). */
const planned = (bytes: number) => Math.ceil(bytes / 256) * 256
const plannedTotal = (sizes: number[]) => sizes.reduce((sum, bytes) => sum + planned(bytes), 0)

/**
 * The attention partitions' workspace: (max, sum, head_dim floats) per decode row, head and partition; the native side
 * cuts partitions finer while rows x partitions < 32 (decode_partitions in native/include/pagedllm/decode_partitions.h),
 * which never takes more than 64 such row-partitions, and makes them coarser (512 tokens) only for big grids.
 */
function attentionWorkspaceBytes(config: ModelConfig, numTokens: number, maxKvLen: number, maxSeqs: number): number {
  const {numHeads, headDim} = config
  const partitions = Math.max(1, Math.ceil(maxKvLen / ATTENTION_PARTITION_TOKENS))
  return Math.max(partitions > 1 ? Math.min(numTokens, maxSeqs) * numHeads * partitions * (2 + headDim) * 4 : 0, 64 * numHeads * (2 + headDim) * 4)
}

/**
 * Scratch of one CUDA step, exactly as native/cuda/cuda_backend.cu's forward() plans it: `numTokens` rows through
 * the layers, `numLogits` logits rows (the LM head takes them CUDA_LOGITS_CHUNK_ROWS at a time), attention
 * partitions for the longest context, for decode rows only (one per sequence, so at most `maxSeqs`; prefill rows
 * take the tiled kernel, which needs no workspace).
 */
export function cudaStepScratchBytes(config: ModelConfig, numTokens: number, numLogits: number, maxKvLen: number, maxSeqs = numTokens): number {
  const chunkRows = Math.min(numLogits, CUDA_LOGITS_CHUNK_ROWS)
  if (config.layerNorm) return plannedTotal(layerNormScratchTensors(config, numTokens, chunkRows, attentionWorkspaceBytes(config, numTokens, maxKvLen, maxSeqs)))
  const n = numTokens
  const {hiddenSize: h, intermediateSize: inter, numHeads, numKvHeads, headDim, vocabSize} = config
  const qWidth = numHeads * headDim
  const qkvWidth = qWidth + 2 * numKvHeads * headDim
  return [
    n * h * 4, // residual (fp32)
    n * h * 4, // delta (fp32)
    n * Math.max(h, qWidth) * 2, // normed GEMM input
    n * qkvWidth * 4,
    n * qWidth * 2, // attention output
    n * 2 * inter * 4, // gate/up
    config.sandwichNorms || config.rmsVariant?.postNormsOnly ? n * h * 4 : 0, // a sublayer output normed in fp32 (Gemma 2, OLMo2)
    n * inter * 2, // SiLU output
    attentionWorkspaceBytes(config, n, maxKvLen, maxSeqs),
    chunkRows * h * 2, // final-norm rows
    chunkRows * vocabSize * 4, // logits
  ].reduce((sum, bytes) => sum + planned(bytes), 0) + cudaMoeScratchBytes(config, n) // sparse layers' own buffer (moe_forward.cu)
}

/** prompt_logprobs' top N on the device (native/cuda/cuda_ops.h kMaxTopK; the engine asks at most 20). */
const CUDA_PROMPT_RANKING_MAX_TOP = 64

/**
 * The device buffers of prompt rows ranked on the CUDA device (native/cuda/device_prompt_ranker.cu), beside the scratch:
 * per entry its token id and top N, its logprob and rank, and top N + 1 (id, logprob) slots.
 */
export function cudaPromptRankingBytes(promptRows: number): number {
  return promptRows * (4 + 4 + 8 + 4 + 4 + (CUDA_PROMPT_RANKING_MAX_TOP + 1) * (4 + 8))
}

/**
 * The scratch the CUDA backend can ever hold: the plan of the largest step (every one of --max-num-batched-tokens
 * tokens wanting logits, as prompt_logprobs may) with the 1.5x growth headroom it allocates, plus a fixed margin
 * for allocator rounding. Reserved before the KV pool takes the rest, so the scratch never outgrows it.
 */
export function cudaActivationReserveBytes(config: ModelConfig, maxNumBatchedTokens: number, maxModelLen: number, maxNumSeqs: number): number {
  const largestStep = cudaStepScratchBytes(config, maxNumBatchedTokens, maxNumBatchedTokens, maxModelLen, maxNumSeqs)
  return largestStep + Math.floor(largestStep / 2) + cudaPromptRankingBytes(maxNumBatchedTokens) + 256 * 2 ** 20
}

/** The CUDA kernels launch grids whose y dimension grows with the step's tokens: bound the budget with a clear error. */
export function checkCudaBatchedTokens(maxNumBatchedTokens: number): void {
  if (maxNumBatchedTokens <= CUDA_MAX_BATCHED_TOKENS) return
  throw new InvalidRequestError(
    `--max-num-batched-tokens ${maxNumBatchedTokens} is above the CUDA backend's limit of ${CUDA_MAX_BATCHED_TOKENS} tokens per step (65,535 GEMM row tiles of 64)`,
    {param: 'max-num-batched-tokens'},
  )
}
