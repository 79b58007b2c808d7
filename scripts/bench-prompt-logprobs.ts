// One long prompt with prompt logprobs against the same prompt without them, alternating in one engine: engine step
// time (the steps that hold its prompt), the event loop's longest stall (ranking prompt rows on the event loop shows as
// one; ranking them in the native step does not) and the process's peak RSS so far (the runs go off, then on).
// --vocab N widens the preset's embedding and LM head to N rows (seeded, cached in .cache/models), and its context to
// 4,096: a large-vocabulary model.
// Usage: npx tsx scripts/bench-prompt-logprobs.ts [--preset bench] [--vocab N] [--tokens 2000] [--top 20] [--runs 3] [--threads 0]
import {copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {loadavg} from 'node:os'
import {join} from 'node:path'
import {monitorEventLoopDelay} from 'node:perf_hooks'
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine, type StepStats} from '../src/engine/llm-engine.js'
import {encodeFloats, readCheckpointTensors, readTensorFloat32, writeSafetensors} from '../src/engine/model/safetensors.js'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {ensureTestModel, type TestModelPreset} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const {values: args} = parseArgs({
  options: {
    preset: {type: 'string', default: 'bench'},
    tokens: {type: 'string', default: '2000'},
    top: {type: 'string', default: '20'},
    runs: {type: 'string', default: '3'},
    threads: {type: 'string', default: '0'},
    vocab: {type: 'string'},
  },
})

/** The preset's checkpoint with its embedding and LM head widened to `vocab` rows of seeded values (the tokenizer keeps its own ids). */
async function widenedVocabModel(preset: TestModelPreset, vocab: number): Promise<string> {
  const source = await ensureTestModel(preset)
  const dir = `${source}-vocab${vocab}`
  if (existsSync(join(dir, 'model.safetensors'))) return dir
  mkdirSync(dir, {recursive: true})
  for (const file of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(join(source, file), join(dir, file))
  const config = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8'))
  const random = new SeededRandom(vocab)
  const tensors = readCheckpointTensors(source).map((tensor) => {
    if (tensor.name !== 'model.embed_tokens.weight' && tensor.name !== 'lm_head.weight') return {...tensor, data: () => encodeFloats(readTensorFloat32(tensor), tensor.dtype)}
    const shape = [vocab, tensor.shape[1]!]
    const scale = tensor.name === 'lm_head.weight' ? 3 / Math.sqrt(config.hidden_size) : 1
    return {...tensor, shape, data: () => encodeFloats(Float32Array.from({length: vocab * shape[1]!}, () => (random.nextFloat() * 2 - 1) * scale), tensor.dtype)}
  })
  writeSafetensors(join(dir, 'model.safetensors'), tensors)
  const context = Math.max(config.max_position_embeddings, 4096)
  writeFileSync(join(dir, 'config.json'), JSON.stringify({...config, vocab_size: vocab, max_position_embeddings: context}, null, 2))
  return dir
}

const tokens = Number(args.tokens)
const preset = args.preset as TestModelPreset
const modelPath = args.vocab ? await widenedVocabModel(preset, Number(args.vocab)) : await ensureTestModel(preset)
const engine = await LLMEngine.create(
  makeEngineConfig({modelPath, threads: Number(args.threads), maxNumBatchedTokens: Math.max(2048, tokens), enablePrefixCaching: false}),
)
const steps: StepStats[] = []
engine.onStep((stats) => steps.push(stats))
const prompt = Array.from({length: tokens}, (_, i) => 5 + ((i * 7919) % 4000))

async function run(promptLogprobs: number | null) {
  steps.length = 0
  const delay = monitorEventLoopDelay({resolution: 1})
  delay.enable()
  // The longest gap between ticks of a 1 ms interval: what a /health poll would wait, at most.
  let lastTick = performance.now()
  let gapMs = 0
  const ticker = setInterval(() => {
    const now = performance.now()
    gapMs = Math.max(gapMs, now - lastTick)
    lastTick = now
  }, 1)
  const started = performance.now()
  const [result] = await engine.generate([{prompt, params: makeSamplingParams({maxTokens: 1, promptLogprobs})}])
  const wallMs = performance.now() - started
  // The request ends in the step that ranks its prompt: let the timers run once more so they see that step's stall.
  await new Promise((resolve) => setTimeout(resolve, 5))
  delay.disable()
  clearInterval(ticker)
  const prefill = steps.filter((s) => s.numPrefillTokens > 0)
  return {
    entries: result!.promptLogprobs?.filter((entry) => entry !== null).length ?? 0,
    prefillMs: prefill.reduce((sum, s) => sum + s.durationMs, 0),
    prefillSteps: prefill.length,
    wallMs,
    loopMaxMs: delay.max / 1e6,
    gapMs,
  }
}

const info = engine.model.config
console.log(`model ${args.preset} (vocab ${info.vocabSize}), ${engine.nativeInfo.threads} threads, prompt ${tokens} tokens, max_tokens 1`)
console.log('| run | prompt_logprobs | entries | prefill steps | their ms | request ms | event loop max ms | longest 1 ms tick gap | peak RSS MB | load |\n|---|---|---|---|---|---|---|---|---|---|')
await run(null) // warm-up
for (let i = 0; i < Number(args.runs); i++) {
  for (const top of [null, Number(args.top)]) {
    const r = await run(top)
    console.log(`| ${i + 1} | ${top ?? 'off'} | ${r.entries} | ${r.prefillSteps} | ${r.prefillMs.toFixed(0)} | ${r.wallMs.toFixed(0)} | ${r.loopMaxMs.toFixed(1)} | ${r.gapMs.toFixed(0)} | ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} | ${loadavg()[0]!.toFixed(1)} |`)
  }
}
await engine.shutdown()
