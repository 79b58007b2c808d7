// Fuzzes `pagedllm serve` (dist/, a child process) with seeded hostile requests and client behaviour, model by model, checking every reply and the drained KV pool.
// Usage: USAGE below (--help prints it).
// Loopback only, bounded in time (seconds per model). Prints requests sent and failures by class; each failure's request goes to OUT/failures.jsonl.
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdirSync, appendFileSync, existsSync, writeFileSync} from 'node:fs'
import {loadavg} from 'node:os'
import {join, resolve} from 'node:path'
import {parseArgs} from 'node:util'
import {writeGguf} from '../src/bench/peer/gguf-writer.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {ensureTestModel, type TestModelVariant} from '../src/engine/model/test-model.js'
import {type FuzzRequest, generateRequest, makeRandom} from './fuzz-serve-bodies.js'
import {clientBehaviour, send} from './fuzz-serve-clients.js'
import {drainedProblem, replyProblem} from './fuzz-serve-checks.js'

const USAGE = `Usage: npm run build:ts && npx tsx scripts/fuzz-serve.ts [--seconds 40] [--seed 1] [--workers 4] [--models builtin,qwen2,qwen2moe,gpt2,gguf] [--out out/fuzz-serve] [--serve-flags="--num-blocks 48"]
  --models: builtin, qwen2, qwen2moe, gpt2, gguf, llama3, gemma, gemma3, mistral, phi3, qwen3, mixtral, gpt-neox, opt
  Fuzzes each model's server for --seconds with seeded hostile requests; failures go to OUT/failures.jsonl.`

const {values: options} = parseArgs({
  options: {
    seconds: {type: 'string', default: '40'},
    seed: {type: 'string', default: '1'},
    workers: {type: 'string', default: '4'},
    models: {type: 'string', default: 'builtin,qwen2,qwen2moe,gpt2,gguf'},
    out: {type: 'string', default: 'out/fuzz-serve'},
    // Extra serve flags for every model, e.g. a tight pool with swapping or speculative decoding: --serve-flags="--num-blocks 48 --preemption-mode swap".
    'serve-flags': {type: 'string', default: ''},
    help: {type: 'boolean', short: 'h'},
  },
})
if (options.help) {
  console.log(USAGE)
  process.exit(0)
}
const root = resolve('.')
const seconds = Number(options.seconds)
const extraFlags = options['serve-flags']!.split(' ').filter((flag) => flag !== '')
const out = resolve(options.out!)
mkdirSync(out, {recursive: true})
const failuresFile = join(out, 'failures.jsonl')
writeFileSync(failuresFile, '')

/** Each model is served with the flags that exercise its parsers. */
async function modelTarget(name: string): Promise<{flags: string[]}> {
  const testModel = (variant: TestModelVariant) => ensureTestModel('tiny', {variant})
  if (name === 'builtin') return {flags: []}
  if (name === 'qwen2') return {flags: ['--model', await testModel('qwen2'), '--tool-call-parser', 'hermes']}
  if (name === 'qwen2moe') return {flags: ['--model', await testModel('qwen2moe'), '--tool-call-parser', 'hermes', '--reasoning-parser', 'deepseek_r1']}
  if (name === 'gpt2') return {flags: ['--model', await testModel('gpt2'), '--enable-prompt-tokens-details']}
  // Other families' chat templates and tokenizers (each template's own errors: gemma's refuses a system role).
  if (['llama3', 'gemma', 'gemma3', 'mistral', 'phi3', 'qwen3', 'mixtral', 'gpt-neox', 'opt'].includes(name))
    return {flags: ['--model', await testModel(name as TestModelVariant), ...(name === 'qwen3' ? ['--reasoning-parser', 'qwen3'] : [])]}
  if (name === 'gguf') {
    // Written under OUT, not beside the cached test model: tests list that directory and expect no GGUF in it.
    const path = join(out, 'tiny-llama-q8_0.gguf')
    if (!existsSync(path)) writeGguf(await loadModel(await testModel('llama')), path, {format: 'q8_0'})
    return {flags: ['--model', path]}
  }
  throw new Error(`unknown model ${name}`)
}

interface Server {
  child: ChildProcess
  url: string
  port: number
  exited: () => string | null
  stderr: string[]
}

async function startServer(flags: string[]): Promise<Server> {
  const child = spawn(process.execPath, [join(root, 'bin/run.js'), 'serve', '--port', '0', '--threads', '1', '--slow-client-timeout', '3', ...flags, ...extraFlags], {stdio: ['ignore', 'pipe', 'pipe']})
  let exit: string | null = null
  const stderr: string[] = []
  child.on('exit', (code, signal) => (exit = `exited with ${code ?? signal}`))
  const url = await new Promise<string>((resolveUrl, reject) => {
    let text = ''
    const onData = (chunk: Buffer) => {
      text += chunk
      const ready = /ready: model .* at (http:\/\/[^/\s]+)/.exec(text)
      if (ready) resolveUrl(ready[1])
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr.push(String(chunk))
      onData(chunk)
    })
    child.on('exit', () => reject(new Error(`server exited before ready: ${text.slice(-2000)}`)))
  })
  return {child, url, port: Number(new URL(url).port), exited: () => exit, stderr}
}

const counts = {requests: 0, behaviours: 0}
const statuses = new Map<number, number>()
const failures = new Map<string, number>()

function fail(model: string, kind: string, detail: string, fuzz?: FuzzRequest): void {
  const key = `${model} ${kind}: ${detail.slice(0, 120)}`
  failures.set(key, (failures.get(key) ?? 0) + 1)
  if (failures.get(key)! <= 3)
    appendFileSync(failuresFile, JSON.stringify({model, kind, detail, path: fuzz?.path, method: fuzz?.method, headers: fuzz?.headers, chunked: fuzz?.chunked, body: fuzz?.body?.toString('latin1').slice(0, 4000)}) + '\n')
}

let slowestHealthMs = 0
const slowest: {ms: number; what: string}[] = []

async function healthy(server: Server): Promise<string | null> {
  try {
    const started = performance.now()
    const reply = await send(server.port, {method: 'GET', path: '/health', headers: {}, label: 'health'}, 5000)
    slowestHealthMs = Math.max(slowestHealthMs, performance.now() - started)
    return reply.status === 200 ? null : `/health answered ${reply.status}`
  } catch (error) {
    return `/health: ${(error as Error).message}`
  }
}

/** Client behaviour beside the request fuzz: disconnects, readers that never read, slow bodies, bursts. */
async function fuzzModel(model: string, seed: number): Promise<void> {
  const {flags} = await modelTarget(model)
  const server = await startServer(flags)
  const served = JSON.parse((await send(server.port, {method: 'GET', path: '/v1/models', headers: {}, label: 'models'})).text).data[0].id as string
  const deadline = Date.now() + seconds * 1000
  const worker = async (index: number) => {
    const random = makeRandom(seed * 1000 + index)
    while (Date.now() < deadline && server.exited() === null) {
      if (index === 0 && random.chance(0.3)) {
        counts.behaviours++
        await clientBehaviour(server.port, random, (kind, detail) => fail(model, kind, detail)).catch((error) => fail(model, 'behaviour', String(error)))
        continue
      }
      const fuzz = generateRequest(random, served)
      counts.requests++
      let parsed: unknown
      try {
        parsed = JSON.parse(fuzz.body?.toString('utf8') ?? 'null')
      } catch {}
      try {
        const started = performance.now()
        const reply = await send(server.port, fuzz)
        slowest.push({ms: performance.now() - started, what: `${model} ${fuzz.path} ${reply.status} ${fuzz.body?.toString('utf8').slice(0, 300)}`})
        slowest.sort((a, b) => b.ms - a.ms).splice(5)
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
        const problem = replyProblem(fuzz.path, reply.status, reply.contentType, reply.text, parsed)
        if (problem !== null) fail(model, fuzz.label, `${fuzz.path} ${problem} :: ${reply.text.slice(0, 200)}`, fuzz)
      } catch (error) {
        // A body over the limit is refused (413) and the connection closed while the rest is still being written.
        const refusedMidBody = fuzz.label === 'big-body' && /EPIPE|ECONNRESET/.test((error as Error).message)
        if (server.exited() === null && !refusedMidBody) fail(model, fuzz.label, `${fuzz.path} ${(error as Error).message}`, fuzz)
      }
      if (server.exited() !== null) fail(model, 'crash', `${server.exited()} after ${fuzz.label} ${fuzz.path}: ${server.stderr.join('').slice(-1500)}`, fuzz)
      else if (counts.requests % 10 === 0) {
        const problem = await healthy(server)
        if (problem !== null) fail(model, 'wedged', problem, fuzz)
      }
    }
  }
  await Promise.all(Array.from({length: Number(options.workers)}, (_, index) => worker(index)))
  if (server.exited() === null) {
    // Drained: the pool and the queues go back to zero once the last reply is out (slow clients are cut after 3 s).
    let problem: string | null = 'never scraped'
    for (let waited = 0; waited < 20_000 && problem !== null; waited += 500) {
      await new Promise((wake) => setTimeout(wake, 500))
      problem = drainedProblem((await send(server.port, {method: 'GET', path: '/metrics', headers: {}, label: 'metrics'}, 5000)).text)
    }
    if (problem !== null) fail(model, 'leak', problem)
    server.child.kill('SIGTERM')
    await new Promise((done) => server.child.once('exit', done))
  }
  const errors = server.stderr.join('').split('\n').filter((line) => /uncaught|unhandled|TypeError|RangeError|ReferenceError|at .*\.(ts|js):\d+/.test(line))
  for (const line of errors.slice(0, 20)) fail(model, 'server-log', line)
}

const started = Date.now()
const seed = Number(options.seed)
for (const model of options.models!.split(',')) {
  const before = counts.requests
  await fuzzModel(model, seed)
  console.log(`${model}: ${counts.requests - before} requests`)
}
console.log(`\n${counts.requests} requests and ${counts.behaviours} client behaviours in ${((Date.now() - started) / 1000).toFixed(0)} s (seed ${seed}, load ${loadavg().map((load) => load.toFixed(2)).join(' ')})`)
console.log(`statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([status, count]) => `${status} x ${count}`).join(', ')}`)
console.log(`slowest /health: ${slowestHealthMs.toFixed(0)} ms; slowest requests:`)
for (const {ms, what} of slowest) console.log(`  ${(ms / 1000).toFixed(1)} s ${what}`)
console.log(failures.size === 0 ? 'no failures' : `${failures.size} failure classes (requests in ${failuresFile}):`)
for (const [key, count] of [...failures].sort((a, b) => b[1] - a[1])) console.log(`  ${count} x ${key}`)
process.exitCode = failures.size === 0 ? 0 : 1
