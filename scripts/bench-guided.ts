// Guided decoding costs: xgrammar mask + accept per token at 32k/152k vocabularies, grammar compile time, and decode
// throughput with and without a JSON-schema constraint (batch 1 and 32) on the generated 'small' test model.
// Usage: npx tsx scripts/bench-guided.ts [--steps 300] [--tokens 32]
import {performance} from 'node:perf_hooks'
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import {maskRowInto} from '../src/engine/guided/token-mask.js'
import {xgrammar} from '../src/engine/guided/xgrammar.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import {makeRng} from '../src/engine/random.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'

const {values} = parseArgs({options: {steps: {type: 'string', default: '300'}, tokens: {type: 'string', default: '32'}}})
const STEPS = Number(values.steps)
const DECODE_TOKENS = Number(values.tokens)

const SCHEMA = {
  type: 'object',
  properties: {
    name: {type: 'string', maxLength: 12},
    age: {type: 'integer', minimum: 0, maximum: 120},
    tags: {type: 'array', items: {enum: ['a', 'b', 'c']}, maxItems: 4},
    address: {type: 'object', properties: {city: {type: 'string'}, zip: {type: 'string', pattern: '^[0-9]{5}$'}}, required: ['city', 'zip']},
  },
  required: ['name', 'age', 'tags', 'address'],
}

/** A byte-level vocabulary of `size` tokens: the 256 byte symbols, then random 2-8 character strings of JSON-ish text. */
function syntheticVocab(size: number): string[] {
  const random = makeRng(size, 0)
  const vocab: string[] = []
  for (let b = 0; b < 256; b++) vocab.push(String.fromCodePoint(b >= 0x21 && b <= 0x7e ? b : 0x100 + b))
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789{}[]":,Ġ'
  const seen = new Set(vocab)
  while (vocab.length < size) {
    const length = 2 + Math.floor(random.nextFloat() * 7)
    let token = ''
    for (let i = 0; i < length; i++) token += alphabet[Math.floor(random.nextFloat() * alphabet.length)]
    if (!seen.has(token)) seen.add(token), vocab.push(token)
  }
  return vocab
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
const us = (ms: number) => `${(ms * 1000).toFixed(1)} us`

async function maskCost(vocabSize: number): Promise<void> {
  const xg = xgrammar()
  const eos = 2
  let t = performance.now()
  const info = await xg.TokenizerInfo.createTokenizerInfo(syntheticVocab(vocabSize), 'byte_level', false, vocabSize, [eos])
  const infoMs = performance.now() - t
  const compiler = await xg.GrammarCompiler.createGrammarCompiler(info)
  t = performance.now()
  const compiled = await compiler.compileJSONSchema(JSON.stringify(SCHEMA), false, -1, [',', ':'])
  const compileMs = performance.now() - t
  t = performance.now()
  await compiler.compileJSONSchema(JSON.stringify(SCHEMA), false, -1, [',', ':'])
  const cachedMs = performance.now() - t

  // A random walk through the grammar: each step = mask, apply it to a logits row, pick an allowed token, accept it.
  const random = makeRng(1, 0)
  const row = new Float32Array(vocabSize).map(() => random.nextFloat())
  const masked = new Float32Array(vocabSize)
  const maskTimes: number[] = []
  const maskCpu: number[] = []
  const applyTimes: number[] = []
  const acceptTimes: number[] = []
  let matcher = await xg.GrammarMatcher.createGrammarMatcher(compiled, [eos])
  for (let step = 0; step < STEPS; step++) {
    // CPU time as well as wall time: on a shared, loaded machine the wall clock also counts time spent descheduled.
    const cpuStart = process.cpuUsage()
    let start = performance.now()
    const mask = await matcher.getNextTokenBitmask()
    maskTimes.push(performance.now() - start)
    const cpu = process.cpuUsage(cpuStart)
    maskCpu.push((cpu.user + cpu.system) / 1000)
    start = performance.now()
    maskRowInto(row, mask, masked)
    applyTimes.push(performance.now() - start)
    const allowed: number[] = []
    for (let id = 0; id < vocabSize; id++) if (mask[id >>> 5]! & (1 << (id & 31))) allowed.push(id)
    // Prefer ending tokens rarely so walks cover long outputs; restart when the grammar ends.
    const choice = allowed[Math.floor(random.nextFloat() * allowed.length)]!
    start = performance.now()
    matcher.acceptToken(choice)
    acceptTimes.push(performance.now() - start)
    if (matcher.isTerminated()) {
      matcher.dispose()
      matcher = await xg.GrammarMatcher.createGrammarMatcher(compiled, [eos])
    }
  }
  const report = (name: string, times: number[]) => {
    const sorted = [...times].sort((a, b) => a - b)
    const mean = times.reduce((a, b) => a + b, 0) / times.length
    return `${name} mean ${us(mean)} p50 ${us(percentile(sorted, 0.5))} p99 ${us(percentile(sorted, 0.99))}`
  }
  console.log(`vocab ${vocabSize}: tokenizer tables ${infoMs.toFixed(0)} ms, schema compile ${compileMs.toFixed(1)} ms (cached ${cachedMs.toFixed(2)} ms)`)
  console.log(`  ${report('mask', maskTimes)} | ${report('mask cpu', maskCpu)}`)
  console.log(`  ${report('apply', applyTimes)} | ${report('accept', acceptTimes)}`)
}

async function decodeThroughput(): Promise<void> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('small'), kvMemoryBytes: 512 << 20}))
  try {
    const guided = {kind: 'json' as const, schema: SCHEMA, anyWhitespace: true, param: 'bench'}
    for (const batch of [1, 32]) {
      // Interleaved (plain, guided, plain, guided) so drift in machine load hits both alike.
      const rates = {plain: [] as number[], guided: [] as number[]}
      // CPU ms per token (engine threads and grammar worker included): steadier than wall time under load.
      const cpuPerToken = {plain: [] as number[], guided: [] as number[]}
      for (const constrained of [false, true, false, true]) {
        const params = makeSamplingParams({maxTokens: DECODE_TOKENS, temperature: 1, ignoreEos: true, guided: constrained ? guided : null})
        await engine.generate([{prompt: 'warm up', params: {...params, maxTokens: 2}}])
        const prompts = Array.from({length: batch}, (_, i) => ({prompt: `Request ${i}: describe a person as JSON.`, params}))
        const start = performance.now()
        const cpuStart = process.cpuUsage()
        const results = await engine.generate(prompts)
        const seconds = (performance.now() - start) / 1000
        const cpu = process.cpuUsage(cpuStart)
        const tokens = results.reduce((sum, r) => sum + r.outputs[0]!.tokenIds.length, 0)
        rates[constrained ? 'guided' : 'plain'].push(tokens / seconds)
        cpuPerToken[constrained ? 'guided' : 'plain'].push((cpu.user + cpu.system) / 1000 / tokens)
      }
      const show = (list: number[]) => list.map((rate) => rate.toFixed(1)).join(', ')
      console.log(`decode batch ${batch} (${DECODE_TOKENS} tokens each): unconstrained ${show(rates.plain)} tok/s | json-schema ${show(rates.guided)} tok/s`)
      const showMs = (list: number[]) => list.map((ms) => ms.toFixed(2)).join(", ")
      console.log(`  cpu ms/token: unconstrained ${showMs(cpuPerToken.plain)} | json-schema ${showMs(cpuPerToken.guided)}`)
    }
  } finally {
    await engine.shutdown()
  }
}

await maskCost(32000)
await maskCost(152064)
await decodeThroughput()
