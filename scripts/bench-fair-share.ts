// What fair share (src/engine/fair-share.ts) costs and buys: one request with n = --max-num-seqs and a long output,
// then small requests arriving every few steps, with fair share on and off. Prints, per mode, the steps the small
// requests waited for their first token, the step the big one ended, the samples preempted, the tokens the model
// computed (the difference between the modes is what preempted samples ran again), and the wall time.
// Usage: npx tsx scripts/bench-fair-share.ts [--preset tiny | --model DIR] [--max-num-seqs 64] [--big-tokens 256]
//          [--small 8] [--small-tokens 16] [--every 16] [--prompt-len 64] [--no-prefix-caching]
import {performance} from 'node:perf_hooks'
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel, type TestModelPreset} from '../src/engine/model/test-model.js'
import type {RequestHandle} from '../src/engine/request-output.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const {values: args} = parseArgs({
  options: {
    preset: {type: 'string', default: 'tiny'},
    model: {type: 'string'},
    'max-num-seqs': {type: 'string', default: '64'},
    'big-tokens': {type: 'string', default: '256'},
    small: {type: 'string', default: '8'},
    'small-tokens': {type: 'string', default: '16'},
    every: {type: 'string', default: '16'},
    'prompt-len': {type: 'string', default: '64'},
    'no-prefix-caching': {type: 'boolean', default: false},
    threads: {type: 'string', default: '2'},
  },
})
const maxNumSeqs = Number(args['max-num-seqs'])
const promptLen = Number(args['prompt-len'])
const modelPath = args.model ?? (await ensureTestModel(args.preset as TestModelPreset))
const prompt = (offset: number) => Array.from({length: promptLen}, (_, i) => 3 + ((offset + i * 7) % 200))

async function run(fairShare: boolean) {
  const engine = await LLMEngine.create(
    makeEngineConfig({modelPath, device: 'cpu', threads: Number(args.threads), maxNumSeqs, fairShare, enablePrefixCaching: !args['no-prefix-caching']}),
  )
  try {
    let step = 0
    let computed = 0
    engine.onStep((stats) => {
      step++
      computed += stats.numPrefillTokens + stats.numDecodeTokens
    })
    const started = performance.now()
    const big = engine.addRequest({prompt: prompt(0), params: makeSamplingParams({n: maxNumSeqs, maxTokens: Number(args['big-tokens']), ignoreEos: true, seed: 1})})
    let bigEnd = 0
    const bigDone = big.result().then(() => (bigEnd = step))
    const waits: number[] = []
    const smalls: Promise<unknown>[] = []
    for (let k = 0; k < Number(args.small); k++) {
      const arrival = step
      while (step < arrival + Number(args.every)) await new Promise((resolve) => setTimeout(resolve, 1))
      const handle = engine.addRequest({prompt: prompt(k + 1), params: makeSamplingParams({maxTokens: Number(args['small-tokens']), ignoreEos: true, seed: k})})
      const at = step
      smalls.push(firstToken(handle).then(() => waits.push(step - at)))
      smalls.push(handle.result())
    }
    await Promise.all([bigDone, ...smalls])
    const stats = engine.stats()
    return {
      waits,
      bigEnd,
      steps: step,
      preemptions: stats.numPreemptions,
      computed,
      outputTokens: stats.generationTokens,
      wallS: (performance.now() - started) / 1000,
    }
  } finally {
    await engine.shutdown()
  }
}

async function firstToken(handle: RequestHandle): Promise<void> {
  for await (const output of handle) if (output.outputs[0]!.tokenIds.length > 0) return
}

console.log(`n=${maxNumSeqs} x ${args['big-tokens']} tokens, ${args.small} small requests x ${args['small-tokens']} tokens every ${args.every} steps, prompts ${promptLen}, prefix caching ${!args['no-prefix-caching']}`)
console.log('fair share  small wait steps (mean / max)  big ends at step  steps  samples preempted  tokens computed  output tok/s  wall s')
// The first engine of a process runs slower (first native calls, JIT): a run to warm up, not printed.
await run(false)
for (const fairShare of [false, true]) {
  const r = await run(fairShare)
  const mean = r.waits.reduce((a, b) => a + b, 0) / r.waits.length
  console.log(
    [fairShare ? 'on' : 'off', `${mean.toFixed(1)} / ${Math.max(...r.waits)}`, r.bigEnd, r.steps, r.preemptions, r.computed, (r.outputTokens / r.wallS).toFixed(1), r.wallS.toFixed(1)].join('  '),
  )
}
