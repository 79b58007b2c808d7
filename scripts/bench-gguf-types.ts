// Decode throughput per GGUF block type: the `bench` test checkpoint written once per type (every matrix in it, norms
// f32; under .cache/gguf-types), loaded with --dtype auto, then batch-1 and 8-sequence greedy decode side by side:
// the median (and range) of --rounds rounds, each round over every type in turn, so load from other tenants spreads
// over all types alike.
// Usage: npx tsx scripts/bench-gguf-types.ts [--types q8_0,q4_k,q5_k,...] [--threads 2] [--tokens 64] [--concurrency 8] [--rounds 3]
import {existsSync, mkdirSync} from 'node:fs'
import {loadavg} from 'node:os'
import {join, resolve} from 'node:path'
import {parseArgs} from 'node:util'
import {writeGguf} from '../src/bench/peer/gguf-writer.js'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {BLOCK_FORMATS, type BlockFormat} from '../src/engine/model/gguf-block-types.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const {values: args} = parseArgs({
  options: {
    types: {type: 'string', default: 'q8_0,q4_k,q5_k,q6_k,q5_0,q3_k,q2_k,q4_1,q5_1,iq4_nl,iq4_xs'},
    threads: {type: 'string', default: '2'},
    tokens: {type: 'string', default: '64'},
    concurrency: {type: 'string', default: '8'},
    rounds: {type: 'string', default: '3'},
  },
})
const types = args.types!.split(',') as BlockFormat[]
for (const type of types) if (!(BLOCK_FORMATS as readonly string[]).includes(type)) throw new Error(`unknown type ${type} (${BLOCK_FORMATS.join(', ')})`)
const threads = Number(args.threads)
const newTokens = Number(args.tokens)
const concurrency = Number(args.concurrency)
const prompt = (salt: number) => Array.from({length: 16}, (_, i) => 300 + ((i * 131 + salt * 17) % 5000))

async function measure(path: string): Promise<{label: string; weightMiB: number; batch1: number; concurrent: number}> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: path, threads, weightDtype: 'auto', kvMemoryBytes: 256 << 20}))
  try {
    const params = makeSamplingParams({temperature: 0, maxTokens: newTokens, ignoreEos: true})
    await engine.generate([{prompt: prompt(0), params: makeSamplingParams({temperature: 0, maxTokens: 4, ignoreEos: true})}])
    const [single] = await engine.generate([{prompt: prompt(1), params}])
    const batch1 = (newTokens - 1) / (single!.metrics.finishedTime! - single!.metrics.firstTokenTime!)
    const started = performance.now()
    const results = await engine.generate(Array.from({length: concurrency}, (_, i) => ({prompt: prompt(i + 2), params})))
    const tokens = results.reduce((sum, result) => sum + result.outputs[0]!.tokenIds.length, 0)
    return {label: engine.native.weightsLabel, weightMiB: engine.native.info.weightBytes / 2 ** 20, batch1, concurrent: tokens / ((performance.now() - started) / 1000)}
  } finally {
    await engine.shutdown()
  }
}

const model = await loadModel(await ensureTestModel('bench'))
const dir = resolve('.cache', 'gguf-types')
mkdirSync(dir, {recursive: true})
console.log(`bench preset, ${threads} threads, ${newTokens} tokens; load average before: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`)
const paths = types.map((type) => {
  const path = join(dir, `bench-${type}.gguf`)
  if (!existsSync(path)) writeGguf(model, path, {format: 'f32', tensorFormat: (name) => (name.endsWith('_norm.weight') ? undefined : type)})
  return path
})
const runs: Awaited<ReturnType<typeof measure>>[][] = types.map(() => [])
for (let round = 0; round < Number(args.rounds); round++) {
  for (const [i, path] of paths.entries()) runs[i]!.push(await measure(path))
}
/** Median (min-max) of a figure over the rounds. */
const spread = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return `${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} (${sorted[0]!.toFixed(0)}-${sorted.at(-1)!.toFixed(0)})`
}
console.log(`| type | weights (as kept) | MiB | batch 1 tok/s | ${concurrency} sequences tok/s |`)
console.log('|---|---|---|---|---|')
types.forEach((type, i) => {
  const figures = runs[i]!
  console.log(`| ${type} | ${figures[0]!.label} | ${figures[0]!.weightMiB.toFixed(1)} | ${spread(figures.map((f) => f.batch1))} | ${spread(figures.map((f) => f.concurrent))} |`)
})
console.log(`load average after: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`)
