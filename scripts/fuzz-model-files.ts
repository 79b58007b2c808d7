// Fuzzes model loading with hostile model directories (config, safetensors, shard index, tokenizer and template files) made from test checkpoints.
// Usage: node --import tsx scripts/fuzz-model-files.ts [--seconds 120] [--variants llama,qwen3,... | all] [--match pytorch_model.bin] [--seed 1] [--engine] [--keep]; the mutations: fuzz-model-mutations.ts, fuzz-tokenizer-mutations.ts
// GGUF mode: --gguf [--families gemma4,kimi-linear,...] [--per-family 60]: each family's GGUF file (fuzz-gguf-families.ts)
// with one metadata key or tensor made hostile (fuzz-gguf-mutations.ts), a seeded sample of --per-family cases of each.
// Each case is a directory of symlinks to a test model with one file mutated. A child process loads the cases in turn
// (loadModel; with --engine also the native engine and 2 generated tokens); the parent kills it on a case that runs
// over 20 s or 3 GB and starts a new child at the next case. Findings: anything but a one-line ModelLoadError or a
// clean load (other errors, multi-line messages, hangs, crashes, memory blow-ups); clean loads of hostile values are
// listed too, to be read by a person (a silently wrong model). Not part of `npm test`; bounded by --seconds.
import {fork} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {SeededRandom} from '../src/engine/model/seeded-random.js'
import {ensureTestModel, TEST_MODEL_VARIANTS, type TestModelVariant} from '../src/engine/model/test-model.js'
import {ggufBytes} from '../test/support/gguf-file.js'
import {ggufFamilyFiles, GGUF_FAMILIES} from './fuzz-gguf-families.js'
import {ggufCases} from './fuzz-gguf-mutations.js'
import {hostileCases, type HostileCase} from './fuzz-model-mutations.js'

const {values: options} = parseArgs({
  options: {
    seconds: {type: 'string', default: '120'},
    variants: {type: 'string', default: 'llama,qwen2,qwen3,gemma2,gemma3,phi3,mistral,mixtral,qwen2moe,opt,gpt-neox,gpt2'},
    seed: {type: 'string', default: '1'},
    match: {type: 'string', default: ''},
    engine: {type: 'boolean', default: false},
    gguf: {type: 'boolean', default: false},
    families: {type: 'string', default: Object.keys(GGUF_FAMILIES).join(',')},
    'per-family': {type: 'string', default: '60'},
    keep: {type: 'boolean', default: false},
    child: {type: 'string'},
  },
})

interface CaseResult {
  id: number
  outcome: 'load-error' | 'loaded' | 'ran' | 'other-error' | 'engine-error' | 'timeout' | 'crash'
  message: string
}

const CASE_TIMEOUT_MS = 20_000
const CHILD_RSS_LIMIT = 3 * 2 ** 30

if (options.child !== undefined) await runChild(options.child)
else await runParent()

async function runParent(): Promise<void> {
  const deadline = Date.now() + Number(options.seconds) * 1000
  const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-fuzz-model-'))
  const random = new SeededRandom(Number(options.seed))
  const cases: {dir: string; label: string}[] = []
  if (options.gguf) await writeGgufCases(scratch, random, cases)
  else {
    const variants = options.variants === 'all' ? TEST_MODEL_VARIANTS : (options.variants!.split(',') as TestModelVariant[])
    for (const variant of variants) {
      const base = await ensureTestModel('tiny', {variant})
      for (const hostile of hostileCases(base, variant, random).filter((c) => c.label.includes(options.match!))) cases.push({dir: writeCase(scratch, base, cases.length, hostile), label: `${variant}: ${hostile.label}`})
    }
  }
  // Shuffled so a short run still samples every class; the seed makes a run repeatable.
  const order = shuffle(cases.map((_, i) => i), random)
  const listPath = join(scratch, 'cases.json')
  writeFileSync(listPath, JSON.stringify(order.map((i) => ({id: i, dir: cases[i]!.dir}))))
  console.log(`${cases.length} cases over ${options.gguf ? options.families : options.variants}; running for at most ${options.seconds} s (load ${loadavg().map((l) => l.toFixed(2)).join(' ')})`)

  const results: CaseResult[] = []
  let next = 0
  while (next < order.length && Date.now() < deadline) {
    const done = await runChildFrom(listPath, next, deadline, (result) => results.push(result))
    next = done
  }
  report(results, cases)
  if (options.keep) console.log(`cases kept in ${scratch}`)
  else rmSync(scratch, {recursive: true, force: true})
}

/** Runs one child from case index `start`; returns the index to resume at (past a case that hung or crashed it). */
function runChildFrom(listPath: string, start: number, deadline: number, record: (result: CaseResult) => void): Promise<number> {
  const list = JSON.parse(readFileSync(listPath, 'utf8')) as {id: number; dir: string}[]
  const child = fork(fileURLToPath(import.meta.url), ['--child', listPath, ...(options.engine ? ['--engine'] : [])], {
    execArgv: ['--import', 'tsx', '--max-old-space-size=2048'],
    env: {...process.env, PAGEDLLM_FUZZ_START: String(start)},
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  let current = start
  let caseStarted = Date.now()
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)))
  createInterface({input: child.stdout!}).on('line', () => {})
  child.on('message', (message: {start?: number; result?: CaseResult; rss?: number}) => {
    if (message.start !== undefined) {
      current = message.start
      caseStarted = Date.now()
      stderr = ''
    }
    if (message.result) record(message.result)
  })
  return new Promise((resolvePromise) => {
    const watchdog = setInterval(() => {
      const overTime = Date.now() - caseStarted > CASE_TIMEOUT_MS
      if (overTime || Date.now() > deadline + CASE_TIMEOUT_MS) {
        record({id: list[current]!.id, outcome: 'timeout', message: `over ${CASE_TIMEOUT_MS / 1000} s`})
        child.kill('SIGKILL')
      }
    }, 250)
    // The channel closes when the child exits or is killed between two polls: a query then is not an error.
    const memoryWatch = setInterval(() => child.connected && child.send({rssQuery: true}, () => {}), 1000)
    child.on('message', (message: {rss?: number}) => {
      if (message.rss !== undefined && message.rss > CHILD_RSS_LIMIT) {
        record({id: list[current]!.id, outcome: 'crash', message: `RSS ${Math.round(message.rss / 2 ** 20)} MB`})
        child.kill('SIGKILL')
      }
    })
    child.on('exit', (code, signal) => {
      clearInterval(watchdog)
      clearInterval(memoryWatch)
      if (code === 0) return resolvePromise(list.length)
      if (signal !== 'SIGKILL') record({id: list[current]!.id, outcome: 'crash', message: `exit ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`})
      resolvePromise(current + 1)
    })
  })
}

async function runChild(listPath: string): Promise<void> {
  const {loadModel} = await import('../src/engine/model/load-model.js')
  const {ModelLoadError, PagedLLMError, InvalidRequestError} = await import('../src/engine/errors.js')
  const list = JSON.parse(readFileSync(listPath, 'utf8')) as {id: number; dir: string}[]
  process.on('message', (message: {rssQuery?: boolean}) => {
    if (message.rssQuery) process.send!({rss: process.memoryUsage().rss})
  })
  const deadlineCheck = () => new Promise((r) => setImmediate(r))
  for (let index = Number(process.env.PAGEDLLM_FUZZ_START ?? 0); index < list.length; index++) {
    const {id, dir} = list[index]!
    process.send!({start: index})
    await deadlineCheck()
    let result: CaseResult
    try {
      const model = await loadModel(dir)
      result = {id, outcome: 'loaded', message: renderChat(model.tokenizer, InvalidRequestError)}
      if (options.engine) result = await runEngine(id, dir, PagedLLMError)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      result = {id, outcome: error instanceof ModelLoadError ? 'load-error' : 'other-error', message: error instanceof ModelLoadError ? message : `${(error as Error)?.name}: ${message}\n${(error as Error)?.stack ?? ''}`}
    }
    process.send!({result})
  }
  process.disconnect()
}

/** A chat rendered with the model's template: its length, or the 400 it gives (anything else is thrown: a finding). */
function renderChat(tokenizer: {hasChatTemplate: boolean; applyChatTemplate: (m: {role: string; content: string}[]) => string}, InvalidRequestError: new (...args: never[]) => Error): string {
  if (!tokenizer.hasChatTemplate) return 'no template'
  try {
    return `template renders ${tokenizer.applyChatTemplate([{role: 'user', content: 'hi'}]).length} chars`
  } catch (error) {
    if (error instanceof InvalidRequestError) return `template 400: ${error.message.slice(0, 150)}`
    throw error
  }
}

/** The native engine over the loaded checkpoint: weights to the backend, a KV pool, two greedy tokens. */
async function runEngine(id: number, dir: string, PagedLLMError: new (...args: never[]) => Error): Promise<CaseResult> {
  const {LLMEngine} = await import('../src/engine/llm-engine.js')
  const {makeEngineConfig} = await import('../src/engine/config.js')
  const {makeSamplingParams} = await import('../src/engine/sampling-params.js')
  try {
    const engine = await LLMEngine.create(makeEngineConfig({modelPath: dir, device: 'cpu', threads: 1, numBlocks: 16}))
    try {
      const [output] = await engine.generate([{prompt: 'hello world', params: makeSamplingParams({maxTokens: 2, temperature: 0})}])
      return {id, outcome: 'ran', message: JSON.stringify(output!.outputs[0]!.text)}
    } finally {
      await engine.shutdown()
    }
  } catch (error) {
    const known = error instanceof PagedLLMError
    return {id, outcome: known ? 'engine-error' : 'other-error', message: `${(error as Error).name}: ${(error as Error).message}${known ? '' : `\n${(error as Error).stack}`}`}
  }
}

/** Each family's GGUF cases (matching --match), a seeded sample of --per-family of them, each written as its own file. */
async function writeGgufCases(scratch: string, random: SeededRandom, cases: {dir: string; label: string}[]): Promise<void> {
  for (const file of await ggufFamilyFiles(options.families!.split(','))) {
    const all = ggufCases(file).filter((c) => c.label.includes(options.match!))
    const sample = shuffle(all.map((_, i) => i), random).slice(0, Number(options['per-family']))
    for (const index of sample) {
      const path = join(scratch, `case-${cases.length}.gguf`)
      writeFileSync(path, ggufBytes(all[index]!.metadata, {tensors: all[index]!.tensors}))
      cases.push({dir: path, label: `${file.name}: ${all[index]!.label}`})
    }
  }
}

/** A case directory: symlinks to every file of `base` except the ones the case writes. */
function writeCase(scratch: string, base: string, index: number, hostile: HostileCase): string {
  const dir = join(scratch, `case-${index}`)
  mkdirSync(dir)
  const written = new Set(Object.keys(hostile.files).map((file) => file.split('/')[0]))
  for (const file of readdirSync(base)) if (!written.has(file)) symlinkSync(resolve(base, file), join(dir, file))
  for (const [file, content] of Object.entries(hostile.files)) {
    if (content === null) continue // the case deletes the file
    if (file.includes('/')) mkdirSync(join(dir, file, '..'), {recursive: true})
    writeFileSync(join(dir, file), content)
  }
  return dir
}

function shuffle(values: number[], random: SeededRandom): number[] {
  for (let i = values.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1)
    ;[values[i], values[j]] = [values[j]!, values[i]!]
  }
  return values
}

function report(results: CaseResult[], cases: {label: string}[]): void {
  const counts = new Map<string, number>()
  for (const result of results) counts.set(result.outcome, (counts.get(result.outcome) ?? 0) + 1)
  console.log(`ran ${results.length} of ${cases.length} cases: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}`)
  // Longer than 1000 characters: a hostile value echoed (the supported GGUF architectures' list alone is ~700).
  const findings = results.filter((r) => ['other-error', 'timeout', 'crash'].includes(r.outcome) || (r.outcome === 'load-error' && (r.message.includes('\n') || r.message.length > 1000)))
  console.log(`\n== findings (${findings.length}) ==`)
  for (const r of findings) console.log(`[${r.outcome}] ${cases[r.id]!.label}\n    ${r.message.split('\n').slice(0, 4).join('\n    ')}`)
  const loaded = results.filter((r) => r.outcome === 'loaded' || r.outcome === 'ran' || r.outcome === 'engine-error')
  console.log(`\n== loaded despite the mutation (${loaded.length}; read for silently wrong models) ==`)
  for (const r of loaded) console.log(`[${r.outcome}] ${cases[r.id]!.label} ${r.message}`)
}
