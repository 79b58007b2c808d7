// KV memory on the ShareGPT / Alpaca traces: waste of paged allocation, and what block sharing saves for
// parallel sampling (n = 4) and beam search (width 4) — the paper's Section 6.3 measurement, in this engine.
// Memory accounting does not depend on the model's size, so a tiny model with a long context runs it quickly.
// Usage: npx tsx scripts/bench-sharing.ts [--trace sharegpt|alpaca] [--num-prompts 100] [--width 4]
import {cpSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine, type StepStats} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams, type SamplingParams} from '../src/engine/sampling-params.js'

const {values: args} = parseArgs({
  options: {
    trace: {type: 'string', default: 'sharegpt'},
    'num-prompts': {type: 'string', default: '100'},
    width: {type: 'string', default: '4'},
    seed: {type: 'string', default: '0'},
  },
})
const width = Number(args.width)
const trace = readFileSync(new URL(`../datasets/${args.trace}.jsonl`, import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as {prompt_len: number; output_len: number})
  .slice(0, Number(args['num-prompts']))

// The tiny test model with room for ShareGPT's 2048-token requests (RoPE has no length limit of its own).
const tiny = await ensureTestModel('tiny')
const modelDir = `${tiny}-ctx4096`
if (!existsSync(modelDir)) {
  cpSync(tiny, modelDir, {recursive: true})
  const config = JSON.parse(readFileSync(`${modelDir}/config.json`, 'utf8'))
  writeFileSync(`${modelDir}/config.json`, JSON.stringify({...config, max_position_embeddings: 4096}))
}

interface Usage {
  /** Mean over steps of tokensStored / reservedSlots. */
  tokenShare: number
  /** Mean over steps of what sharing saved: savedBySharing / (tokensStored + savedBySharing). */
  sharingSaving: number
  meanBlocks: number
}

async function measure(params: (outputLen: number) => SamplingParams): Promise<Usage> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: modelDir, numBlocks: 40000, threads: 1, enablePrefixCaching: false, maxNumSeqs: 1024, maxNumBatchedTokens: 16384}))
  const steps: StepStats[] = []
  engine.onStep((stats) => steps.push(stats))
  let salt = Number(args.seed)
  await engine.generate(
    trace.map((request) => ({
      prompt: Array.from({length: request.prompt_len}, (_, i) => 5 + ((i * 7 + ++salt * 13) % 250)),
      params: params(request.output_len),
    })),
  )
  const leaked = engine.stats().kv.usedBlocks
  await engine.shutdown()
  if (leaked !== 0) throw new Error(`${leaked} blocks leaked`)
  const busy = steps.filter((s) => s.kv.reservedSlots > 0)
  const mean = (f: (s: StepStats) => number) => busy.reduce((sum, s) => sum + f(s), 0) / busy.length
  return {
    tokenShare: mean((s) => s.kv.tokensStored / s.kv.reservedSlots),
    sharingSaving: mean((s) => s.kv.savedBySharing / (s.kv.tokensStored + s.kv.savedBySharing)),
    meanBlocks: mean((s) => s.kv.usedBlocks),
  }
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`
const single = await measure((outputLen) => makeSamplingParams({temperature: 0, maxTokens: outputLen, ignoreEos: true}))
const parallel = await measure((outputLen) => makeSamplingParams({temperature: 1, seed: 1, n: width, maxTokens: outputLen, ignoreEos: true}))
const beam = await measure((outputLen) =>
  makeSamplingParams({useBeamSearch: true, bestOf: width, n: 1, temperature: 0, maxTokens: outputLen, ignoreEos: true}),
)
console.log(`trace ${args.trace}, ${trace.length} requests, block size 16`)
console.log('| workload | KV slots holding tokens | memory saved by sharing | mean blocks in use |\n|---|---|---|---|')
console.log(`| n = 1 | ${percent(single.tokenShare)} | - | ${single.meanBlocks.toFixed(0)} |`)
console.log(`| parallel sampling n = ${width} | ${percent(parallel.tokenShare)} | ${percent(parallel.sharingSaving)} | ${parallel.meanBlocks.toFixed(0)} |`)
console.log(`| beam search width ${width} | ${percent(beam.tokenShare)} | ${percent(beam.sharingSaving)} | ${beam.meanBlocks.toFixed(0)} |`)
