// GPU check of three CUDA-backend bugs found by reading the code (one case each; exit 1 on any failure): a decode graph
// replayed after an eager step of another shape, an LM head of over 256 rows through the WMMA split-K path, and a
// float GGUF model (q/k rows in llama.cpp's interleaved rope order). Runs under tsx: node --import tsx THIS_FILE
// (DRY_RUN=1: every 'cuda' side on the CPU backend instead, to check the plumbing where there is no GPU).
import {mkdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {writeGguf} from '../../src/bench/peer/gguf-writer.js'
import {loadModel, type LoadedModel} from '../../src/engine/model/load-model.js'
import {SeededRandom} from '../../src/engine/model/seeded-random.js'
import {ensureTestModel} from '../../src/engine/model/test-model.js'
import {loadNativeModel, type NativeModel, type WeightFormat} from '../../src/engine/native.js'
import type {GemmMode} from '../../src/engine/cublas-search.js'
import {TestBlockPool, TestSequence, buildStep, type StepPart} from '../../test/support/paged-batch.js'
import {relError, Reporter} from './compare-outputs.js'

const BLOCK = 16
const BF16_LOGITS_BOUND = 3e-2  // bf16 activations against the fp32 CPU path (as engine-check.ts)
const GPU = process.env.DRY_RUN === '1' ? 'cpu' : 'cuda'
const results = new Reporter(70)


const open = (model: LoadedModel, device: 'cpu' | 'gpu', weightFormat: WeightFormat, gemm: GemmMode = 'auto'): Promise<NativeModel> =>
  loadNativeModel({config: model.config, tensors: model.tensors, numBlocks: 128, blockSize: BLOCK, numSwapBlocks: 0, weightFormat,
    threads: 0, device: device === 'gpu' ? GPU : 'cpu', gemm})

const randomTokens = (random: SeededRandom, length: number, vocab: number) => Array.from({length}, () => 1 + random.nextInt(vocab - 1))

/** The same steps on two backends (each its own sequences and block pool, same block ids): one report per step. */
async function compareSteps(label: string, a: NativeModel, b: NativeModel, steps: {what: string; parts: (seqs: TestSequence[][]) => StepPart[][]}[],
  prompts: number[][], bound: number): Promise<void> {
  const sides = [a, b].map(() => ({seqs: prompts.map((tokens) => new TestSequence(tokens)), pool: new TestBlockPool(128, 3)}))
  for (const step of steps) {
    const outputs: Float32Array[] = []
    const parts = step.parts(sides.map((side) => side.seqs))
    for (const [i, side] of sides.entries()) outputs.push(await [a, b][i]!.step({}, buildStep(parts[i]!, side.pool, BLOCK).batch))
    results.check(`${label}: ${step.what}`, relError(outputs[1]!, outputs[0]!), bound)
  }
}

const decode = (indices: number[]) => (seqs: TestSequence[][]) =>
  seqs.map((side) => indices.map((i) => ({sequence: side[i]!, count: 1, logits: 'last' as const})))
const prefill = (indices: number[], logits: 'last' | 'all' = 'last') => (seqs: TestSequence[][]) =>
  seqs.map((side) => indices.map((i) => ({sequence: side[i]!, count: side[i]!.tokens.length - side[i]!.cachedTokens - 8, logits})))

// 1. Decode graphs: bucket 4 is warmed, captured and replayed; then an eager prefill of another shape and another
// bucket's warm-up run in between, and bucket 4 replays again (its logits must still be its own).
async function graphReplay(model: LoadedModel): Promise<void> {
  const random = new SeededRandom(11)
  const prompts = [7, 12, 5, 20, 33].map((length) => randomTokens(random, length + 8, model.config.vocabSize))
  const [cpu, gpu] = [await open(model, 'cpu', 'f32'), await open(model, 'gpu', 'bf16')]
  try {
    await compareSteps('decode graph', cpu, gpu, [
      {what: 'prefill of 4 (eager)', parts: prefill([0, 1, 2, 3])},
      {what: 'decode x4 (warm-up, eager)', parts: decode([0, 1, 2, 3])},
      {what: 'decode x4 (captured)', parts: decode([0, 1, 2, 3])},
      {what: 'decode x4 (replayed)', parts: decode([0, 1, 2, 3])},
      {what: 'prefill of a 5th sequence alone (eager, 33 rows)', parts: prefill([4])},
      {what: 'decode x4 replayed after the eager prefill', parts: decode([0, 1, 2, 3])},
      {what: 'decode x2 (bucket 2 warm-up, eager)', parts: decode([0, 4])},
      {what: 'decode x4 replayed after bucket 2', parts: decode([1, 2, 3, 4])},
    ], prompts, BF16_LOGITS_BOUND)
  } finally {
    cpu.close()
    gpu.close()
  }
}

// 2. WMMA LM head on 384 logits rows of the small preset (vocab 8192, hidden 512): the 128-row last chunk splits K
// where the 256-row chunk does not, and needs more split workspace than any other GEMM of the step.
async function longLogitsWmma(model: LoadedModel): Promise<void> {
  const random = new SeededRandom(12)
  const [cpu, gpu] = [await open(model, 'cpu', 'f32'), await open(model, 'gpu', 'bf16', 'wmma')]
  try {
    await compareSteps('WMMA LM head', cpu, gpu, [{what: 'prefill of 384 tokens, logits of every row', parts: prefill([0], 'all')}],
      [randomTokens(random, 392, model.config.vocabSize)], BF16_LOGITS_BOUND)
  } finally {
    cpu.close()
    gpu.close()
  }
}

// 3. The tiny preset written as an f16 GGUF (q/k rows interleaved for llama.cpp's rope) against its checkpoint, both
// run on CUDA in f16: the same weights, so the logits agree up to f16 rounding of the conversion.
async function floatGguf(model: LoadedModel): Promise<void> {
  const dir = join(tmpdir(), `pagedllm-regression-${process.pid}`)
  mkdirSync(dir, {recursive: true})
  try {
    const path = join(dir, 'tiny-f16.gguf')
    writeGguf(model, path, {format: 'f16'})
    const gguf = await loadModel(path)
    const random = new SeededRandom(13)
    const [checkpoint, fromGguf] = [await open(model, 'gpu', 'f16'), await open(gguf, 'gpu', 'f16')]
    try {
      await compareSteps('f16 GGUF vs checkpoint on CUDA', checkpoint, fromGguf,
        [{what: 'prefill of 13 + 6 tokens, logits of every row', parts: prefill([0, 1], 'all')}],
        [randomTokens(random, 21, model.config.vocabSize), randomTokens(random, 14, model.config.vocabSize)], 5e-3)
    } finally {
      checkpoint.close()
      fromGguf.close()
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

await graphReplay(await loadModel(await ensureTestModel('small', {dtype: 'BF16'})))
await longLogitsWmma(await loadModel(await ensureTestModel('small', {dtype: 'BF16'})))
await floatGguf(await loadModel(await ensureTestModel('tiny')))
console.log(results.failures === 0 ? 'regression checks passed' : `${results.failures} regression checks failed`)
process.exit(results.failures === 0 ? 0 : 1)
