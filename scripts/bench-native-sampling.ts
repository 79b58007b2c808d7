// Batch decode step time and event-loop delay with sampling in the backend vs the JS sampler (PAGEDLLM_SAMPLER=js),
// alternating runs in one engine, and whether both give the same tokens.
// Usage: npx tsx scripts/bench-native-sampling.ts [--preset bench] [--batch 64] [--decode-tokens 24] [--runs 2] [--threads 2]
import {parseArgs} from 'node:util'
import {monitorEventLoopDelay} from 'node:perf_hooks'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine, type StepStats} from '../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelPreset} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const {values: args} = parseArgs({
  options: {
    preset: {type: 'string', default: 'bench'},
    batch: {type: 'string', default: '64'},
    'decode-tokens': {type: 'string', default: '24'},
    'prompt-len': {type: 'string', default: '32'},
    runs: {type: 'string', default: '2'},
    threads: {type: 'string', default: '0'},
  },
})
const batch = Number(args.batch)
const modelDir = await ensureTestModel(args.preset as TestModelPreset)
const engine = await LLMEngine.create(
  makeEngineConfig({modelPath: modelDir, threads: Number(args.threads), kvMemoryBytes: 2 * 2 ** 30, enablePrefixCaching: false, maxNumBatchedTokens: 8192}),
)
const steps: StepStats[] = []
engine.onStep((stats) => steps.push(stats))
const requests = Array.from({length: batch}, (_, r) => ({
  prompt: Array.from({length: Number(args['prompt-len'])}, (_, i) => 5 + ((i * 7919 + r * 104729) % 4000)),
  params: makeSamplingParams({temperature: 0.8, topP: 0.9, seed: 100 + r, maxTokens: Number(args['decode-tokens']), ignoreEos: true}),
}))

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
async function run(sampler: 'native' | 'js') {
  if (sampler === 'js') process.env.PAGEDLLM_SAMPLER = 'js'
  else delete process.env.PAGEDLLM_SAMPLER
  steps.length = 0
  const delay = monitorEventLoopDelay({resolution: 5})
  delay.enable()
  const results = await engine.generate(requests)
  delay.disable()
  const decode = steps.filter((s) => s.numPrefillTokens === 0 && s.numDecodeTokens === batch).map((s) => s.durationMs)
  return {
    tokens: results.map((r) => r.outputs[0]!.tokenIds.join()),
    stepMs: median(decode),
    meanMs: decode.reduce((a, b) => a + b, 0) / decode.length,
    steps: decode.length,
    loopP50: delay.percentile(50) / 1e6,
    loopP99: delay.percentile(99) / 1e6,
    loopMax: delay.max / 1e6,
  }
}

const info = engine.model.config
console.log(`model ${args.preset} (vocab ${info.vocabSize}, ${info.numLayers} layers), ${engine.nativeInfo.threads} threads, batch ${batch}, top-p 0.9, temperature 0.8`)
console.log('| run | sampler | decode step median ms | mean ms | steps | event loop p50 / p99 / max ms |\n|---|---|---|---|---|---|')
await engine.generate([requests[0]!]) // warm-up
let reference: string[] | null = null
let mismatched = 0
for (let i = 0; i < Number(args.runs); i++) {
  for (const sampler of ['native', 'js'] as const) {
    const r = await run(sampler)
    reference ??= r.tokens
    mismatched += r.tokens.filter((tokens, k) => tokens !== reference![k]).length
    console.log(`| ${i + 1} | ${sampler} | ${r.stepMs.toFixed(2)} | ${r.meanMs.toFixed(2)} | ${r.steps} | ${r.loopP50.toFixed(1)} / ${r.loopP99.toFixed(1)} / ${r.loopMax.toFixed(1)} |`)
  }
}
console.log(`sequences whose tokens differ from the first run: ${mismatched}`)
await engine.shutdown()
