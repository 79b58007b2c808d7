// Guided decoding costs: per-sequence mask cost (with its UTF-8 ban apart) on real vocabularies over the schema corpus, the grammar workers'
// round trip against their own time, and decode throughput with and without a JSON-schema constraint (batch 1, 32).
// Usage: npx tsx scripts/bench-guided.ts [--vocab llama,gpt2,neox,152k] [--steps 48] [--tokens 32] [--skip-decode]
//   [--tokenizers ../shared/tokenizers]. Vocabularies come from the shared GGUF vocabularies; "152k" is GPT-2's extended with pairs of its tokens (synthetic).
import {performance} from 'node:perf_hooks'
import {parseArgs} from 'node:util'
import {makeEngineConfig} from '../src/engine/config.js'
import {GrammarCompiler, vocabInfoOf, type VocabInfo} from '../src/engine/guided/grammar-compiler.js'
import {GrammarService} from '../src/engine/guided/grammar-service.js'
import {grammarRefOf, guidedKey, type GuidedSpec} from '../src/engine/guided/guided-spec.js'
import {Utf8Bound} from '../src/engine/guided/utf8-bound.js'
import {WhitespaceBound} from '../src/engine/guided/whitespace-bound.js'
import {LLMEngine} from '../src/engine/llm-engine.js'
import {readGguf} from '../src/engine/model/gguf-file.js'
import {tokenizerFromGguf} from '../src/engine/model/gguf-tokenizer.js'
import {ensureTestModel} from '../src/engine/model/test-model.js'
import type {Tokenizer} from '../src/engine/model/tokenizer.js'
import {makeRng, type Rng} from '../src/engine/random.js'
import {makeSamplingParams} from '../src/engine/sampling-params.js'
import {JSON_SCHEMA_CORPUS} from '../test/support/json-schema-corpus.js'

const {values} = parseArgs({
  options: {
    vocab: {type: 'string', default: 'llama,gpt2,152k'},
    steps: {type: 'string', default: '48'},
    tokens: {type: 'string', default: '32'},
    'skip-decode': {type: 'boolean', default: false},
    tokenizers: {type: 'string', default: '../shared/tokenizers'},
  },
})
const STEPS = Number(values.steps)
const DECODE_TOKENS = Number(values.tokens)
const TOKENIZERS = values.tokenizers

type VocabSource = {name: string; tokenizer: Pick<Tokenizer, 'idToToken' | 'decoderKind' | 'specialTokenIds'>; size: number; eos: number}

function ggufVocab(name: string, file: string): VocabSource {
  const metadata = readGguf(`${TOKENIZERS}/${file}`, {metadataOnly: true}).metadata
  const tokenizer = tokenizerFromGguf(metadata)
  const tokens = metadata.get('tokenizer.ggml.tokens') as string[]
  return {name, tokenizer, size: tokens.length, eos: Number(metadata.get('tokenizer.ggml.eos_token_id') ?? 0)}
}

/** GPT-2's byte-level vocabulary grown to Qwen2's 152,064 with concatenations of random pairs of its tokens. */
function extended152k(): VocabSource {
  const base = ggufVocab('gpt2', 'ggml-vocab-gpt-2.gguf')
  const tokens: string[] = []
  for (let id = 0; id < base.size; id++) tokens.push(base.tokenizer.idToToken(id) ?? '')
  const seen = new Set(tokens)
  const random = makeRng(152064, 0)
  while (tokens.length < 152064) {
    const pair = tokens[Math.floor(random.nextFloat() * base.size)]! + tokens[Math.floor(random.nextFloat() * base.size)]!
    if (!seen.has(pair)) seen.add(pair), tokens.push(pair)
  }
  return {name: '152k (GPT-2 + pairs)', tokenizer: {idToToken: (id) => tokens[id], decoderKind: base.tokenizer.decoderKind, specialTokenIds: base.tokenizer.specialTokenIds}, size: tokens.length, eos: base.eos}
}

const SOURCES: Record<string, () => VocabSource> = {
  llama: () => ggufVocab('llama-2 32k (sentencepiece)', 'ggml-vocab-llama-spm.gguf'),
  gpt2: () => ggufVocab('gpt-2 50k (BPE)', 'ggml-vocab-gpt-2.gguf'),
  neox: () => ggufVocab('gpt-neox 50k (BPE)', 'ggml-vocab-gpt-neox.gguf'),
  '152k': extended152k,
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
function summary(times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b)
  const mean = times.reduce((a, b) => a + b, 0) / times.length
  const us = (ms: number) => (ms * 1000).toFixed(1)
  return `p50 ${us(percentile(sorted, 0.5))} p90 ${us(percentile(sorted, 0.9))} p99 ${us(percentile(sorted, 0.99))} mean ${us(mean)} us`
}

const specsOf = (anyWhitespace: boolean): GuidedSpec[] =>
  JSON_SCHEMA_CORPUS.map((schema, i) => ({kind: 'json', schema, anyWhitespace, param: `corpus[${i}]`}))

/** A random allowed token (the random walk a random-weight model takes). */
function pick(mask: Int32Array, random: Rng): number {
  const allowed: number[] = []
  for (let w = 0; w < mask.length; w++) for (let bits = mask[w]!; bits !== 0; bits &= bits - 1) allowed.push((w << 5) + 31 - Math.clz32(bits & -bits))
  return allowed[Math.floor(random.nextFloat() * allowed.length)]!
}

/** xgrammar in this thread, as the worker runs it: mask (+ whitespace and UTF-8 bounds) and accept per sequence per step. */
async function inProcessCost(compiler: GrammarCompiler, info: VocabInfo, anyWhitespace: boolean): Promise<void> {
  const vocabSize = info.vocab.length
  let start = performance.now()
  const texts = await compiler.decodedVocab()
  const tablesMs = performance.now() - start
  const bound = new WhitespaceBound(texts, vocabSize, 16)
  start = performance.now()
  const utf8Bound = new Utf8Bound(info.vocab, info.vocabType)
  const utf8TablesMs = performance.now() - start
  const utf8Ban: number[] = []
  const compileMs: number[] = []
  const mask: number[] = []
  const maskCpu: number[] = []
  const accept: number[] = []
  const slowest: Array<{ms: number; where: string}> = []
  const random = makeRng(1, 0)
  for (const [index, spec] of specsOf(anyWhitespace).entries()) {
    start = performance.now()
    await compiler.compile(spec)
    compileMs.push(performance.now() - start)
    let matcher = await compiler.newMatcher(guidedKey(spec))
    let run = anyWhitespace ? bound.start() : null
    let utf8 = utf8Bound.start()
    let text = ''
    for (let step = 0; step < STEPS; step++) {
      const cpuStart = process.cpuUsage()
      start = performance.now()
      const bits = await matcher.getNextTokenBitmask()
      run?.applyTo(bits)
      const banStart = performance.now()
      utf8.applyTo(bits)
      utf8Ban.push(performance.now() - banStart)
      const ms = performance.now() - start
      const cpu = process.cpuUsage(cpuStart)
      mask.push(ms)
      maskCpu.push((cpu.user + cpu.system) / 1000)
      slowest.push({ms, where: `corpus[${index}] after ${JSON.stringify(text.slice(-24))}`})
      const tokenId = pick(bits, random)
      start = performance.now()
      matcher.acceptToken(tokenId)
      run?.accept(tokenId)
      utf8.accept(tokenId)
      accept.push(performance.now() - start)
      text += texts[tokenId]
      if (matcher.isTerminated()) {
        matcher.dispose()
        matcher = await compiler.newMatcher(guidedKey(spec))
        run = anyWhitespace ? bound.start() : null
        utf8 = utf8Bound.start()
        text = ''
      }
    }
    matcher.dispose()
  }
  const sortedCompile = [...compileMs].sort((a, b) => a - b)
  console.log(`  ${anyWhitespace ? 'any whitespace' : 'compact'}: ${mask.length} steps over ${compileMs.length} schemas (vocabulary tables ${tablesMs.toFixed(0)} ms, built in the first mode)`)
  console.log(`    mask, wall: ${summary(mask)}`)
  console.log(`    mask, CPU:  ${summary(maskCpu)}`)
  console.log(`    accept:     ${summary(accept)}`)
  console.log(`    of the mask, the UTF-8 ban: ${summary(utf8Ban)} (its tables ${utf8TablesMs.toFixed(0)} ms)`)
  console.log(`    compile per schema: p50 ${percentile(sortedCompile, 0.5).toFixed(1)} ms, max ${sortedCompile.at(-1)!.toFixed(1)} ms`)
  const top = slowest.sort((a, b) => b.ms - a.ms).slice(0, 3)
  console.log(`    slowest (wall): ${top.map(({ms, where}) => `${(ms * 1000).toFixed(0)} us ${where}`).join('; ')}`)
}

/** The engine's path: one GrammarService step for a batch; wall against the workers' own time is our overhead. */
async function workerRoundTrip(source: VocabSource, batch: number): Promise<void> {
  const service = new GrammarService({tokenizer: source.tokenizer, vocabSize: source.size, eosTokenIds: [source.eos]})
  try {
    const specs = specsOf(true).slice(0, batch)
    for (const spec of specs) await service.compile(spec)
    const random = makeRng(2, 0)
    const wall: number[] = []
    const overhead: number[] = []
    let accepts: number[][] = specs.map(() => [])
    const matcherIds = specs.map((_, i) => i)
    for (let step = 0; step < STEPS; step++) {
      const start = performance.now()
      const masks = await service.step(specs.map((spec, i) => ({matcherId: matcherIds[i]!, grammar: grammarRefOf(spec), accept: accepts[i]!})))
      const ms = performance.now() - start
      wall.push(ms / batch)
      overhead.push((ms - service.lastStepBusyMs) / batch)
      accepts = masks.map((mask, i) => {
        const tokenId = mask ? pick(mask, random) : source.eos
        // A grammar that ended starts again as a new sequence.
        if (tokenId === source.eos) service.forget([matcherIds[i]!]), (matcherIds[i]! += 1000)
        return tokenId === source.eos ? [] : [tokenId]
      })
    }
    console.log(`  worker step, batch ${batch}, per sequence: wall ${summary(wall)}; outside the worker (messages, scheduling): ${summary(overhead)}`)
  } finally {
    await service.close()
  }
}

async function decodeThroughput(): Promise<void> {
  const engine = await LLMEngine.create(makeEngineConfig({modelPath: await ensureTestModel('small'), kvMemoryBytes: 512 << 20}))
  try {
    const guided: GuidedSpec = {kind: 'json', schema: JSON_SCHEMA_CORPUS[40]!, anyWhitespace: true, param: 'bench'}
    for (const batch of [1, 32]) {
      // Interleaved (plain, guided, plain, guided) so drift in machine load hits both alike.
      const rates = {plain: [] as number[], guided: [] as number[]}
      // CPU ms per token (engine threads and grammar workers included): steadier than wall time under load.
      const cpuPerToken = {plain: [] as number[], guided: [] as number[]}
      for (const constrained of [false, true, false, true]) {
        const params = makeSamplingParams({maxTokens: DECODE_TOKENS, temperature: 1, ignoreEos: true, guided: constrained ? guided : null})
        if (constrained) await engine.prepareRequest(params)
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
      const show = (list: number[], digits: number) => list.map((value) => value.toFixed(digits)).join(', ')
      console.log(`decode batch ${batch} (${DECODE_TOKENS} tokens each): unconstrained ${show(rates.plain, 1)} tok/s | json-schema ${show(rates.guided, 1)} tok/s`)
      console.log(`  CPU ms/token: unconstrained ${show(cpuPerToken.plain, 2)} | json-schema ${show(cpuPerToken.guided, 2)}`)
    }
  } finally {
    await engine.shutdown()
  }
}

for (const name of values.vocab.split(',')) {
  const source = SOURCES[name]?.()
  if (!source) throw new Error(`unknown vocabulary ${name}; choose from ${Object.keys(SOURCES).join(', ')}`)
  const info = vocabInfoOf(source.tokenizer, source.size, [source.eos])
  console.log(`vocabulary ${source.name}: ${source.size} tokens`)
  // One xgrammar instance for both modes: WebAssembly memory never shrinks, and a 152k vocabulary's tables are large.
  const compiler = new GrammarCompiler(info)
  for (const anyWhitespace of [true, false]) await inProcessCost(compiler, info, anyWhitespace)
  for (const batch of [1, 32]) await workerRoundTrip(source, batch)
}
if (!values['skip-decode']) await decodeThroughput()
