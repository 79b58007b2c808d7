// Engine work per phase in CPU seconds of the process at one compute thread (best of --reps): a before/after measure
// that holds on a shared, loaded machine, where wall-clock figures move by more than most changes. Swap the addon
// (native/build/Release/pagedllm.node) between runs to compare builds.
// Usage: npx tsx scripts/bench-cpu-work.ts [--preset bench] [--quantization q8_0|q4_0|q4_k] [--reps 3]
import {parseArgs} from 'node:util'
import {makeEngineConfig, type Quantization} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelPreset} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const {values: args} = parseArgs({options: {
  preset: {type: 'string', default: 'bench'}, quantization: {type: 'string'}, reps: {type: 'string', default: '3'},
}})
const engine = await LLMEngine.create(makeEngineConfig({
  modelPath: await ensureTestModel(args.preset as TestModelPreset), threads: 1, quantization: args.quantization as Quantization | undefined,
  kvMemoryBytes: 2 ** 31, enablePrefixCaching: false, maxNumBatchedTokens: 8192,
}))
let salt = 0
const prompt = (length: number) => Array.from({length}, (_, i) => 5 + ((i * 7919 + ++salt * 104729) % 4000))
const greedy = (maxTokens: number) => makeSamplingParams({temperature: 0, maxTokens, ignoreEos: true})
/** Tokens per CPU second of the whole process while `run` generates `tokens` tokens. */
async function tokensPerCpuSecond(tokens: number, run: () => Promise<unknown>): Promise<number> {
  const since = process.cpuUsage()
  await run()
  const used = process.cpuUsage(since)
  return tokens / ((used.user + used.system) / 1e6)
}

await engine.generate([{prompt: prompt(16), params: greedy(4)}])  // warm-up
const best = {prefill: 0, batch1: 0, concurrent: 0}
for (let rep = 0; rep < Number(args.reps); rep++) {
  best.prefill = Math.max(best.prefill, await tokensPerCpuSecond(256, () => engine.generate([{prompt: prompt(256), params: greedy(1)}])))
  best.batch1 = Math.max(best.batch1, await tokensPerCpuSecond(64, () => engine.generate([{prompt: prompt(16), params: greedy(64)}])))
  best.concurrent = Math.max(best.concurrent, await tokensPerCpuSecond(32 * 32,
    () => engine.generate(Array.from({length: 32}, () => ({prompt: prompt(16), params: greedy(32)})))))
}
console.log(`${args.preset} ${args.quantization ?? 'f32'}, 1 thread, tokens per CPU second (best of ${args.reps}): prefill 256 ${best.prefill.toFixed(0)}, ` +
  `batch 1 ${best.batch1.toFixed(0)}, 32 concurrent ${best.concurrent.toFixed(0)}`)
await engine.shutdown()
