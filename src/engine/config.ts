// Engine configuration: built once (from CLI flags or code) and handed to every part of the engine.
import type {GemmMode} from './cublas-search.js'
import type {SpeculativeConfig} from './spec-decode/spec-config.js'

/** How KV blocks are handed out. All policies share one pool, one runner and one set of kernels. */
export type KvPolicy = 'paged' | 'contiguous' | 'orca-max' | 'orca-pow2' | 'orca-oracle'
export const KV_POLICIES: readonly KvPolicy[] = ['paged', 'contiguous', 'orca-max', 'orca-pow2', 'orca-oracle']

export type PreemptionMode = 'auto' | 'recompute' | 'swap'
export type DeviceKind = 'auto' | 'cpu' | 'cuda'
export type WeightDtype = 'auto' | 'f32' | 'bf16' | 'f16'
/** Block quantization applied to a float checkpoint at load (CPU only); q4_k is llama.cpp's Q4_K_M mix (q6_k output matrix, v and down projections in some layers). */
export type Quantization = 'q8_0' | 'q4_0' | 'q4_k'
export const QUANTIZATIONS: readonly Quantization[] = ['q8_0', 'q4_0', 'q4_k']

export type HostOverlap = 'none' | 'outputs' | 'async'

export interface EngineConfig {
  /** Model directory in Hugging Face format (resolved from a hub id before it gets here). */
  modelPath: string
  /** Name reported by /v1/models; defaults to the directory name. */
  servedModelName?: string
  /** A chat template's text replacing the model's (vLLM's --chat-template); the tokenizer workers render with it too. */
  chatTemplate?: string
  device: DeviceKind
  /** Weights as kept on the compute path; 'auto' = f32 on CPU, bf16 on CUDA. */
  weightDtype: WeightDtype
  /** Quantize the weights at load (overrides weightDtype for the matrices; CPU only). */
  quantization?: Quantization
  /**
   * CPU: float linear layers (f32/bf16/f16) sum every output in one order at any batch size, so a request's logits,
   * and its greedy or seeded tokens, are bitwise the same alone and under load; prefill and steps of 48+ rows lose
   * the faster packed kernel (docs/PERFORMANCE.md has the cost). Quantized weights are batch-invariant either way.
   */
  batchInvariant?: boolean
  threads: number
  /** Tokens per KV block. */
  blockSize: number
  /**
   * KV pool size in bytes; ignored when numBlocks is set. Unset: DEFAULT_CPU_KV_MEMORY_BYTES on CPU, and on CUDA what
   * free device memory x gpuMemoryUtilization leaves after weights and activations (vLLM's kv_cache_memory_bytes).
   */
  kvMemoryBytes?: number
  /** KV pool size in blocks; overrides kvMemoryBytes. */
  numBlocks?: number
  /** GPU: fraction of device memory the engine may use (weights + KV). */
  gpuMemoryUtilization: number
  /** GPU: cuBLAS or the WMMA kernel for the linear layers (unset: $PAGEDLLM_GEMM, else auto). */
  gemm?: GemmMode
  /** GPU: no CUDA graphs for decode steps. */
  enforceEager?: boolean
  /** How long one grammar compile may run in a worker of its own (unset: DEFAULT_COMPILE_TIMEOUT_MS, 60 s). */
  grammarCompileTimeoutMs?: number
  /**
   * What host work overlaps the forward pass (llm-engine.ts); 'async' by default. 'none': all of it between the steps,
   * the baseline of scripts/bench-host-work.ts. 'outputs': a step's text and snapshots are made while the next step's
   * forward pass runs. 'async': also async scheduling, the next step is scheduled and queued before this one's result
   * is back (step-launch.ts); speculative decoding runs with 'outputs'.
   */
  hostOverlap?: HostOverlap
  /** Host swap space in bytes, for swap preemption. */
  swapSpaceBytes: number
  /** Context limit; defaults to the model's max_position_embeddings. */
  maxModelLen?: number
  maxNumSeqs: number
  maxNumBatchedTokens: number
  /** Prompts longer than this are prefilled in chunks across steps. */
  enableChunkedPrefill: boolean
  enablePrefixCaching: boolean
  policy: KvPolicy
  preemptionMode: PreemptionMode
  /** Fraction of blocks kept free at admission so running sequences can grow. */
  watermark: number
  /**
   * When every layer of the model slides (Mistral, Phi-3, Mixtral, ...), the 'paged' policy frees the KV blocks behind
   * each sequence's window (window-blocks.ts); false keeps them all, as before (for comparisons). Default true.
   */
  releaseWindowBlocks?: boolean
  /**
   * While requests wait, one holding more than its share of --max-num-seqs gives slots up (fair-share.ts); 'paged'
   * only. Default true.
   */
  fairShare?: boolean
  /** Seed for requests that bring none. */
  seed: number
  /** Speculative decoding (n-gram prompt lookup); absent: off. */
  speculative?: SpeculativeConfig
}

export const DEFAULT_ENGINE_CONFIG: Omit<EngineConfig, 'modelPath'> = {
  device: 'auto',
  weightDtype: 'auto',
  threads: 0,
  blockSize: 16,
  gpuMemoryUtilization: 0.9,
  swapSpaceBytes: 1 << 30,
  maxNumSeqs: 256,
  maxNumBatchedTokens: 2048,
  enableChunkedPrefill: true,
  enablePrefixCaching: true,
  policy: 'paged',
  preemptionMode: 'auto',
  watermark: 0.01,
  seed: 0,
}

export function makeEngineConfig(options: Partial<EngineConfig> & {modelPath: string}): EngineConfig {
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined))
  return {...DEFAULT_ENGINE_CONFIG, ...defined} as EngineConfig
}
