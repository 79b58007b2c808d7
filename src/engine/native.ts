// Typed wrapper of the native addon (native/build/Release/pagedllm.node): model loading, one step per call, KV read-back.
import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {defaultCublasCandidates, parseGemmMode, type GemmMode} from './cublas-search.js'
import {describeCudaStatus, type NativeCudaStatus} from './device.js'
import {ModelLoadError} from './errors.js'
import {ggufWeightsLabel, type BlockFormat} from './model/gguf-block-types.js'
import type {ModelConfig} from './model/model-config.js'
import {gemma4KvFloatsPerToken} from './model/gemma4-config.js'
import {kvLayerCount} from './model/qwen35-config.js'
import type {TensorInfo} from './model/safetensors.js'
import type {NativeSampledArrays, NativeSamplingArrays} from './native-sampling.js'

export interface ForwardBatchArrays {
  tokenIds: Int32Array
  positions: Int32Array
  slotMapping: Int32Array
  /** [numSeqs + 1] */
  queryStartLoc: Int32Array
  contextLens: Int32Array
  /** [numSeqs * maxBlocksPerSeq] */
  blockTables: Int32Array
  maxBlocksPerSeq: number
  logitsIndices: Int32Array
  /** Hybrid models: each sequence's recurrent state slot ([numSeqs]); absent for the others. */
  stateSlots?: Int32Array
}

/** Flat (from, to) pairs; applied in the order swapOut, swapIn, copies, before the forward pass. */
export interface BlockMovesArrays {
  copies?: Int32Array
  swapOut?: Int32Array
  swapIn?: Int32Array
  /** Hybrid models: (src, dst) state slot pairs, a forked sequence taking its parent's state (before the forward pass). */
  stateCopies?: Int32Array
}

export interface NativeModelInfo {
  backend: 'cpu' | 'cuda'
  deviceName: string
  threads: number
  weightBytes: number
  kvBytesPerBlock: number
  numBlocks: number
  blockSize: number
  numSwapBlocks: number
  vocabSize: number
}

/** Weight storage on the compute path; the q* formats are ggml's block layouts (native/cpu/quant_formats.h). */
export type WeightFormat = 'f32' | 'bf16' | 'f16' | QuantizedFormat
/** Every block format (a LinearWeights of one without a kernel, iq4_xs, tq1_0 or tq2_0, is refused: it is converted at load). */
export type QuantizedFormat = BlockFormat
/** The VNNI build of the packed quantized prefill kernel (native/cpu/cpu_features.cpp). */
export type VnniKind = 'avx-vnni' | 'avx512-vnni' | 'none'
/** The build of the packed float prefill kernel (native/cpu/linear_panels.h): ymm, or zmm where the CPU has AVX-512. */
export type FloatPanels = 'avx2' | 'avx512'

export interface LoadNativeModelOptions {
  config: ModelConfig
  tensors: TensorInfo[]
  numBlocks: number
  blockSize: number
  numSwapBlocks: number
  weightFormat: WeightFormat
  /** Compute threads including the calling one; 0 = number of cores. */
  threads: number
  device: 'cpu' | 'cuda'
  /** CUDA: cuBLAS or the WMMA kernel for the linear layers (default $PAGEDLLM_GEMM, else auto). */
  gemm?: GemmMode
  /** CUDA: run every step eagerly, no CUDA graphs for decode (vLLM's --enforce-eager). */
  enforceEager?: boolean
  /** CPU: float linear layers sum each output in one order at any batch size (see EngineConfig.batchInvariant). */
  batchInvariant?: boolean
  /** Hybrid models: recurrent state slots, one per sequence the engine may run at once (--max-num-seqs). */
  numStateSlots?: number
}

interface NativeModelHandle {
  info(): NativeModelInfo
  step(moves: BlockMovesArrays, batch: ForwardBatchArrays): Promise<Float32Array>
  step(moves: BlockMovesArrays, batch: ForwardBatchArrays, sampling: NativeSamplingArrays): Promise<{logits: Float32Array; sampled: NativeSampledArrays}>
  step(moves: BlockMovesArrays, batch: ForwardBatchArrays, sampling: NativeSamplingArrays | undefined, promptRows: PromptRowsAsked):
    Promise<{logits: Float32Array; sampled?: NativeSampledArrays; promptLogprobs: PromptLogprobArrays}>
  readKvBlock(layer: number, block: number, fromSwap: boolean): {k: Float32Array; v: Float32Array}
  timing(): StepTiming
  close(): void
}

/** Steps run since load, the time spent in them, and the time the backend waited between them for the next one. */
export interface StepTiming {
  steps: number
  busyMs: number
  idleMs: number
}

/** Prompt logprobs asked: per entry a row (of the logits for ops.promptLogprobs, of the batch in a step), the prompt token that came next, its top N. */
export interface PromptRowsAsked {
  rows: Int32Array
  tokenIds: Int32Array
  topNs: Int32Array
}

/** Prompt-logprob answers per entry (ops.promptLogprobs, a ranked step); the top arrays hold topStride slots an entry, topCounts[i] of them used. */
export interface PromptLogprobArrays {
  logprobs: Float64Array
  ranks: Int32Array
  topCounts: Int32Array
  topIds: Int32Array
  topLogprobs: Float64Array
  topStride: number
}

/** Single kernels, exposed for op-by-op tests and `pagedllm bench kernels` (see native/src/ops_bindings.cpp). */
export interface NativeOps {
  rmsNorm(x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number, out?: Float32Array): Float32Array
  fusedAddRmsNorm(x: Float32Array, residual: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void
  rope(x: Float32Array, rows: number, rowStride: number, numHeads: number, positions: Int32Array,
    config: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling' | 'rotaryDim'>): void
  siluAndMul(gateUp: Float32Array, rows: number, dim: number, out?: Float32Array): Float32Array
  /** GeGLU: gelu_tanh(gate) * up (Gemma's gelu_pytorch_tanh). */
  geluTanhAndMul(gateUp: Float32Array, rows: number, dim: number, out?: Float32Array): Float32Array
  /** The LayerNorm family's norm: (x - mean) / sqrt(var + eps) * weight + bias per row (out may be x). */
  layerNorm(x: Float32Array, weight: Float32Array, bias: Float32Array, rows: number, dim: number, eps: number, out?: Float32Array): Float32Array
  /** The LayerNorm family's plain MLP activation, in place. */
  plainActivation(x: Float32Array, rows: number, dim: number, activation: 'relu' | 'gelu' | 'gelu_pytorch_tanh'): void
  convert(raw: Uint16Array | Float32Array, dtype: 'F32' | 'F16' | 'BF16'): Float32Array
  /** FP8 codes decoded as the loader decodes a checkpoint's F8_E4M3 / F8_E5M2 weights (native/cpu/fp8_weights.cpp). */
  decodeFp8(codes: Uint8Array, format: 'e4m3' | 'e5m2'): Float32Array
  /**
   * Per row of `logits` [numRows, vocabSize]: [max, argmax (lowest index on ties), log(sum(exp(row)))] at 3 * row.
   * NaN logits are skipped by max/argmax and make the log-sum-exp NaN. Runs on the calling thread.
   */
  rowStats(logits: Float32Array, numRows: number, vocabSize: number): Float64Array
  /** The CPU backend's sampler (native/cpu/sampler.cpp) over rows of `logits`, on the ops pool (tests compare it with sampler.ts). */
  sampleRows(logits: Float32Array, numRows: number, vocabSize: number, sampling: NativeSamplingArrays): NativeSampledArrays
  /**
   * Prompt logprobs (native/cpu/prompt_logprobs.cpp) of rows of `logits` [rows, vocabSize], on a worker thread (the
   * engine ranks its prompt rows in the step instead: NativeModel.stepRanked): per
   * entry the logprob and rank of `tokenIds[i]` in row `rows[i]` and its top `topNs[i]`. `logits` must stay unwritten until it
   * settles. `threads` (default: one fewer than the cores, so the event loop keeps one) bounds the threads it splits rows among.
   */
  promptLogprobs(logits: Float32Array, vocabSize: number, asked: PromptRowsAsked, threads?: number): Promise<PromptLogprobArrays>
  /**
   * How the CUDA backend splits LM-head rows [first, first + rows) of a step ranking its prompt rows on the device
   * (native/include/pagedllm/prompt_chunks.h): the step's `ownLogits` rows come first, then prompt entries.
   */
  promptChunk(ownLogits: number, first: number, rows: number): {ownRows: number; firstEntry: number; numEntries: number; firstEntryRow: number}
  /**
   * The CUDA backend's per-step split of attention rows (native/include/pagedllm/attention_split.h): one-row sequences
   * are decode rows, longer chunks (first row, rows) tiles of 16; with tilesOnly (head_dim not a multiple of 8) all tiles.
   */
  splitAttentionRows(queryStartLoc: Int32Array, contextLens: Int32Array, tilesOnly: boolean): {decodeRows: Int32Array; prefillTiles: Int32Array; maxDecodeKvLen: number}
  /** The CUDA decode attention's cut of `rows` rows' contexts (native/include/pagedllm/decode_partitions.h). */
  decodePartitions(rows: number, maxKvLen: number): {tokens: number; count: number}
  /** The key of the CUDA decode graph a padded step of `bucket` rows replays, and the context its attention is planned for. */
  decodeGraphKey(bucket: number, maxContext: number): {bucket: number; bands: number; coveredTokens: number}
  /**
   * The CUDA MoE MLP's order of routed slots (native/include/pagedllm/moe_plan.h): `experts` holds each (row, rank) slot's
   * expert; slots sorted by expert, stable; each slot's place; counts per expert; (expert, first, count) of experts with rows.
   */
  moeSortSlots(experts: Int32Array, numExperts: number): {sortedSlots: Int32Array; slotPositions: Int32Array; counts: Int32Array; runs: Int32Array}
  /** Bytes of the CUDA MoE MLP's step scratch (pagedllm/moe_plan.h MoeScratchPlan, 2-byte weights); gpu-memory-moe.ts mirrors it. */
  moeScratchBytes(numRows: number, hidden: number, numExperts: number, topK: number, expertWidth: number, sharedWidth: number, sharedGated: boolean): number
  /** out = row where `mask` (a bit per token, ceil(vocab / 32) words) allows, -Infinity elsewhere; calling thread. */
  applyTokenMask(row: Float32Array, mask: Int32Array, out: Float32Array): void
  /** y[numRows, outFeatures] = x W^T (+ bias), W converted to `format` on every call (LinearWeights keeps it). */
  linear(x: Float32Array, numRows: number, weight: Uint16Array | Float32Array, dtype: 'F32' | 'F16' | 'BF16', outFeatures: number,
    inFeatures: number, format: WeightFormat, bias?: Float32Array): Float32Array
  /** format [[format, rows], ...]: a stacked matrix whose row blocks keep their own block formats (Q4_K_M's q/k/v). */
  LinearWeights: new (raw: Uint16Array | Float32Array, dtype: 'F32' | 'F16' | 'BF16', rows: number, cols: number,
    format: WeightFormat | [QuantizedFormat, number][], bias?: Float32Array) => NativeLinearWeights
  pagedAttention(query: Float32Array, qStride: number, keyCache: Float32Array, valueCache: Float32Array,
    batch: {queryStartLoc: Int32Array; positions: Int32Array; blockTables: Int32Array; maxBlocksPerSeq: number; slidingWindow?: number; sinks?: Float32Array},
    numHeads: number, numKvHeads: number, headDim: number, blockSize: number, scale: number, out?: Float32Array): Float32Array
  reshapeAndCache(key: Float32Array, value: Float32Array, rowStride: number, keyCache: Float32Array, valueCache: Float32Array,
    slotMapping: Int32Array, numKvHeads: number, headDim: number, blockSize: number): void
  /** Gated DeltaNet's causal depthwise conv1d + silu over rows [rows, channels]; `state` ([channels, kernel - 1]) is read and updated. */
  causalConv1dSilu(args: {x: Float32Array; rows: number; channels: number; weight: Float32Array; kernel: number; state: Float32Array; bias?: Float32Array}): Float32Array
  /** The gated delta rule token by token (native/cpu/gated_delta.h): q, k [rows, kHeads * kDim], v [rows, vHeads * vDim], g, beta [rows, vHeads] (with channelDecay, Kimi's, g [rows, vHeads, kDim]); `state` [vHeads, kDim, vDim] updated. */
  gatedDeltaRule(args: {q: Float32Array; k: Float32Array; v: Float32Array; g: Float32Array; beta: Float32Array; rows: number; kHeads: number; vHeads: number; kDim: number; vDim: number; state: Float32Array; channelDecay?: boolean}): Float32Array
  /** Mamba-2's SSD recurrence token by token (native/cpu/mamba2_mixer.h): x rows [x | B | C], dt [rows, heads]; `state` [heads, headDim, stateSize] updated. */
  ssdRecurrence(args: {x: Float32Array; dt: Float32Array; rows: number; heads: number; headDim: number; groups: number; stateSize: number; dtBias: Float32Array; decayRate: Float32Array; d: Float32Array; dtMin: number; dtMax: number; state: Float32Array}): Float32Array
  /** Mamba-1's selective scan token by token (native/cpu/mamba1_mixer.h): x, dt (before softplus), z [rows, channels], b, c [rows, stateSize], decay (A) [channels, stateSize]; `state` [channels, stateSize] updated. */
  selectiveScan(args: {x: Float32Array; dt: Float32Array; b: Float32Array; c: Float32Array; z: Float32Array; rows: number; channels: number; stateSize: number; decay: Float32Array; d: Float32Array; state: Float32Array}): Float32Array
  /** Zeroed Float32Array over huge-page backed native memory (how the engine allocates its KV pool). */
  hugeFloat32Array(length: number): Float32Array
  /** Resizes the pool the ops run on (0 = number of cores); returns its size. */
  setThreads(threads: number): number
  /** Switches the AVX2 kernels on or off; false when the CPU cannot run them. */
  setAvx2(enabled: boolean): boolean
  avx2Status(): {supported: boolean; enabled: boolean}
  /** Picks the build of the packed quantized prefill kernel ('none': AVX2); false when this CPU cannot run it. */
  setVnni(kind: VnniKind): boolean
  /** The VNNI build this CPU can run, and the one quantized prefill runs now ('none' off or without AVX2; the label
   * with its vector width, e.g. 'avx512-vnni (zmm)'). */
  vnniStatus(): {supported: VnniKind; inUse: VnniKind; inUseLabel: string}
  /** Picks the build of the packed float prefill kernel; false when this CPU cannot run it ('avx2' always works). */
  setFloatPanels(width: FloatPanels): boolean
  /** The widest float panel build this CPU runs, and the one float prefill runs now ('avx2' also when AVX2 is off). */
  floatPanelsStatus(): {supported: FloatPanels; inUse: FloatPanels}
  measureCeilings(opts: {bytes: number; repeats: number; flopSeconds: number}):
    {threads: number; readBytesPerSecond: number; triadBytesPerSecond: number; peakFlops: number}
  /** Rows of [rows, cols] fp32 values in a quantized format's ggml blocks (as stored in GGUF files). */
  quantizeRows(values: Float32Array, rows: number, cols: number, format: QuantizedFormat): Uint8Array
  /** The inverse: fp32 values of rows stored in a quantized format. */
  dequantizeRows(raw: Uint8Array, rows: number, cols: number, format: QuantizedFormat): Float32Array
}

export interface NativeLinearWeights {
  /** y[numRows, rows] = x[numRows, cols] * W^T (+ bias); batchInvariant: the decode tiles' order at any numRows. */
  run(x: Float32Array, numRows: number, out?: Float32Array, batchInvariant?: boolean): Float32Array
  readonly bytes: number
}

interface Addon {
  loadModel(options: Omit<LoadNativeModelOptions, 'config'> & {config: ModelConfig}): Promise<NativeModelHandle>
  buildInfo(): {cuda: boolean}
  cudaStatus(): NativeCudaStatus
  /** Present only in builds with CUDA. */
  cuda?: {
    memoryInfo(): CudaMemoryInfo
    configureGemm(options: {mode: GemmMode; cublasCandidates: string[]}): CudaGemmChoice
    setCudaGraphs(enabled: boolean): void
  }
  ops: NativeOps
}

/** The package root: this file is src/engine/native.ts under tsx, dist/engine/native.js once built. */
const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const ADDON_PATH = join(PACKAGE_ROOT, 'native', 'build', 'Release', 'pagedllm.node')

let addon: Addon | undefined

function loadAddon(): Addon {
  if (addon) return addon
  if (!existsSync(ADDON_PATH)) {
    throw new ModelLoadError(`native addon not built: run npm install (expected ${ADDON_PATH}; \`npm run build:native\` rebuilds it)`)
  }
  addon = createRequire(import.meta.url)(ADDON_PATH) as Addon
  return addon
}

export class NativeModel {
  readonly info: NativeModelInfo
  #handle: NativeModelHandle | null

  /** weightsLabel: the storage formats, e.g. "q8_0" or "q4_k+q6_k (GGUF)" (and conversions at load: gguf-block-types.ts); loadSeconds: how long reading (and converting or quantizing) took. */
  constructor(handle: NativeModelHandle, readonly weightsLabel: string, readonly loadSeconds: number) {
    this.#handle = handle
    this.info = handle.info()
  }

  /**
   * Applies the block moves, runs one forward pass off the event loop; resolves to [logitsIndices.length * vocab] logits.
   * Steps run in the order they are called; a token id -(k + 1) (batch or sampling tokens) stands for the backend's
   * sample k of the step called just before, so a step can be queued before that one's result is back.
   */
  step(moves: BlockMovesArrays, batch: ForwardBatchArrays): Promise<Float32Array> {
    return this.#open().step(moves, batch)
  }

  /** step() that also samples in the backend: returns only the logits of sampling.hostRows (in that order) and the samples. */
  stepAndSample(moves: BlockMovesArrays, batch: ForwardBatchArrays, sampling: NativeSamplingArrays): Promise<{logits: Float32Array; sampled: NativeSampledArrays}> {
    return this.#open().step(moves, batch, sampling)
  }

  /**
   * step() (sampling too when given) that also ranks prompt rows: `promptRows.rows` are rows of the batch, ranked inside
   * the step right after the LM head (a bounded chunk of rows at a time), so none of their logits come back, only the answers.
   */
  async stepRanked(moves: BlockMovesArrays, batch: ForwardBatchArrays, sampling: NativeSamplingArrays | null, promptRows: PromptRowsAsked):
    Promise<{logits: Float32Array; sampled: NativeSampledArrays | null; promptLogprobs: PromptLogprobArrays}> {
    const {logits, sampled, promptLogprobs} = await this.#open().step(moves, batch, sampling ?? undefined, promptRows)
    return {logits, sampled: sampled ?? null, promptLogprobs}
  }

  /** One block of one layer's K and V cache as fp32, [blockSize, numKvHeads, headDim] each (a test hook). */
  readKvBlock(layer: number, block: number, fromSwap = false): {k: Float32Array; v: Float32Array} {
    return this.#open().readKvBlock(layer, block, fromSwap)
  }

  /** How long the backend ran steps and waited between them: the host's share of the critical path (bench-host-work). */
  timing(): StepTiming {
    return this.#open().timing()
  }

  /** Releases weights and KV memory (after any step in flight finishes). */
  close(): void {
    this.#handle?.close()
    this.#handle = null
  }

  #open(): NativeModelHandle {
    if (!this.#handle) throw new Error('NativeModel is closed')
    return this.#handle
  }
}

/** Loads the weights (read and converted on a worker thread) and allocates the KV pool. */
export async function loadNativeModel(opts: LoadNativeModelOptions): Promise<NativeModel> {
  const native = loadAddon()
  if (opts.device === 'cuda' && !native.buildInfo().cuda) {
    throw new ModelLoadError('device cuda requested, but this build of pagedllm has no CUDA kernels (rebuild with nvcc present: npm run build:native)')
  }
  if (opts.device === 'cuda') {
    const status = cudaStatus()
    if (!status.available) throw new ModelLoadError(`device cuda requested, but CUDA is not available: ${status.detail}`)
  }
  if (opts.device === 'cuda') {
    configureCudaGemm(opts.gemm ?? parseGemmMode(process.env.PAGEDLLM_GEMM))
    native.cuda?.setCudaGraphs(!opts.enforceEager)
  }
  try {
    const started = performance.now()
    const {gemm: _gemm, enforceEager: _enforceEager, ...loadOptions} = opts
    const handle = await native.loadModel(loadOptions)
    const blockFormats = opts.tensors.flatMap((t) => (t.blockFormat ? [t.blockFormat] : []))
    const stored = blockFormats.length > 0 ? ggufWeightsLabel(blockFormats) : opts.weightFormat
    // A GGUF file's MXFP4 experts run in the float format (gguf-block-types.ts, DEQUANTIZED_AT_LOAD): said, not hidden.
    const label = opts.tensors.some((t) => t.ggmlMxfp4) ? `${stored}; mxfp4 dequantized to ${opts.weightFormat} at load` : stored
    return new NativeModel(handle, label, (performance.now() - started) / 1000)
  } catch (error) {
    throw new ModelLoadError(`cannot load the model into the ${opts.device} backend: ${(error as Error).message}`, {cause: error})
  }
}

/** Bytes one KV block takes in the CPU pool (K and V, all layers, fp32 whatever the weight format). */
export function kvBytesPerBlock(config: ModelConfig, blockSize: number): number {
  if (config.gemma4) return blockSize * gemma4KvFloatsPerToken(config.gemma4) * 4 // KV-shared layers hold no cache
  return 2 * kvLayerCount(config) * blockSize * config.numKvHeads * config.headDim * 4
}

export interface CudaMemoryInfo {
  available: boolean
  detail: string
  freeBytes: number
  totalBytes: number
}

/** Free and total device memory (cudaMemGetInfo), for sizing the GPU KV pool. */
export function cudaMemoryInfo(): CudaMemoryInfo {
  const cuda = loadAddon().cuda
  if (!cuda) return {available: false, detail: 'built without CUDA', freeBytes: 0, totalBytes: 0}
  return cuda.memoryInfo()
}

/** The cuBLAS library a CUDA backend would load (null: WMMA kernel), and why; the backend's deviceName says which runs. */
export interface CudaGemmChoice {
  cublas: string | null
  detail: string
}

/** Sets the GEMM of CUDA backends created from now on; cuBLAS candidates from cublasCandidates() unless given. */
export function configureCudaGemm(mode: GemmMode, cublasCandidates: string[] = mode === 'wmma' ? [] : defaultCublasCandidates()): CudaGemmChoice {
  const cuda = loadAddon().cuda
  if (!cuda) return {cublas: null, detail: 'built without CUDA'}
  return cuda.configureGemm({mode, cublasCandidates})
}

export function nativeBuildInfo(): {cuda: boolean} {
  return loadAddon().buildInfo()
}

/** Whether a usable CUDA device answers, with its name or the reason there is none (worded for users). */
export function cudaStatus(): {available: boolean; detail: string} {
  return describeCudaStatus(loadAddon().cudaStatus())
}

/** The single-kernel entry points (tests and kernel benchmarks). */
export function nativeOps(): NativeOps {
  return loadAddon().ops
}
