// Diagnosis of engine-check's end-to-end failures: for each feature model whose end-to-end check failed (a
// `FAIL engine LABEL on ...` line of engine-check's output), CUDA's greedy runs under four settings (CUDA graphs on/off x
// GEMM auto/cublas), one request at a time, and in f16, each against (a) the CPU's greedy run (where the tokens first
// split, and CUDA's prefill scoring of the CPU's tokens: engine-check's teacher-forced error) and (b) CUDA's own prefill
// scoring of its own output (decode path vs prefill path on the same device). f16 keeps 3 more mantissa bits than bf16:
// an error that shrinks about 8x in f16 is the activations' rounding, one that stays is a bug. The first H100 run traced the windowed models'
// failures to the graphs this way (self-consistency 1.8 with graphs, 1e-6 eager).
// usage: node --import tsx scripts/gpu/engine-diag.ts ENGINE_CHECK_OUTPUT
import {readFileSync, rmSync} from 'node:fs'
import {makeEngineConfig} from '../../src/engine/config.js'
import {LLMEngine} from '../../src/engine/llm-engine.js'
import {makeSamplingParams} from '../../src/engine/sampling-params.js'
import {featureModels} from './feature-models.js'

const failed = new Set(readFileSync(process.argv[2]!, 'utf8').split('\n').flatMap((line) => /^FAIL engine (.*) on /.exec(line)?.[1] ?? []))
let state = 7
const randomInt = (n: number) => {
  state = (state * 1103515245 + 12345) % 2 ** 31
  return state % n
}
const prompts = Array.from({length: 6}, (_, i) => Array.from({length: 8 + 7 * i}, () => 1 + randomInt(400)))
const greedy = makeSamplingParams({temperature: 0, maxTokens: 24, ignoreEos: true, logprobs: 2})
const score = makeSamplingParams({temperature: 0, maxTokens: 1, ignoreEos: true, promptLogprobs: 2})
const margin = (m: Map<number, number>) => {
  const v = [...m.values()].sort((a, b) => b - a)
  return v.length > 1 ? v[0]! - v[1]! : Infinity
}

type Options = {enforceEager?: boolean; gemm?: 'auto' | 'cublas'; weightDtype?: 'f16'}
type Run = {tokens: number[][]; logprobs: Map<number, number>[][]}

/** The largest gap between a run's logprob of each of its tokens and `engine`'s prefill scoring of the same tokens. */
async function scoredError(engine: LLMEngine, of: Run): Promise<{error: number; where: string}> {
  const scored = await engine.generate(of.tokens.map((t, i) => ({prompt: [...prompts[i]!, ...t], params: score})))
  let error = 0, where = ''
  of.tokens.forEach((t, i) => t.forEach((token, p) => {
    const e = Math.abs(scored[i]!.promptLogprobs![prompts[i]!.length + p]!.get(token)! - of.logprobs[i]![p]!.get(token)!)
    if (e > error) { error = e; where = `req ${i} pos ${p}` }
  }))
  return {error, where}
}

async function run(dir: string, device: 'cpu' | 'cuda', options: Options, oneByOne = false, reference?: Run) {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: dir, device, numBlocks: 64, threads: 0, enablePrefixCaching: false, ...options}))
  try {
    const outs = []
    if (oneByOne) for (const prompt of prompts) outs.push(...await engine.generate([{prompt, params: greedy}]))
    else outs.push(...await engine.generate(prompts.map((prompt) => ({prompt, params: greedy}))))
    const own: Run = {tokens: outs.map((r) => r.outputs[0]!.tokenIds), logprobs: outs.map((r) => r.outputs[0]!.logprobs!)}
    // Decode-time vs prefill-time logprobs of the same tokens on the same device; and engine-check's teacher-forced
    // error, this device's prefill scoring of the reference's tokens.
    const self = await scoredError(engine, own)
    const forcedError = reference ? (await scoredError(engine, reference)).error : 0
    return {...own, selfError: self.error, where: self.where, forcedError}
  } finally {
    await engine.shutdown()
  }
}

const features = await featureModels()
try {
  for (const {label, dir} of features.models.filter((m) => failed.has(m.label))) {
    const cpu = await run(dir, 'cpu', {})
    console.log(`== ${label}: CPU self (decode vs prefill) ${cpu.selfError.toExponential(2)}`)
    const settings: [string, Options, boolean][] = [
      ['graphs+auto', {}, false], ['eager+auto', {enforceEager: true}, false], ['graphs+cublas', {gemm: 'cublas'}, false],
      ['eager+cublas', {enforceEager: true, gemm: 'cublas'}, false], ['one-by-one auto', {}, true],
      ['eager f16', {enforceEager: true, weightDtype: 'f16'}, false]]
    for (const [name, options, oneByOne] of settings) {
      try {
        const gpu = await run(dir, 'cuda', options, oneByOne, cpu)
        const splits = gpu.tokens.map((t, i) => {
          const s = t.findIndex((id, p) => id !== cpu.tokens[i]![p])
          return s === -1 ? '-' : `${s}(m${margin(cpu.logprobs[i]![s]!).toFixed(2)})`
        })
        console.log(`  ${name.padEnd(16)} self ${gpu.selfError.toExponential(2)} at ${gpu.where}; CPU tokens scored ${gpu.forcedError.toExponential(2)}; ` +
          `first split vs CPU per request: ${splits.join(' ')}`)
      } catch (error) {
        console.log(`  ${name}: ${(error as Error).message}`)
      }
    }
  }
} finally {
  rmSync(features.root, {recursive: true, force: true})
}
