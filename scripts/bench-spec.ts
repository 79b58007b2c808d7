// Decode throughput with speculative decoding (n-gram lookup or a draft model) vs without, side by side: the model's own
// greedy continuations of tinychat's reference prompts and "repeat this passage" prompts built from ShareGPT turns, at
// several batch sizes; acceptance rates alongside.
// Usage: npx tsx scripts/bench-spec.ts [--batches 1,8,32] [--tokens 128] [--threads 1] [--k K (default: the engine's)] [--repeats 3] [--sharegpt PATH]
//          [--method ngram|draft] [--model DIR|bench] [--draft DIR] [--draft-quantization q8_0|q4_0|q4_k] [--max-batch N]
// --max-batch sets the adaptive mode's --speculative-max-batch (default: the method's).
// --method draft drafts with --draft (a checkpoint sharing the model's tokenizer) and/or --draft-quantization (without
// --draft: the model's own weights quantized, i.e. self-speculation). --model bench is the generated bench preset.
import {existsSync, readFileSync} from 'node:fs'
import {parseArgs} from 'node:util'
import {makeEngineConfig, type EngineConfig, type Quantization} from '../src/engine/config.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {makeSpeculativeConfig} from '../src/engine/spec-decode/spec-config.js'

/** ../shared beside the checkout (a worktree one level deeper: ../../shared). */
function sharegptDefault(): string {
  const file = 'shared/datasets/sharegpt/ShareGPT_V3_sample1000_seed42.json'
  const candidates = [new URL(`../../${file}`, import.meta.url).pathname, new URL(`../../../${file}`, import.meta.url).pathname]
  return candidates.find((path) => existsSync(path)) ?? candidates[0]!
}

const {values: args} = parseArgs({
  options: {
    batches: {type: 'string', default: '1,8,32'},
    tokens: {type: 'string', default: '128'},
    threads: {type: 'string', default: '1'},
    k: {type: 'string'},
    repeats: {type: 'string', default: '3'},
    sharegpt: {type: 'string', default: sharegptDefault()},
    method: {type: 'string', default: 'ngram'},
    model: {type: 'string', default: BUILTIN_MODEL_DIR},
    draft: {type: 'string'},
    'draft-quantization': {type: 'string'},
    'max-batch': {type: 'string'},
  },
})
const modelPath = args.model === 'bench' ? await ensureTestModel('bench') : args.model
const method = args.method
const batches = args.batches.split(',').map(Number)
const maxTokens = Number(args.tokens)

/** tinychat's reference prompts (its greedy continuations repeat themselves: the case n-gram lookup is for). */
function tinychatPrompts(): number[][] {
  const reference = JSON.parse(readFileSync(`${BUILTIN_MODEL_DIR}/reference.json`, 'utf8')) as {prompts: Array<{prompt_token_ids: number[]}>}
  return reference.prompts.map((entry) => entry.prompt_token_ids)
}

/** Input-grounded prompts: ShareGPT first turns of 200-800 characters, to be repeated. */
function rewritePrompts(): string[] {
  if (!existsSync(args.sharegpt)) return []
  const conversations = JSON.parse(readFileSync(args.sharegpt, 'utf8')) as Array<{conversations: Array<{from: string; value: string}>}>
  return conversations
    .map((conversation) => conversation.conversations[0])
    .filter((turn) => turn?.from === 'human' && turn.value.length >= 200 && turn.value.length <= 800)
    .slice(0, 64)
    .map((turn) => `Repeat the following passage exactly.\n\n${turn!.value}\n\nThe passage, repeated:\n${turn!.value.slice(0, 40)}`)
}

interface Mode {
  label: string
  speculative?: EngineConfig['speculative']
}
const methodOptions = method === 'draft' ? {method, draftModel: args.draft, draftQuantization: args['draft-quantization'] as Quantization | undefined} : {method}
/** --k, or the method's default K (undefined leaves it to makeSpeculativeConfig). */
const numSpeculativeTokens = args.k === undefined ? undefined : Number(args.k)
const maxBatchSize = args['max-batch'] === undefined ? undefined : Number(args['max-batch'])
const modes: Mode[] = [
  {label: 'off'},
  {label: `${method} always`, speculative: makeSpeculativeConfig({...methodOptions, numSpeculativeTokens, adaptive: false})},
  {label: `${method} adaptive`, speculative: makeSpeculativeConfig({...methodOptions, numSpeculativeTokens, maxBatchSize})},
]

async function measure(mode: Mode, prompts: Array<number[] | string>, batch: number) {
  const engine = await LLMEngine.create(
    makeEngineConfig({modelPath, device: 'cpu', threads: Number(args.threads), kvMemoryBytes: 256 << 20, speculative: mode.speculative}),
  )
  try {
    const params = makeSamplingParams({temperature: 0, maxTokens, ignoreEos: true})
    // Warm-up: first-touch costs out of the figures.
    await engine.generate([{prompt: prompts[0]!, params: makeSamplingParams({temperature: 0, maxTokens: 8})}])
    const before = engine.stats()
    const started = performance.now()
    const cpuBefore = process.cpuUsage()
    // `batch` requests at a time; each wave starts when the previous one has finished.
    const rounds = batch === 1 ? Math.min(6, prompts.length) : 1
    let tokens = 0
    for (let round = 0; round < rounds; round++) {
      const wave = Array.from({length: batch}, (_, i) => ({prompt: prompts[(round * batch + i) % prompts.length]!, params}))
      const outputs = await engine.generate(wave)
      tokens += outputs.reduce((sum, output) => sum + output.outputs[0]!.tokenIds.length, 0)
    }
    const seconds = (performance.now() - started) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    const cpuSeconds = (cpu.user + cpu.system) / 1e6
    const after = engine.stats()
    const proposed = after.specDecode.numDraftTokens - before.specDecode.numDraftTokens
    const accepted = after.specDecode.numAcceptedTokens - before.specDecode.numAcceptedTokens
    return {tokensPerSecond: tokens / seconds, tokensPerCpuSecond: tokens / cpuSeconds, proposed, accepted, steps: after.numSteps - before.numSteps}
  } finally {
    await engine.shutdown()
  }
}

const workloads: Array<[string, Array<number[] | string>]> = [['own greedy', tinychatPrompts()]]
const rewrites = rewritePrompts()
if (rewrites.length > 0) workloads.push(['repeat passage (ShareGPT)', rewrites])
else console.log(`(no ShareGPT file at ${args.sharegpt}: the passage workload is skipped)`)

const draftLabel = method === 'draft' ? `, draft ${args.draft ?? 'the model itself'}${args['draft-quantization'] ? ` in ${args['draft-quantization']}` : ''}` : ''
console.log(`${args.model === BUILTIN_MODEL_DIR ? 'tinychat' : args.model}, greedy, ${maxTokens} new tokens per request, ${method} K = ${modes[2]!.speculative!.numSpeculativeTokens}${draftLabel}, adaptive max batch ${modes[2]!.speculative!.maxBatchSize}, threads ${args.threads}, best of ${args.repeats} interleaved runs`)
console.log('tok/s: output tokens per wall second (prefill included); tok/cpu-s: per second of this process\'s CPU time (steadier on a shared machine)')
console.log('workload                     batch  mode             tok/s  speedup  tok/cpu-s  speedup  accepted/proposed  steps')
for (const [name, prompts] of workloads) {
  for (const batch of batches) {
    const best = new Map<Mode, Awaited<ReturnType<typeof measure>>>()
    for (let repeat = 0; repeat < Number(args.repeats); repeat++) {
      for (const mode of modes) {
        const result = await measure(mode, prompts, batch)
        const previous = best.get(mode)
        best.set(mode, {
          ...result,
          tokensPerSecond: Math.max(result.tokensPerSecond, previous?.tokensPerSecond ?? 0),
          tokensPerCpuSecond: Math.max(result.tokensPerCpuSecond, previous?.tokensPerCpuSecond ?? 0),
        })
      }
    }
    const baseline = best.get(modes[0]!)!
    for (const mode of modes) {
      const result = best.get(mode)!
      const rate = result.proposed === 0 ? '-' : `${result.accepted}/${result.proposed} (${((100 * result.accepted) / result.proposed).toFixed(0)}%)`
      console.log(
        `${name.padEnd(28)} ${String(batch).padStart(5)}  ${mode.label.padEnd(15)} ${result.tokensPerSecond.toFixed(0).padStart(6)}  ${(result.tokensPerSecond / baseline.tokensPerSecond).toFixed(2).padStart(6)}x ` +
          `${result.tokensPerCpuSecond.toFixed(0).padStart(9)}  ${(result.tokensPerCpuSecond / baseline.tokensPerCpuSecond).toFixed(2).padStart(6)}x  ${rate.padStart(17)}  ${String(result.steps).padStart(5)}`,
      )
    }
  }
}
