// GPU check: forward-step speed of the CUDA backend on one model (decode tok/s at given batches, prefill TFLOP/s),
// and our logits for fixed token ids (for hf-logits.py). Prints one JSON line. Runs under tsx.
// usage: node --import tsx scripts/gpu/step-speed.ts MODEL_DIR [--device cuda|cpu] --gemm auto|wmma --batches 1,32,256 --context 512
//        [--prefill-tokens 8192] [--logits-ids 1,2,3 --logits-out FILE.f32]
import {writeFileSync} from 'node:fs'
import {parseArgs} from 'node:util'
import {loadModel} from '../../src/engine/model/load-model.js'
import {loadNativeModel, type ForwardBatchArrays} from '../../src/engine/native.js'
import type {GemmMode} from '../../src/engine/cublas-search.js'

const {values, positionals} = parseArgs({
  allowPositionals: true,
  options: {
    gemm: {type: 'string', default: 'auto'},
    device: {type: 'string', default: 'cuda'},  // cpu: a dry run of this script's logic where there is no GPU
    batches: {type: 'string', default: '1,32,256'},
    context: {type: 'string', default: '512'},
    'prefill-tokens': {type: 'string', default: '0'},
    'logits-ids': {type: 'string', default: ''},
    'logits-out': {type: 'string', default: ''},
    steps: {type: 'string', default: '20'},
  },
})
const BLOCK = 16
const batches = values.batches.split(',').filter(Boolean).map(Number)
const context = Number(values.context)
const prefillTokens = Number(values['prefill-tokens'])
const logitsIds = values['logits-ids'].split(',').filter(Boolean).map(Number)
const timedSteps = Number(values.steps)

const model = await loadModel(positionals[0])
const maxBatch = Math.max(1, ...batches)
const blocksPerSeq = Math.ceil(Math.max(context, prefillTokens, logitsIds.length, 1) / BLOCK)
const numBlocks = Math.max(maxBatch * Math.ceil(context / BLOCK), blocksPerSeq) + 1
const native = await loadNativeModel({
  config: model.config, tensors: model.tensors, numBlocks, blockSize: BLOCK, numSwapBlocks: 0,
  weightFormat: values.device === 'cuda' ? 'bf16' : 'f32', threads: 0, device: values.device as 'cpu' | 'cuda', gemm: values.gemm as GemmMode,
})
const c = model.config
interface DecodeRow {batch: number; stepMs: number; tokensPerSecond: number}
const result: {decode: DecodeRow[]; prefill: unknown; logits: unknown; [key: string]: unknown} = {model: positionals[0], deviceName: native.info.deviceName, weightBytes: native.info.weightBytes,
  loadSeconds: native.loadSeconds, context, decode: [], prefill: null, logits: null}

/** One step of `seqs` sequences of `queryLen` new tokens each, ending at position `end` (its KV before that is zeros). */
function makeBatch(seqs: number, queryLen: number, end: number, ids?: number[]): ForwardBatchArrays {
  const n = seqs * queryLen
  const blocks = Math.ceil(end / BLOCK)
  const batch: ForwardBatchArrays = {
    tokenIds: new Int32Array(n), positions: new Int32Array(n), slotMapping: new Int32Array(n),
    queryStartLoc: new Int32Array(seqs + 1), contextLens: new Int32Array(seqs).fill(end),
    blockTables: new Int32Array(seqs * blocks), maxBlocksPerSeq: blocks, logitsIndices: new Int32Array(0),
  }
  for (let s = 0; s < seqs; s++) {
    batch.queryStartLoc[s + 1] = (s + 1) * queryLen
    for (let j = 0; j < blocks; j++) batch.blockTables[s * blocks + j] = s * blocks + j
    for (let t = 0; t < queryLen; t++) {
      const row = s * queryLen + t
      const position = end - queryLen + t
      batch.tokenIds[row] = ids ? ids[t]! : (row * 7919 + 13) % c.vocabSize
      batch.positions[row] = position
      batch.slotMapping[row] = batch.blockTables[s * blocks + Math.floor(position / BLOCK)]! * BLOCK + (position % BLOCK)
    }
  }
  return batch
}

async function timeSteps(batch: ForwardBatchArrays, count: number): Promise<number> {
  for (let i = 0; i < 3; i++) await native.step({}, batch)  // warm-up (scratch growth, cuBLAS heuristics)
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    await native.step({}, batch)
    times.push(performance.now() - started)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]!
}

// Decode: one new token per sequence at `context`; one logits row, so the LM head weights are read as in serving.
for (const b of batches) {
  const batch = makeBatch(b, 1, context)
  batch.logitsIndices = new Int32Array([0])
  const ms = await timeSteps(batch, timedSteps)
  result.decode.push({batch: b, stepMs: ms, tokensPerSecond: (1000 * b) / ms})
}
// Prefill: one sequence of prefillTokens; FLOPs = 2 x matrix parameters per token + causal attention (QK and PV).
if (prefillTokens > 0) {
  const batch = makeBatch(1, prefillTokens, prefillTokens)
  batch.logitsIndices = new Int32Array([prefillTokens - 1])
  const ms = await timeSteps(batch, 5)
  const q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim
  const perLayer = c.hiddenSize * (q + 2 * kv) + q * c.hiddenSize + 3 * c.hiddenSize * c.intermediateSize
  const flops = 2 * prefillTokens * (c.numLayers * perLayer + c.vocabSize * c.hiddenSize / prefillTokens) +
    c.numLayers * 2 * 2 * q * (prefillTokens * (prefillTokens + 1)) / 2
  result.prefill = {tokens: prefillTokens, stepMs: ms, tflops: flops / (ms / 1000) / 1e12}
}
// Logits of every position for fixed ids (one sequence, one prefill step), fp32, row-major [ids, vocab].
if (logitsIds.length > 0) {
  const batch = makeBatch(1, logitsIds.length, logitsIds.length, logitsIds)
  batch.logitsIndices = Int32Array.from(logitsIds.keys())
  const logits = await native.step({}, batch)
  writeFileSync(values['logits-out'], Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength))
  result.logits = {ids: logitsIds.length, vocab: c.vocabSize, file: values['logits-out']}
}
native.close()
console.log(JSON.stringify(result))
