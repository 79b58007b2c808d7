// Decode tokens/s of a mixture-of-experts test model (mixtral variant: 8 experts, top-2, each half the dense width)
// against the dense llama variant of the same preset, whose MLP has the same active parameters per token.
// Usage: npx tsx scripts/bench-moe-decode.ts [--preset bench] [--batches 1,16] [--output-len 64] [--threads 2] [--rounds 3]
// Decode rate = batch x (output-len - 1) / (time of output-len tokens - time of 1 token), medians of alternating rounds.
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelPreset, type TestModelVariant} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const {values: args} = parseArgs({
  options: {
    preset: {type: 'string', default: 'bench'},
    batches: {type: 'string', default: '1,16'},
    'output-len': {type: 'string', default: '64'},
    threads: {type: 'string', default: '2'},
    rounds: {type: 'string', default: '3'},
    dtype: {type: 'string', default: 'f32'},
  },
})
const outputLen = Number(args['output-len'])
const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN
const variants: TestModelVariant[] = ['llama', 'mixtral']
const engines = new Map<TestModelVariant, LLMEngine>()
for (const variant of variants) {
  const modelPath = await ensureTestModel(args.preset as TestModelPreset, {variant})
  engines.set(variant, await LLMEngine.create(makeEngineConfig({modelPath, threads: Number(args.threads), weightDtype: args.dtype as 'f32', kvMemoryBytes: 256 << 20})))
}

async function timed(engine: LLMEngine, batch: number, maxTokens: number): Promise<number> {
  const params = makeSamplingParams({temperature: 0, maxTokens, ignoreEos: true})
  const requests = Array.from({length: batch}, (_, i) => ({prompt: Array.from({length: 16}, (_, t) => 1 + ((t * 37 + i * 101) % 250)), params}))
  const start = performance.now()
  await engine.generate(requests)
  return performance.now() - start
}

try {
  console.log(`preset ${args.preset}, ${args.dtype}, ${args.threads} threads, ${outputLen} tokens per sequence, median of ${args.rounds} rounds`)
  console.log('batch | dense llama tok/s | mixtral 8x top-2 tok/s | moe / dense')
  for (const batch of args.batches.split(',').map(Number)) {
    const rates = new Map<TestModelVariant, number[]>(variants.map((v) => [v, []]))
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const variant of variants) {
        const engine = engines.get(variant)!
        const prefill = await timed(engine, batch, 1)
        const full = await timed(engine, batch, outputLen)
        rates.get(variant)!.push((batch * (outputLen - 1)) / ((full - prefill) / 1000))
      }
    }
    const [dense, moe] = variants.map((v) => median(rates.get(v)!))
    console.log(`${batch} | ${dense!.toFixed(1)} | ${moe!.toFixed(1)} | ${(moe! / dense!).toFixed(2)}`)
  }
} finally {
  for (const engine of engines.values()) await engine.shutdown()
}
