// Builds the engine's speculator; for draft-model speculation, loads the draft: its checkpoint (or the target's,
// quantized), the checks that it shares the target's vocabulary, and its own native handle and paged KV pool.
import {BlockManager} from '../block-manager.js'
import type {EngineConfig} from '../config.js'
import {InvalidRequestError, ModelLoadError} from '../errors.js'
import {loadModel, quantizationIgnored, type LoadedModel} from '../model/load-model.js'
import type {Tokenizer} from '../model/tokenizer.js'
import {ModelRunner} from '../model-runner.js'
import {loadNativeModel, type NativeModel, type WeightFormat} from '../native.js'
import {DraftProposer} from './draft-proposer.js'
import type {SpeculativeConfig} from './spec-config.js'
import {Speculator} from './speculator.js'

export interface DraftModel {
  native: NativeModel
  blockManager: BlockManager
  runner: ModelRunner
  vocabSize: number
  /** Longest sequence (tokens) the draft may hold: its own context limit. */
  maxModelLen: number
  /** e.g. "tinychat (q8_0)", for the start-up banner. */
  label: string
}

/** Why the draft's tokenizer cannot stand in for the target's, or null: same size and the same string for every id. */
export function tokenizerMismatch(target: Tokenizer, draft: Tokenizer): string | null {
  if (target.vocabSize !== draft.vocabSize) return `its tokenizer has ${draft.vocabSize} tokens, the target's ${target.vocabSize}`
  for (let id = 0; id < target.vocabSize; id++) {
    const expected = target.idToToken(id)
    const actual = draft.idToToken(id)
    if (expected !== actual) return `token ${id} is ${JSON.stringify(actual)} in its tokenizer but ${JSON.stringify(expected)} in the target's`
  }
  return null
}

/**
 * The draft for `target` (already loaded): the checkpoint at spec.draftModel, or the target's own when only a
 * quantization is given. Refuses a draft whose vocabulary differs (its token ids would mean other tokens).
 */
export async function loadDraftModel(opts: {
  spec: SpeculativeConfig
  engine: EngineConfig
  target: LoadedModel
  device: 'cpu' | 'cuda'
  targetWeightFormat: WeightFormat
  maxModelLen: number
  targetNumBlocks: number
}): Promise<DraftModel> {
  const {spec, engine, target, device} = opts
  if (spec.draftQuantization !== undefined && device === 'cuda')
    throw new InvalidRequestError(`--speculative-quantization ${spec.draftQuantization} runs on the CPU backend only (pass --device cpu)`, {param: 'speculative-quantization'})
  const model = spec.draftModel === undefined ? target : await loadModel(spec.draftModel).catch((error: unknown) => {
    // The target loaded: say which of the two models the file problem is in.
    throw error instanceof ModelLoadError ? new ModelLoadError(`--speculative-model ${spec.draftModel}: ${error.message}`, {param: 'speculative-model', cause: error}) : error
  })
  const refuse = (why: string) => new InvalidRequestError(`the draft model ${model.dir} cannot draft for ${target.dir}: ${why}`, {param: 'speculative-model'})
  if (model.config.vocabSize !== target.config.vocabSize)
    throw refuse(`its vocab_size is ${model.config.vocabSize}, the target's ${target.config.vocabSize} (the draft must share the target's tokenizer)`)
  const mismatch = model === target ? null : tokenizerMismatch(target.tokenizer, model.tokenizer)
  if (mismatch !== null) throw refuse(`${mismatch} (the draft must share the target's tokenizer)`)
  if (model.tensors.some((t) => t.blockFormat) && device === 'cuda') throw refuse('its GGUF file holds quantized tensors, which run on the CPU backend only')
  // Else the draft would be the target's own weights unchanged: every proposal accepted, none of it saving work.
  const ignored = quantizationIgnored(model, spec.draftQuantization)
  if (ignored !== null) throw new InvalidRequestError(`--speculative-quantization ${spec.draftQuantization}: ${ignored}`, {param: 'speculative-quantization'})

  const maxModelLen = Math.min(opts.maxModelLen, model.config.maxPositionEmbeddings)
  const blocksPerSeq = Math.ceil(maxModelLen / engine.blockSize)
  // Modest: speculation runs only while at most maxBatchSize sequences decode (one more sequence's room for
  // turnover), and never more blocks than the target's pool.
  const numBlocks = spec.draftNumBlocks ?? Math.min(opts.targetNumBlocks, blocksPerSeq * (Math.min(spec.maxBatchSize, engine.maxNumSeqs) + 1))
  const weightFormat = spec.draftQuantization ?? (model === target ? opts.targetWeightFormat : device === 'cuda' ? 'bf16' : (model.defaultWeightFormat ?? 'f32'))
  const native = await loadNativeModel({
    config: model.config,
    tensors: model.tensors,
    numBlocks,
    blockSize: engine.blockSize,
    numSwapBlocks: 0,
    weightFormat,
    threads: engine.threads,
    device,
    gemm: engine.gemm,
    enforceEager: engine.enforceEager,
  })
  // The draft's own pool: prefix caching makes a preempted or forked sequence's rebuild cheap.
  const blockManager = new BlockManager({
    numBlocks,
    blockSize: engine.blockSize,
    numSwapBlocks: 0,
    policy: 'paged',
    enablePrefixCaching: true,
    watermark: 0,
    maxModelLen,
  })
  const runner = new ModelRunner(native, blockManager, engine.blockSize)
  return {native, blockManager, runner, vocabSize: model.config.vocabSize, maxModelLen, label: `${model.name} (${native.weightsLabel})`}
}

/** The speculator of config.speculative; draft-model speculation loads its draft (closing the target's handle if that fails). */
export async function makeSpeculator(config: EngineConfig, model: LoadedModel, device: 'cpu' | 'cuda', weightFormat: WeightFormat, maxModelLen: number, native: NativeModel): Promise<Speculator> {
  const spec = config.speculative!
  if (spec.method !== 'draft') return new Speculator(spec)
  try {
    const draft = await loadDraftModel({spec, engine: config, target: model, device, targetWeightFormat: weightFormat, maxModelLen, targetNumBlocks: native.info.numBlocks})
    return new Speculator(spec, new DraftProposer(draft, model.generationConfig.eosTokenIds, config.maxNumBatchedTokens))
  } catch (error) {
    native.close()
    throw error
  }
}
