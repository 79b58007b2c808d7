// Prefill and decode throughput of the engine against batch size: where batching stops paying on this machine.
// Usage: npx tsx scripts/bench-steps.ts [--preset small|bench] [--dtype f32|bf16] [--quantization q8_0|q4_0|q4_k] [--threads 2]
//          [--batches 1,8,32,64] [--batch-invariant]
import {parseArgs} from 'node:util'
import {makeEngineConfig, type Quantization} from '../src/engine/config.js'
import {LLMEngine, type StepStats} from '../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelPreset} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const {values: args} = parseArgs({
  options: {
    preset: {type: 'string', default: 'small'},
    dtype: {type: 'string', default: 'f32'},
    quantization: {type: 'string'},
    threads: {type: 'string', default: '0'},
    batches: {type: 'string', default: '1,8,32,64'},
    'prompt-len': {type: 'string', default: '128'},
    'decode-tokens': {type: 'string', default: '32'},
    'batch-invariant': {type: 'boolean', default: false},
  },
})
const promptLength = Number(args['prompt-len'])
const decodeTokens = Number(args['decode-tokens'])
const modelDir = await ensureTestModel(args.preset as TestModelPreset)
const engine = await LLMEngine.create(
  makeEngineConfig({
    modelPath: modelDir,
    threads: Number(args.threads),
    weightDtype: args.dtype as 'f32' | 'bf16',
    quantization: args.quantization as Quantization | undefined,
    kvMemoryBytes: 2 * 2 ** 30,
    enablePrefixCaching: false,
    maxNumBatchedTokens: 8192,
    batchInvariant: args['batch-invariant'],
  }),
)
const steps: StepStats[] = []
engine.onStep((stats) => steps.push(stats))
let salt = 0
const prompt = () => Array.from({length: promptLength}, (_, i) => 5 + ((i * 7919 + ++salt * 104729) % 4000))

console.log(`model ${args.preset} (${engine.model.config.numLayers} layers, hidden ${engine.model.config.hiddenSize}, vocab ${engine.model.config.vocabSize}), weights ${args.quantization ?? args.dtype}${args['batch-invariant'] ? ' (batch-invariant)' : ''}, ${engine.nativeInfo.threads} threads, prompt ${promptLength}`)
console.log('| batch | prefill tok/s | decode step ms | decode tok/s |\n|---|---|---|---|')
await engine.generate([{prompt: prompt(), params: makeSamplingParams({temperature: 0, maxTokens: 4, ignoreEos: true})}])
for (const batch of args.batches!.split(',').map(Number)) {
  steps.length = 0
  const params = makeSamplingParams({temperature: 0, maxTokens: decodeTokens, ignoreEos: true})
  await engine.generate(Array.from({length: batch}, () => ({prompt: prompt(), params})))
  // Pure steps only: prefill steps carry no decode rows, decode steps run the full batch of single tokens.
  const prefill = steps.filter((s) => s.numDecodeTokens === 0)
  const decode = steps.filter((s) => s.numPrefillTokens === 0 && s.numDecodeTokens === batch)
  const prefillTokens = prefill.reduce((sum, s) => sum + s.numPrefillTokens, 0)
  const prefillSeconds = prefill.reduce((sum, s) => sum + s.durationMs, 0) / 1000
  const decodeMs = decode.reduce((sum, s) => sum + s.durationMs, 0) / Math.max(1, decode.length)
  console.log(`| ${batch} | ${(prefillTokens / prefillSeconds).toFixed(0)} | ${decodeMs.toFixed(2)} | ${((batch * 1000) / decodeMs).toFixed(1)} |`)
}
await engine.shutdown()
