// Side-by-side prefill and decode throughput: pagedllm vs llama.cpp (node-llama-cpp, prebuilt CPU binaries) on the same
// GGUF file (f32, f16, q8_0 and Q4_K_M, written from the seeded test checkpoint).
// Usage: npm install --prefix .cache/peer node-llama-cpp@3   (once; kept out of the project's dependencies)
//        npx tsx scripts/bench-peer.ts [--preset bench] [--threads 2] [--peer-threads N] [--tokens 128] [--concurrency 32]
//          [--prefill 256] [--formats f32,f16,q8_0,q4_k] [--vnni avx-vnni|avx512-vnni|none]
//          [--float-panels avx2|avx512]
import {existsSync, mkdirSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'
import {parseArgs} from 'node:util'
import {writeGguf, type GgufFileFormat} from '../src/bench/peer/gguf-writer.js'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {ensureTestModel, type TestModelPreset} from '../src/engine/model/test-model.js'
import {nativeOps, type FloatPanels, type VnniKind} from '../src/engine/native.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const {values: args} = parseArgs({
  options: {
    preset: {type: 'string', default: 'bench'},
    threads: {type: 'string', default: '2'},
    /** llama.cpp's threads when they should differ from ours (its best on a 2-core machine is often 1). */
    'peer-threads': {type: 'string'},
    /** Prompt tokens of the prefill row (one request, one output token). */
    prefill: {type: 'string', default: '256'},
    tokens: {type: 'string', default: '128'},
    concurrency: {type: 'string', default: '32'},
    'peer-dir': {type: 'string', default: process.env.PAGEDLLM_PEER_DIR ?? '.cache/peer'},
    formats: {type: 'string'},
    /** Our quantized prefill's int8 dot products: a VNNI build or none (AVX2 maddubs); default the best this CPU runs. */
    vnni: {type: 'string'},
    /** Our float prefill panels: avx512 (zmm) or avx2 (ymm); default the widest this CPU runs. */
    'float-panels': {type: 'string'},
  },
})
const threads = Number(args.threads)
const peerThreads = Number(args['peer-threads'] ?? args.threads)
const prefillTokens = Number(args.prefill)
const newTokens = Number(args.tokens)
const concurrency = Number(args.concurrency)
const promptLength = 16
if (args.vnni !== undefined && !nativeOps().setVnni(args.vnni as VnniKind)) throw new Error(`--vnni ${args.vnni}: this CPU runs ${nativeOps().vnniStatus().supported}`)
if (args['float-panels'] !== undefined && !nativeOps().setFloatPanels(args['float-panels'] as FloatPanels))
  throw new Error(`--float-panels ${args['float-panels']}: this CPU runs ${nativeOps().floatPanelsStatus().supported}`)

function prompt(salt: number): number[] {
  return Array.from({length: promptLength}, (_, i) => 300 + ((i * 131 + salt * 17) % 5000))
}

/** A long prompt of distinct-looking tokens for the prefill row. */
function longPrompt(): number[] {
  return Array.from({length: prefillTokens}, (_, i) => 300 + ((i * 7919) % 5000))
}

/** Seconds of this process's CPU time (all its threads: both engines compute in-process) since `since`. */
function cpuSecondsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1e6
}

interface Figures {
  /** Prompt tokens per second of one prefillTokens-token prompt (until its first output token), and per CPU second. */
  prefillTokensPerSecond: number
  prefillTokensPerCpuSecond: number
  batch1TokensPerSecond: number
  concurrentTokensPerSecond: number
  /** Per CPU second: steadier than wall time on a shared machine, comparable at equal thread counts. */
  concurrentTokensPerCpuSecond: number
  /** Greedy continuation of prompt(1): the same weights must give the same tokens in both engines. */
  greedyTokens: number[]
}

async function measureOurs(modelPath: string): Promise<Figures> {
  // --dtype auto on a GGUF file computes on its own format (f32, f16, or the quantized blocks).
  const engine = await LLMEngine.create(makeEngineConfig({modelPath, threads, weightDtype: 'auto', kvMemoryBytes: 512 << 20}))
  try {
    const params = makeSamplingParams({temperature: 0, maxTokens: newTokens, ignoreEos: true})
    await engine.generate([{prompt: prompt(0), params: makeSamplingParams({temperature: 0, maxTokens: 8, ignoreEos: true})}])
    const prefillCpu = process.cpuUsage()
    const [prefilled] = await engine.generate([{prompt: longPrompt(), params: makeSamplingParams({temperature: 0, maxTokens: 1, ignoreEos: true})}])
    const prefillCpuSeconds = cpuSecondsSince(prefillCpu)
    const prefillSeconds = prefilled!.metrics.firstTokenTime! - prefilled!.metrics.arrivalTime
    const [single] = await engine.generate([{prompt: prompt(1), params}])
    const decodeSeconds = single!.metrics.finishedTime! - single!.metrics.firstTokenTime!
    const batch1 = (newTokens - 1) / decodeSeconds
    const started = performance.now()
    const startedCpu = process.cpuUsage()
    const results = await engine.generate(Array.from({length: concurrency}, (_, i) => ({prompt: prompt(i + 2), params})))
    const seconds = (performance.now() - started) / 1000
    const cpuSeconds = cpuSecondsSince(startedCpu)
    const tokens = results.reduce((sum, result) => sum + result.outputs[0]!.tokenIds.length, 0)
    return {
      prefillTokensPerSecond: prefillTokens / prefillSeconds, prefillTokensPerCpuSecond: prefillTokens / prefillCpuSeconds,
      batch1TokensPerSecond: batch1, concurrentTokensPerSecond: tokens / seconds, concurrentTokensPerCpuSecond: tokens / cpuSeconds,
      greedyTokens: single!.outputs[0]!.tokenIds.slice(0, 16),
    }
  } finally {
    await engine.shutdown()
  }
}

async function measureLlamaCpp(ggufPath: string): Promise<Figures> {
  const entry = resolve(args['peer-dir']!, 'node_modules', 'node-llama-cpp', 'dist', 'index.js')
  if (!existsSync(entry)) throw new Error(`node-llama-cpp not found under ${args['peer-dir']}: run npm install --prefix ${args['peer-dir']} node-llama-cpp@3`)
  const {getLlama, LlamaLogLevel} = await import(pathToFileURL(entry).href)
  const threads = peerThreads
  const llama = await getLlama({gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: threads})
  const model = await llama.loadModel({modelPath: ggufPath})
  const decode = async (sequence: any, tokens: number[]): Promise<{first: number; last: number; generated: number[]}> => {
    const generated: number[] = []
    let first = 0
    for await (const token of sequence.evaluate(tokens, {temperature: 0})) {
      generated.push(token)
      if (generated.length === 1) first = performance.now()
      if (generated.length >= newTokens) break
    }
    return {first, last: performance.now(), generated}
  }
  const single = await model.createContext({contextSize: 1024, sequences: 1, threads, batchSize: 512})
  await decode(single.getSequence(), prompt(0))
  const run = await decode((await model.createContext({contextSize: 1024, sequences: 1, threads, batchSize: 512})).getSequence(), prompt(1))
  const batch1 = ((newTokens - 1) * 1000) / (run.last - run.first)
  const prefillContext = await model.createContext({contextSize: prefillTokens + 64, sequences: 1, threads, batchSize: 512})
  const prefillSequence = prefillContext.getSequence()
  const prefillCpu = process.cpuUsage()
  const prefillStarted = performance.now()
  const prefilled = await decode(prefillSequence, longPrompt())
  const prefillCpuSeconds = cpuSecondsSince(prefillCpu)
  const prefill = (prefillTokens * 1000) / (prefilled.first - prefillStarted)
  // contextSize is per sequence in node-llama-cpp (the context holds sequences x contextSize cells): not times concurrency.
  const context = await model.createContext({contextSize: promptLength + newTokens + 16, sequences: concurrency, threads, batchSize: 512})
  const started = performance.now()
  const startedCpu = process.cpuUsage()
  await Promise.all(Array.from({length: concurrency}, (_, i) => decode(context.getSequence(), prompt(i + 2))))
  const seconds = (performance.now() - started) / 1000
  const cpuSeconds = cpuSecondsSince(startedCpu)
  // dispose() can leave its promise pending with nothing else keeping node alive, and node then exits 0 with no
  // output (seen under load: the script's intermittent silent exit). A timer bounds the wait and keeps the loop alive.
  let timer: NodeJS.Timeout | undefined
  await Promise.race([model.dispose(), new Promise<void>((done) => { timer = setTimeout(done, 10_000) })])
  clearTimeout(timer)
  return {
    prefillTokensPerSecond: prefill, prefillTokensPerCpuSecond: prefillTokens / prefillCpuSeconds, batch1TokensPerSecond: batch1,
    concurrentTokensPerSecond: (concurrency * newTokens) / seconds, concurrentTokensPerCpuSecond: (concurrency * newTokens) / cpuSeconds,
    greedyTokens: run.generated.slice(0, 16),
  }
}

const modelDir = await ensureTestModel(args.preset as TestModelPreset)
const loaded = await loadModel(modelDir)
const peerDir = resolve('.cache', 'peer-models')
mkdirSync(peerDir, {recursive: true})
const rows: string[] = []
const formats = (args.formats ?? 'f32,f16,q8_0,q4_k').split(',') as GgufFileFormat[]
for (const format of formats) {
  const gguf = join(peerDir, `${args.preset}-${format}.gguf`)
  writeGguf(loaded, gguf, {format})  // every run: a file left by an older writer would hold another tensor mix
  const label = format === 'q4_k' ? 'Q4_K_M' : format.toUpperCase()
  const a = await measureOurs(gguf)
  const b = await measureLlamaCpp(gguf)
  const agree = a.greedyTokens.findIndex((token, i) => token !== b.greedyTokens[i])
  console.log(`${label}: greedy tokens ${agree < 0 ? 'identical' : `agree for ${agree} of 16`} (${a.greedyTokens.join(' ')} | ${b.greedyTokens.join(' ')})`)
  const row = (load: string, ours: number, theirs: number, oursCpu?: number, theirsCpu?: number) =>
    `| ${label} | ${load} | ${ours.toFixed(1)} | ${theirs.toFixed(1)} | ${(ours / theirs).toFixed(2)} | ` +
    (oursCpu === undefined ? '- | - | - |' : `${oursCpu.toFixed(1)} | ${theirsCpu!.toFixed(1)} | ${(oursCpu / theirsCpu!).toFixed(2)} |`)
  rows.push(
    row(`prefill ${prefillTokens}`, a.prefillTokensPerSecond, b.prefillTokensPerSecond, a.prefillTokensPerCpuSecond, b.prefillTokensPerCpuSecond),
    row('batch 1', a.batch1TokensPerSecond, b.batch1TokensPerSecond),
    row(`${concurrency} concurrent`, a.concurrentTokensPerSecond, b.concurrentTokensPerSecond, a.concurrentTokensPerCpuSecond, b.concurrentTokensPerCpuSecond),
  )
}
console.log(`pagedllm quantized prefill int8 dots: ${nativeOps().vnniStatus().inUseLabel}; float prefill panels: ${nativeOps().floatPanelsStatus().inUse}`)
console.log(`model: ${args.preset} preset (${loaded.config.numLayers} layers, hidden ${loaded.config.hiddenSize}, vocab ${loaded.config.vocabSize}), ` +
  `${threads} threads (llama.cpp ${peerThreads}), ${newTokens} new tokens, prompt ${promptLength}`)
console.log('| weights | load | pagedllm tok/s | llama.cpp tok/s | ratio | pagedllm tok/cpu-s | llama.cpp tok/cpu-s | ratio |\n|---|---|---|---|---|---|---|---|')
for (const row of rows) console.log(row)
