// Builds an engine's parts from its config: the model, the backend (CPU or CUDA), the KV pool and its manager,
// the scheduler, the runner, the output processor, grammar workers and the speculator; refuses combinations the
// chosen backend cannot run.
import {BlockManager} from './block-manager.js'
import {cudaRmsVariantGaps} from './cuda-rms-variants.js'
import type {EngineConfig} from './config.js'
import {selectDevice, type DeviceChoice} from './device.js'
import {InvalidRequestError} from './errors.js'
import {GrammarService} from './guided/grammar-service.js'
import {SequenceGuides} from './guided/sequence-guides.js'
import {planKvPool} from './kv-pool-sizing.js'
import {loadModel, quantizationIgnored, type LoadedModel} from './model/load-model.js'
import {longRopeForContext} from './model/rope-scaling.js'
import {windowReleaseFor} from './window-blocks.js'
import {ModelRunner} from './model-runner.js'
import {cudaStatus, loadNativeModel, nativeBuildInfo, type NativeModel} from './native.js'
import {OutputProcessor} from './output-processor.js'
import {Scheduler} from './scheduler.js'
import {makeSpeculator} from './spec-decode/draft-model.js'
import type {Speculator} from './spec-decode/speculator.js'
import {checkBlocksFitHost} from './host-memory-check.js'
import {GPT_OSS} from './model/gpt-oss.js'
import {DBRX} from './model/dbrx-config.js'
import {COHERE2_MOE} from './model/cohere2-moe-config.js'
import {CODEGEN} from './model/layernorm-codegen.js'
import {PERSIMMON} from './model/layernorm-persimmon.js'
import {OPENAI_GPT} from './model/layernorm-openai-gpt.js'
import {HYPERCLOVAX} from './model/hyperclovax-config.js'
import {MELLUM} from './model/mellum-config.js'
import {hybridSetup} from './hybrid-engine.js'

export interface EngineParts {
  model: LoadedModel
  native: NativeModel
  maxModelLen: number
  device: DeviceChoice
  blockManager: BlockManager
  scheduler: Scheduler
  runner: ModelRunner
  outputs: OutputProcessor
  grammars: GrammarService
  speculator: Speculator | null
  /** For the start-up banner: choices made for the user (a lowered context limit, the draft model). */
  notes: string[]
}

/** What this run needs that the CUDA backend lacks, or null (native/cuda/cuda_backend.cu refuses the same model features). */
export function cpuOnlyNeed(config: Pick<EngineConfig, 'quantization' | 'batchInvariant'>, model: Pick<LoadedModel, 'config' | 'tensors'>): {reason: string; param: string} | null {
  if (config.quantization) return {reason: `--quantization ${config.quantization}`, param: 'quantization'}
  if (config.batchInvariant) return {reason: '--batch-invariant', param: 'batch-invariant'}
  if (model.tensors.some((t) => t.blockFormat)) return {reason: 'this GGUF file holds quantized tensors', param: 'device'}
  if (model.tensors.some((t) => t.fp8Scales)) return {reason: 'this checkpoint holds FP8 weights (dequantized by the CPU loader only)', param: 'device'}
  const c = model.config
  if (c.hybrid?.mamba2) return {reason: `${c.architecture} (Mamba-2 mixers have CPU kernels only)`, param: 'device'}
  if (c.hybrid?.shortConv) return {reason: `${c.architecture} (gated short convolutions have CPU kernels only)`, param: 'device'}
  if (c.hybrid?.mamba1) return {reason: `${c.architecture} (Mamba-1 selective-scan mixers have CPU kernels only)`, param: 'device'}
  if (c.hybrid?.kimiDelta) return {reason: `${c.architecture} (Kimi Delta Attention layers and latent attention without rope have CPU kernels only)`, param: 'device'}
  const rmsGaps = cudaRmsVariantGaps(c)
  if (rmsGaps.length > 0) return {reason: `${c.architecture} (${rmsGaps.join(', ')})`, param: 'device'}
  if (c.architecture === GPT_OSS) return {reason: `${c.architecture} (attention sinks and its clamped-SwiGLU experts have no CUDA path)`, param: 'device'}
  if (c.attentionSinks) return {reason: `${c.architecture} (attention sinks have no CUDA path)`, param: 'device'}
  if (c.gemma3n) return {reason: `${c.architecture} (AltUp streams, LAuReL and sparse MLP gates run on the CPU only)`, param: 'device'}
  if (c.gemma4) return {reason: `${c.architecture} (per-layer head sizes, KV-shared layers and per-layer inputs run on the CPU only)`, param: 'device'}
  // native/cuda has no latent-attention projections nor grouped routing (native/cpu/mla.cpp, grouped_topk.cpp).
  if (c.mla || c.moe?.grouped) return {reason: `${c.architecture} (${[c.mla ? 'multi-head latent attention' : '', c.moe?.grouped ? 'grouped expert routing' : ''].filter(Boolean).join(' and ')} run on the CPU only)`, param: 'device'}
  if (c.llama4) return {reason: `${c.architecture} (NoPE layers' query temperature, chunked attention, weightless q/k norms and input-weighted experts have CPU kernels only)`, param: 'device'}
  // native/cuda loads each expert's gate and up apart; Qwen3-VL-MoE's checkpoints fuse them (llama4-tensors.ts).
  if (c.moe?.fusedExperts) return {reason: `${c.architecture} (experts stored fused per layer are loaded by the CPU backend only)`, param: 'device'}
  // Their pieces all have CUDA kernels, but no GPU has run these models yet.
  if ([DBRX, COHERE2_MOE, CODEGEN, PERSIMMON, OPENAI_GPT, HYPERCLOVAX, MELLUM].includes(c.architecture)) return {reason: `${c.architecture} (CPU only until its CUDA path is checked on a GPU)`, param: 'device'}
  if (c.hybrid) return {reason: `${c.architecture} (Gated DeltaNet linear-attention layers have CPU kernels only)`, param: 'device'}
  if (c.layerNorm?.sinusoidalPositions) return {reason: `${c.architecture} (its sinusoidal positions are computed by the CPU LayerNorm chain only)`, param: 'device'}
  // native/cuda's LayerNorm chain looks embeddings up unscaled.
  if (c.layerNorm && c.embeddingScale !== 1) return {reason: `${c.architecture} (its scaled embeddings run on the CPU LayerNorm chain only)`, param: 'device'}
  if (c.headDim > 256) return {reason: `head_dim ${c.headDim} (CUDA attention takes at most 256)`, param: 'device'}
  return null
}

export async function buildEngineParts(config: EngineConfig): Promise<EngineParts> {
  const model = await loadModel(config.modelPath, {chatTemplate: config.chatTemplate})
  model.config = longRopeForContext(model.config, config.maxModelLen)
  const device = selectDevice(config.device, nativeBuildInfo(), cudaStatus(), cpuOnlyNeed(config, model))
  const ignored = quantizationIgnored(model, config.quantization)
  if (ignored !== null) throw new InvalidRequestError(`--quantization ${config.quantization}: ${ignored}`, {param: 'quantization'})
  const autoFormat = device.device === 'cuda' ? 'bf16' : (model.defaultWeightFormat ?? 'f32')
  const weightFormat = config.quantization ?? (config.weightDtype === 'auto' ? autoFormat : config.weightDtype)
  const {numBlocks, blockBytes, maxModelLen, notes} = planKvPool(config, model, device.device)
  const hybrid = hybridSetup(config, model.config)
  notes.push(...hybrid.notes)
  const numSwapBlocks = blockBytes === 0 ? 0 : Math.floor(config.swapSpaceBytes / blockBytes) // no KV bytes (Mamba2): nothing to swap
  if (device.device === 'cpu') checkBlocksFitHost('KV cache', numBlocks, blockBytes, config.numBlocks === undefined ? 'kv-memory' : 'num-blocks')
  checkBlocksFitHost('swap space', numSwapBlocks, blockBytes, 'swap-space')
  const native = await loadNativeModel({
    config: model.config,
    tensors: model.tensors,
    numBlocks,
    blockSize: config.blockSize,
    numSwapBlocks,
    weightFormat,
    threads: config.threads,
    device: device.device,
    gemm: config.gemm,
    enforceEager: config.enforceEager,
    batchInvariant: config.batchInvariant,
    numStateSlots: hybrid.numStateSlots,
  })
  const blockManager = new BlockManager({
    numBlocks,
    blockSize: config.blockSize,
    numSwapBlocks,
    policy: config.policy,
    enablePrefixCaching: hybrid.enablePrefixCaching,
    watermark: config.watermark,
    maxModelLen,
    windowRelease: windowReleaseFor(config, model.config.layerWindows),
    numStateSlots: hybrid.numStateSlots,
  })
  const speculator = config.speculative ? await makeSpeculator(config, model, device.device, weightFormat, maxModelLen, native) : null
  const scheduler = new Scheduler(config, blockManager, device.device === 'cpu', speculator)
  const runner = new ModelRunner(native, blockManager, config.blockSize)
  const eos = model.generationConfig.eosTokenIds
  const grammars = new GrammarService({tokenizer: model.tokenizer, vocabSize: model.config.vocabSize, eosTokenIds: eos, compileTimeoutMs: config.grammarCompileTimeoutMs})
  const guides = new SequenceGuides(grammars, model.tokenizer, model.config.vocabSize, eos)
  const outputs = new OutputProcessor(model.tokenizer, blockManager, scheduler, model.config.vocabSize, eos, guides, speculator)
  if (speculator?.drafter) notes.push(`speculative decoding drafts with ${speculator.drafter.draft.label}`)
  return {model, native, maxModelLen, device, blockManager, scheduler, runner, outputs, grammars, speculator, notes}
}
