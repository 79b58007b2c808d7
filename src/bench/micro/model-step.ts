// Whole native forward steps of the generated 'bench' test model (decode at batch 1 and B, one prefill), so the
// kernel figures can be checked against what a step of the engine actually costs.
import {loadModel} from '../../engine/model/load-model.js'
import {ensureTestModel} from '../../engine/model/test-model.js'
import {loadNativeModel, type ForwardBatchArrays, type NativeModel, type WeightFormat} from '../../engine/native.js'

export interface ModelStepCase {
  kernel: string
  shape: string
  bound: 'memory' | 'compute'
  flops: number
  bytes: number
  run: () => Promise<unknown>
}

const BLOCK_SIZE = 16

/**
 * Decode rows at position `context - 1` for `seqs` sequences, each on its own run of blocks. The earlier KV slots were
 * never written, so their pages are still the kernel's shared zero page and attention reads them from cache: these
 * rows understate attention's memory traffic (the paged_attention rows measure it on real data).
 */
function decodeBatch(seqs: number, context: number): ForwardBatchArrays {
  const blocksPerSeq = Math.ceil(context / BLOCK_SIZE)
  const blockTables = Int32Array.from({length: seqs * blocksPerSeq}, (_, i) => i)
  const position = context - 1
  return {
    tokenIds: Int32Array.from({length: seqs}, (_, i) => (7 * i + 3) % 1000),
    positions: new Int32Array(seqs).fill(position),
    slotMapping: Int32Array.from({length: seqs}, (_, s) => blockTables[s * blocksPerSeq + Math.floor(position / BLOCK_SIZE)] * BLOCK_SIZE + (position % BLOCK_SIZE)),
    queryStartLoc: Int32Array.from({length: seqs + 1}, (_, i) => i),
    contextLens: new Int32Array(seqs).fill(context),
    blockTables, maxBlocksPerSeq: blocksPerSeq,
    logitsIndices: Int32Array.from({length: seqs}, (_, i) => i),
  }
}

function prefillBatch(tokens: number): ForwardBatchArrays {
  const blocks = Math.ceil(tokens / BLOCK_SIZE)
  return {
    tokenIds: Int32Array.from({length: tokens}, (_, i) => (13 * i + 1) % 1000),
    positions: Int32Array.from({length: tokens}, (_, i) => i),
    slotMapping: Int32Array.from({length: tokens}, (_, i) => i),
    queryStartLoc: Int32Array.from([0, tokens]),
    contextLens: Int32Array.from([tokens]),
    blockTables: Int32Array.from({length: blocks}, (_, i) => i),
    maxBlocksPerSeq: blocks,
    logitsIndices: Int32Array.from([tokens - 1]),
  }
}

/** Loads the bench model (writing it under .cache once) and returns its step cases; call close() when done. */
export async function modelStepCases(opts: {threads: number; weightFormat: WeightFormat; batch: number; prefillTokens: number; contextLen: number}):
  Promise<{cases: ModelStepCase[]; close: () => void; model: NativeModel}> {
  const loaded = await loadModel(await ensureTestModel('bench'))
  const config = loaded.config
  const blocksNeeded = Math.max(opts.batch * Math.ceil(opts.contextLen / BLOCK_SIZE), Math.ceil(opts.prefillTokens / BLOCK_SIZE))
  const model = await loadNativeModel({config, tensors: loaded.tensors, numBlocks: blocksNeeded, blockSize: BLOCK_SIZE,
    numSwapBlocks: 0, weightFormat: opts.weightFormat, threads: opts.threads, device: 'cpu'})
  // Average stored bytes per weight (quantized formats mix block sizes; norms stay f32 but are negligible).
  const values = loaded.tensors.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0)
  const elementBytes = model.info.weightBytes / values
  // A decode step reads every weight once except the embedding table (one row per token) when the head is untied.
  const embeddingBytes = config.tieWordEmbeddings ? 0 : config.vocabSize * config.hiddenSize * elementBytes
  const streamedBytes = model.info.weightBytes - embeddingBytes
  const matmulFlopsPerRow = 2 * streamedBytes / elementBytes
  const lmHeadFlopsPerRow = 2 * config.vocabSize * config.hiddenSize
  const attentionFlops = (keys: number) => 4 * keys * config.numHeads * config.headDim * config.numLayers
  const noMoves = {}
  const one = decodeBatch(1, opts.contextLen), many = decodeBatch(opts.batch, opts.contextLen), prefill = prefillBatch(opts.prefillTokens)
  const cases: ModelStepCase[] = [
    {kernel: 'model step', shape: `decode b=1, ctx ${opts.contextLen}`, bound: 'memory', bytes: streamedBytes,
      flops: matmulFlopsPerRow + attentionFlops(opts.contextLen), run: () => model.step(noMoves, one)},
    {kernel: 'model step', shape: `decode b=${opts.batch}, ctx ${opts.contextLen}`, bound: 'compute', bytes: streamedBytes,
      flops: opts.batch * (matmulFlopsPerRow + attentionFlops(opts.contextLen)), run: () => model.step(noMoves, many)},
    {kernel: 'model step', shape: `prefill ${opts.prefillTokens} tokens`, bound: 'compute', bytes: streamedBytes,
      flops: opts.prefillTokens * (matmulFlopsPerRow - lmHeadFlopsPerRow) + lmHeadFlopsPerRow +
        attentionFlops((opts.prefillTokens * (opts.prefillTokens + 1)) / 2),
      run: () => model.step(noMoves, prefill)},
  ]
  return {cases, model, close: () => model.close()}
}
