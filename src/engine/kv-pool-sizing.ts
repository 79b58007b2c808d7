// Sizes the KV pool from flags and free memory, and fits the context limit to the pool.
import type {EngineConfig} from './config.js'
import {InvalidRequestError} from './errors.js'
import {checkCudaBatchedTokens, cudaActivationReserveBytes, cudaKvBytesPerBlock, cudaWeightBytes, gpuKvBlocks} from './gpu-memory.js'
import type {LoadedModel} from './model/load-model.js'
import {cudaMemoryInfo, kvBytesPerBlock} from './native.js'
import {liveBlockBound, windowReleaseFor, type WindowRelease} from './window-blocks.js'

/** The KV pool's blocks and the context limit it can serve (with notes for the banner when that was lowered). */
export function planKvPool(config: EngineConfig, model: LoadedModel, device: 'cpu' | 'cuda'): {numBlocks: number; blockBytes: number; maxModelLen: number; notes: string[]} {
  const positions = model.config.maxPositionEmbeddings
  const modelMaxLen = Math.min(config.maxModelLen ?? positions, positions)
  // Past its positions a model's output degrades; the limit is lowered, not refused, so one flag serves several models.
  const notes = config.maxModelLen !== undefined && config.maxModelLen > positions
    ? [`max-model-len lowered from the requested ${config.maxModelLen} to the model's ${positions} (max_position_embeddings)`]
    : []
  const {numBlocks, blockBytes} = sizeKvPool(config, model, device, modelMaxLen)
  const knob = device === 'cuda' && config.kvMemoryBytes === undefined ? '--gpu-memory-utilization' : '--kv-memory'
  if (numBlocks < 1) throw new InvalidRequestError(`the KV cache holds no block: raise ${knob} (one block takes ${blockBytes} bytes)`, {param: knob.slice(2)})
  const sizeFlags = config.numBlocks === undefined ? knob : '--num-blocks'
  const release = windowReleaseFor(config, model.config.layerWindows)
  const fitted = fitMaxModelLen({requested: config.maxModelLen, maxModelLen: modelMaxLen, numBlocks, blockSize: config.blockSize, sizeFlags, release})
  return {numBlocks, blockBytes, maxModelLen: fitted.maxModelLen, notes: fitted.note === null ? notes : [...notes, fitted.note]}
}

/** The CPU pool when neither --kv-memory nor --num-blocks is given. */
export const DEFAULT_CPU_KV_MEMORY_BYTES = 1 << 30

/**
 * KV pool size: --num-blocks, else --kv-memory, else 1 GiB on CPU and free GPU memory x --gpu-memory-utilization on
 * CUDA. An explicit size on CUDA must fit what --gpu-memory-utilization allows (the same pool at equal memory is how
 * bench compares policies on a GPU).
 */
function sizeKvPool(config: EngineConfig, model: LoadedModel, device: 'cpu' | 'cuda', maxModelLen: number): {numBlocks: number; blockBytes: number} {
  if (device === 'cpu') {
    const blockBytes = kvBytesPerBlock(model.config, config.blockSize)
    // No attention layer (Mamba2): blocks hold no bytes, only positions; enough for every sequence at the full context.
    if (blockBytes === 0) return {blockBytes, numBlocks: config.numBlocks ?? config.maxNumSeqs * Math.ceil(maxModelLen / config.blockSize)}
    return {blockBytes, numBlocks: config.numBlocks ?? Math.floor((config.kvMemoryBytes ?? DEFAULT_CPU_KV_MEMORY_BYTES) / blockBytes)}
  }
  checkCudaBatchedTokens(config.maxNumBatchedTokens)
  const blockBytes = cudaKvBytesPerBlock(model.config, config.blockSize)
  const explicit = config.numBlocks ?? (config.kvMemoryBytes === undefined ? undefined : Math.floor(config.kvMemoryBytes / blockBytes))
  const fitting = gpuKvBlocks({
    freeBytes: cudaMemoryInfo().freeBytes,
    gpuMemoryUtilization: config.gpuMemoryUtilization,
    weightBytes: cudaWeightBytes(model.config),
    activationReserveBytes: cudaActivationReserveBytes(model.config, config.maxNumBatchedTokens, maxModelLen, config.maxNumSeqs),
    kvBytesPerBlock: blockBytes,
  })
  if (explicit === undefined) return {blockBytes, numBlocks: fitting}
  if (explicit > fitting) {
    const flag = config.numBlocks === undefined ? '--kv-memory' : '--num-blocks'
    throw new InvalidRequestError(`${flag} asks for ${explicit} KV blocks, but free GPU memory x --gpu-memory-utilization ` +
      `${config.gpuMemoryUtilization} leaves room for ${fitting} (${blockBytes} bytes each)`, {param: flag.slice(2)})
  }
  return {blockBytes, numBlocks: explicit}
}

/**
 * The context limit the pool can serve. One sequence at the full context must fit the pool (behind a sliding window,
 * the blocks it holds at once: window-blocks.ts), or every request
 * near the limit would be refused (or preempt itself forever). An explicit --max-model-len beyond the pool is
 * refused, naming both; the model's own limit is lowered to the pool's size, with a note for the start-up banner.
 */
function fitMaxModelLen(opts: {requested: number | undefined; maxModelLen: number; numBlocks: number; blockSize: number; sizeFlags: string; release: WindowRelease}): {
  maxModelLen: number
  note: string | null
} {
  const poolTokens = opts.numBlocks * opts.blockSize
  if (liveBlockBound(opts.maxModelLen, opts.release, opts.blockSize) <= opts.numBlocks) return {maxModelLen: opts.maxModelLen, note: null}
  const pool = `the KV cache holds ${opts.numBlocks} blocks x ${opts.blockSize} tokens = ${poolTokens} tokens`
  if (opts.requested !== undefined) {
    throw new InvalidRequestError(
      `--max-model-len ${opts.maxModelLen} does not fit the KV cache: ${pool}. Raise ${opts.sizeFlags}, or lower --max-model-len to at most ${poolTokens}`,
      {param: 'max-model-len'},
    )
  }
  return {
    maxModelLen: poolTokens,
    note: `max-model-len lowered from the model's ${opts.maxModelLen} to ${poolTokens}: ${pool} (raise ${opts.sizeFlags} for the full context)`,
  }
}
