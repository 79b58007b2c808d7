// GPU part of npm run test:gpu: the CUDA backend against the CPU backend on identical steps (prefill, decode,
// chunked prefill, copy-on-write, swap), then the engine end to end on CUDA; both again on a model of each layer
// feature the CUDA backend took over from the CPU (feature-models.ts). Exit code 1 on any failure.
import {rmSync} from 'node:fs'
import {cudaWeightBytes} from '../../src/engine/gpu-memory.js'
import {cudaMoeWeightRegions} from '../../src/engine/gpu-memory-moe.js'
import {makeEngineConfig} from '../../src/engine/config.js'
import {LLMEngine} from '../../src/engine/llm-engine.js'
import {loadModel, type LoadedModel} from '../../src/engine/model/load-model.js'
import {ensureTestModel, type TestModelPreset, type TestModelVariant} from '../../src/engine/model/test-model.js'
import {loadNativeModel, type BlockMovesArrays, type ForwardBatchArrays} from '../../src/engine/native.js'
import {makeSamplingParams} from '../../src/engine/sampling-params.js'
import {randomRequest} from '../../test/support/sample-requests.js'
import {nativeOps} from '../../src/engine/native.js'
import {encodeSampleRequests, sampledResult} from '../../src/engine/native-sampling.js'
import {relError, Reporter} from './compare-outputs.js'
import {featureModels} from './feature-models.js'
import {promptRankingCheck} from './prompt-ranking-check.js'

const seed = Number(process.argv[2] ?? 1)
let state = seed >>> 0 || 1
function random(): number {
  // xorshift32: reproducible from the printed seed
  state ^= state << 13
  state >>>= 0
  state ^= state >>> 17
  state ^= state << 5
  state >>>= 0
  return state / 2 ** 32
}
const randomInt = (n: number) => Math.floor(random() * n)

// bf16 activations against the fp32 CPU path on the same bf16 weights: rounding of activations only.
const LOGITS_BOUND = {bf16: 3e-2, f16: 5e-3} as const
const KV_BOUND = {bf16: 1e-2, f16: 2e-3} as const
const results = new Reporter(72)


interface SeqState {
  tokens: number[]
  blocks: number[]
  cached: number  // tokens already in the KV cache
}

/** Builds one step: `chunks[i]` new tokens of sequence i (all of it prefill or decode). */
function buildBatch(seqs: SeqState[], chunks: number[], blockSize: number): ForwardBatchArrays {
  const maxBlocksPerSeq = Math.max(...seqs.map((s) => s.blocks.length))
  const tokenIds: number[] = []
  const positions: number[] = []
  const slotMapping: number[] = []
  const queryStartLoc = [0]
  const contextLens: number[] = []
  const logitsIndices: number[] = []
  const blockTables = new Int32Array(seqs.length * maxBlocksPerSeq).fill(-1)
  seqs.forEach((seq, i) => {
    for (let t = seq.cached; t < seq.cached + chunks[i]; t++) {
      tokenIds.push(seq.tokens[t])
      positions.push(t)
      slotMapping.push(seq.blocks[Math.floor(t / blockSize)] * blockSize + (t % blockSize))
    }
    seq.cached += chunks[i]
    queryStartLoc.push(tokenIds.length)
    contextLens.push(seq.cached)
    logitsIndices.push(tokenIds.length - 1)
    blockTables.set(seq.blocks, i * maxBlocksPerSeq)
  })
  return {
    tokenIds: Int32Array.from(tokenIds), positions: Int32Array.from(positions), slotMapping: Int32Array.from(slotMapping),
    queryStartLoc: Int32Array.from(queryStartLoc), contextLens: Int32Array.from(contextLens), blockTables, maxBlocksPerSeq,
    logitsIndices: Int32Array.from(logitsIndices),
  }
}

function argmaxRows(logits: Float32Array, vocab: number): number[] {
  const ids: number[] = []
  for (let row = 0; row < logits.length / vocab; row++) {
    let best = 0
    for (let v = 1; v < vocab; v++) if (logits[row * vocab + v] > logits[row * vocab + best]) best = v
    ids.push(best)
  }
  return ids
}

async function compareBackends(label: string, model: LoadedModel, format: 'bf16' | 'f16'): Promise<void> {
  const blockSize = 16
  const numBlocks = 64
  // Windowed models keep their windows on both backends: the 600-token prompt runs far past them.
  const config = model.config
  const common = {config, tensors: model.tensors, numBlocks, blockSize, numSwapBlocks: 8, threads: 0}
  const cpu = await loadNativeModel({...common, weightFormat: 'f32', device: 'cpu'})
  const gpu = await loadNativeModel({...common, weightFormat: format, device: 'cuda'})
  try {
    // gpu-memory.ts sizes the KV pool with this count; each of a layer's (at most 14, plus a sparse layer's experts) regions starts 256-byte aligned.
    const slack = 256 * (3 + 14 * config.numLayers + cudaMoeWeightRegions(config))
    results.check(`${label} ${format} weight bytes vs cudaWeightBytes (x${slack})`, Math.abs(gpu.info.weightBytes - cudaWeightBytes(config)) / slack, 1)
    const vocab = model.config.vocabSize
    const free = Array.from({length: numBlocks}, (_, i) => i).sort(() => random() - 0.5)  // scattered blocks
    const promptLens = [5, 40, 17, 600]
    const seqs: SeqState[] = promptLens.map((length) => {
      const tokens = Array.from({length: length + 32}, () => 1 + randomInt(vocab - 1))
      return {tokens, blocks: free.splice(0, Math.ceil(tokens.length / blockSize)), cached: 0}
    })
    const step = async (what: string, chunks: number[], moves: BlockMovesArrays = {}): Promise<void> => {
      const batch = buildBatch(seqs, chunks, blockSize)
      const [ref, out] = [await cpu.step(moves, batch), await gpu.step(moves, batch)]
      results.check(`${label} ${format} ${what}: logits`, relError(out, ref), LOGITS_BOUND[format])
      // The next token of every sequence is the CPU's greedy choice, so both backends see the same history.
      argmaxRows(ref, vocab).forEach((id, i) => {
        if (seqs[i].cached < seqs[i].tokens.length) seqs[i].tokens[seqs[i].cached] = id
      })
    }
    const compareKv = (what: string, layer: number, block: number, fromSwap = false) => {
      const a = cpu.readKvBlock(layer, block, fromSwap)
      const b = gpu.readKvBlock(layer, block, fromSwap)
      const joined = (kv: {k: Float32Array; v: Float32Array}) => Float32Array.from([...kv.k, ...kv.v])
      results.check(`${label} ${format} ${what}`, relError(joined(b), joined(a)), KV_BOUND[format])
    }
    await step('prefill 5+40+17+600 (600 > 512: partitioned attention)', promptLens)
    await step('decode x4', [1, 1, 1, 1])
    // chunked prefill: sequence 1 continues with 10 tokens that attend causally to its 41 cached ones
    await step('mixed decode + 10-token chunk', [1, 10, 1, 1])
    const spare = free.splice(0, 2)
    const moves: BlockMovesArrays = {copies: Int32Array.from([seqs[1].blocks[0], spare[0]]), swapOut: Int32Array.from([seqs[2].blocks[0], 3])}
    await step('decode with copy + swap-out', [1, 1, 1, 1], moves)
    const lastLayer = model.config.numLayers - 1
    compareKv('KV of a copied block', lastLayer, spare[0])
    compareKv('KV of a swapped-out block (host pool)', lastLayer, 3, true)
    await step('decode after swap-in', [1, 1, 1, 1], {swapIn: Int32Array.from([3, spare[1]])})
    compareKv('KV of a swapped-in block', 0, spare[1])
    compareKv('KV of a long sequence block', 0, seqs[3].blocks[10])
  } finally {
    cpu.close()
    gpu.close()
  }
}

// bf16 activations move a logprob by a few hundredths on these models; a greedy step whose top two logprobs are
// closer than TIE_TOL may legitimately pick the other token, after which the two sequences go separate ways.
const LOGPROB_TOL = 0.1
const TIE_TOL = 0.1

/** Top-1 token and the margin to the runner-up at one position, from a logprobs map. */
function topOf(logprobs: Map<number, number>): {id: number; logprob: number; margin: number} {
  const ranked = [...logprobs].sort((a, b) => b[1] - a[1])
  const [id, logprob] = ranked[0]!
  return {id, logprob, margin: ranked.length > 1 ? logprob - ranked[1]![1] : Infinity}
}

/**
 * Whole greedy sequences, CUDA against CPU: (1) teacher-forced, CUDA scores the CPU's whole output as prompt
 * logprobs, and every position's logprob must agree within LOGPROB_TOL, its top-1 must be the CPU's token unless
 * the two are within TIE_TOL; (2) free-running, CUDA's own greedy output must equal the CPU's in full, or first
 * differ at a position where the CPU's top two are within TIE_TOL.
 */
async function engineEndToEnd(modelDir: string, label: string): Promise<void> {
  const prompts = Array.from({length: 6}, (_, i) => Array.from({length: 8 + 7 * i}, () => 1 + randomInt(400)))
  const greedy = makeSamplingParams({temperature: 0, maxTokens: 24, ignoreEos: true, logprobs: 2})
  const score = makeSamplingParams({temperature: 0, maxTokens: 1, ignoreEos: true, promptLogprobs: 2})
  // No prefix caching: the scoring pass must compute every prompt position, not reuse the greedy pass's blocks.
  const open = (device: 'cpu' | 'cuda') =>
    LLMEngine.create(makeEngineConfig({modelPath: modelDir, device, numBlocks: 64, threads: 0, enablePrefixCaching: false}))
  const cpuEngine = await open('cpu')
  const cpu = await cpuEngine.generate(prompts.map((prompt) => ({prompt, params: greedy})))
  await cpuEngine.shutdown()
  const gpuEngine = await open('cuda')
  try {
    const deviceName = gpuEngine.nativeInfo.deviceName
    const gpu = await gpuEngine.generate(prompts.map((prompt) => ({prompt, params: greedy})))
    const forced = await gpuEngine.generate(cpu.map((r, i) => ({prompt: [...prompts[i]!, ...r.outputs[0]!.tokenIds], params: score})))
    let maxError = 0
    let forcedOk = true
    let identical = 0
    let freeOk = true
    cpu.forEach((reference, i) => {
      const tokens = reference.outputs[0]!.tokenIds
      const cpuLogprobs = reference.outputs[0]!.logprobs!
      const gpuPromptLogprobs = forced[i]!.promptLogprobs!
      tokens.forEach((token, t) => {
        const gpuAt = gpuPromptLogprobs[prompts[i]!.length + t]!
        const error = Math.abs(gpuAt.get(token)! - cpuLogprobs[t]!.get(token)!)
        maxError = Math.max(maxError, error)
        const gpuTop = topOf(gpuAt)
        if (error > LOGPROB_TOL || (gpuTop.id !== token && gpuTop.logprob - gpuAt.get(token)! > TIE_TOL)) {
          forcedOk = false
          console.log(`FAIL request ${i} position ${t}: CPU token ${token} logprob ${cpuLogprobs[t]!.get(token)!.toFixed(4)}, ` +
            `CUDA ${gpuAt.get(token)!.toFixed(4)} (CUDA top-1 ${gpuTop.id} at ${gpuTop.logprob.toFixed(4)})`)
        }
      })
      const own = gpu[i]!.outputs[0]!.tokenIds
      const split = own.findIndex((id, t) => id !== tokens[t])
      if (split === -1 && own.length === tokens.length) identical += 1
      else if (split === -1 || topOf(cpuLogprobs[split]!).margin > TIE_TOL) {
        freeOk = false
        console.log(`FAIL request ${i}: CUDA greedy output differs from the CPU's at position ${split} where the CPU's top two are ` +
          `${split === -1 ? '(lengths differ)' : topOf(cpuLogprobs[split]!).margin.toFixed(4)} apart (> ${TIE_TOL})`)
      }
    })
    const backendOk = gpuEngine.nativeInfo.backend === 'cuda'
    if (!(backendOk && forcedOk && freeOk)) results.failures += 1
    console.log(`${backendOk && forcedOk && freeOk ? 'ok  ' : 'FAIL'} engine ${label} on ${deviceName}: ${prompts.length} greedy requests x ` +
      `${greedy.maxTokens} tokens; teacher-forced max |logprob error| ${maxError.toExponential(2)} <= ${LOGPROB_TOL}; ` +
      `free-running outputs identical to CPU in ${identical}/${prompts.length} (others part only at near-ties)`)
  } finally {
    await gpuEngine.shutdown()
  }
}

/**
 * The device sampler against the CPU sampler on the SAME logits: a CUDA step samples in the backend and also returns
 * every logits row; ops.sampleRows (native/cpu/sampler.cpp, itself tested against sampler.ts) samples those rows.
 * Greedy picks must agree exactly; a draw may differ only where fast-math exp moves a cut or the draw across a
 * boundary, so sampled picks must agree in >= 97%; logprobs within 1e-3.
 */
async function deviceSamplerCheck(model: LoadedModel): Promise<void> {
  const vocab = model.config.vocabSize
  const gpu = await loadNativeModel({config: model.config, tensors: model.tensors, numBlocks: 64, blockSize: 16, numSwapBlocks: 0,
    threads: 0, weightFormat: 'bf16', device: 'cuda'})
  try {
    const seqs: SeqState[] = [9, 30, 3, 17].map((length, i) => ({tokens: Array.from({length}, () => 1 + randomInt(vocab - 1)),
      blocks: [4 * i, 4 * i + 1, 4 * i + 2], cached: 0}))
    let greedyAgree = 0, greedy = 0, drawAgree = 0, draws = 0, worstLogprob = 0
    for (let round = 0; round < 6; round++) {
      const batch = buildBatch(seqs, round === 0 ? seqs.map((s) => s.tokens.length) : seqs.map(() => 1), 16)
      const rows = batch.logitsIndices.length
      const requests = Array.from({length: 48}, () => randomRequest({nextFloat: random}, rows, vocab))
      const arrays = encodeSampleRequests(requests, Array.from({length: rows}, (_, r) => r))
      const {logits, sampled} = await gpu.stepAndSample({}, batch, arrays)
      const reference = nativeOps().sampleRows(logits, rows, vocab, encodeSampleRequests(requests, []))
      requests.forEach((request, i) => {
        const got = sampledResult(sampled, i, arrays.topStride, request.params)
        const want = sampledResult(reference, i, arrays.topStride, request.params)
        const isGreedy = request.params.temperature === 0
        if (isGreedy) { greedy += 1; if (got.tokenId === want.tokenId) greedyAgree += 1 } else { draws += 1; if (got.tokenId === want.tokenId) drawAgree += 1 }
        if (got.tokenId === want.tokenId) worstLogprob = Math.max(worstLogprob, Math.abs(got.logprob - want.logprob))
      })
      seqs.forEach((s) => s.tokens.push(1 + randomInt(vocab - 1)))
    }
    const ok = greedyAgree === greedy && drawAgree >= 0.97 * draws && worstLogprob <= 1e-3
    if (!ok) results.failures += 1
    console.log(`${ok ? 'ok  ' : 'FAIL'} device sampler vs CPU sampler on the same logits: greedy ${greedyAgree}/${greedy}, ` +
      `draws ${drawAgree}/${draws}, max |logprob diff| ${worstLogprob.toExponential(2)} <= 1e-3`)
  } finally {
    gpu.close()
  }
}

const cases: {preset: TestModelPreset; variant: TestModelVariant}[] = [
  {preset: 'tiny', variant: 'llama'},
  {preset: 'tiny', variant: 'qwen2'},   // q/k/v bias
  {preset: 'tiny', variant: 'llama3'},  // llama3 rope scaling
  {preset: 'tiny', variant: 'qwen3'},   // q/k head norms (head_norm_kernels.cu), head_dim 32 over hidden 64
  {preset: 'small', variant: 'llama'},  // head_dim 64, GQA
]
for (const {preset, variant} of cases) {
  const model = await loadModel(await ensureTestModel(preset, {variant, dtype: 'BF16'}))
  for (const format of ['bf16', 'f16'] as const) await compareBackends(`${preset}/${variant}`, model, format)
}
await deviceSamplerCheck(await loadModel(await ensureTestModel('small', {dtype: 'BF16'})))
await promptRankingCheck(await loadModel(await ensureTestModel('small', {dtype: 'BF16'})), results, LOGPROB_TOL)
await engineEndToEnd(await ensureTestModel('small', {dtype: 'BF16'}), 'small/llama')
const features = await featureModels()
try {
  for (const {label, dir} of features.models) {
    const model = await loadModel(dir)
    for (const format of ['bf16', 'f16'] as const) await compareBackends(label, model, format)
    await engineEndToEnd(dir, label)
  }
} finally {
  rmSync(features.root, {recursive: true, force: true})
}
console.log(results.failures === 0 ? 'backend and engine checks passed' : `${results.failures} backend/engine checks failed`)
process.exit(results.failures === 0 ? 0 : 1)
