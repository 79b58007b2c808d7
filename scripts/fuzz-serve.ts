// Fuzzes `pagedllm serve` (dist/, a child process) with seeded hostile requests and client behaviour, model by model, checking every reply and the drained KV pool.
// Usage: npm run build:ts && npx tsx scripts/fuzz-serve.ts [--seconds 40] [--seed 1] [--workers 4] [--models builtin,qwen2,qwen2moe,gpt2,gguf] [--out out/fuzz-serve]
// (more --models: llama3, gemma, gemma3, mistral, phi3, qwen3, mixtral, gpt-neox, opt)
// Loopback only, bounded in time (seconds per model). Prints requests sent and failures by class; each failure's request goes to OUT/failures.jsonl.
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdirSync, appendFileSync, existsSync, writeFileSync} from 'node:fs'
import {request as httpRequest} from 'node:http'
import {connect} from 'node:net'
import {loadavg} from 'node:os'
import {join, resolve} from 'node:path'
import {parseArgs} from 'node:util'
import {writeGguf} from '../src/bench/peer/gguf-writer.js'
import {loadModel} from '../src/engine/model/load-model.js'
import {ensureTestModel, type TestModelVariant} from '../src/engine/model/test-model.js'
import {type FuzzRequest, generateRequest, makeRandom, type Random} from './fuzz-serve-bodies.js'
import {drainedProblem, replyProblem} from './fuzz-serve-checks.js'

const {values: options} = parseArgs({
  options: {
    seconds: {type: 'string', default: '40'},
    seed: {type: 'string', default: '1'},
    workers: {type: 'string', default: '4'},
    models: {type: 'string', default: 'builtin,qwen2,qwen2moe,gpt2,gguf'},
    out: {type: 'string', default: 'out/fuzz-serve'},
  },
})
const root = resolve('.')
const seconds = Number(options.seconds)
const out = resolve(options.out!)
mkdirSync(out, {recursive: true})
const failuresFile = join(out, 'failures.jsonl')
writeFileSync(failuresFile, '')
const REQUEST_TIMEOUT_MS = 60_000

/** Each model is served with the flags that exercise its parsers. */
async function modelTarget(name: string): Promise<{flags: string[]}> {
  const testModel = (variant: TestModelVariant) => ensureTestModel('tiny', {variant})
  if (name === 'builtin') return {flags: []}
  if (name === 'qwen2') return {flags: ['--model', await testModel('qwen2'), '--tool-call-parser', 'hermes']}
  if (name === 'qwen2moe') return {flags: ['--model', await testModel('qwen2moe'), '--tool-call-parser', 'hermes', '--reasoning-parser', 'deepseek_r1']}
  if (name === 'gpt2') return {flags: ['--model', await testModel('gpt2')]}
  // Other families' chat templates and tokenizers (each template's own errors: gemma's refuses a system role).
  if (['llama3', 'gemma', 'gemma3', 'mistral', 'phi3', 'qwen3', 'mixtral', 'gpt-neox', 'opt'].includes(name))
    return {flags: ['--model', await testModel(name as TestModelVariant), ...(name === 'qwen3' ? ['--reasoning-parser', 'qwen3'] : [])]}
  if (name === 'gguf') {
    const path = join(await testModel('llama'), 'model-q8_0.gguf')
    if (!existsSync(path)) writeGguf(await loadModel(join(path, '..')), path, {format: 'q8_0'})
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
  const child = spawn(process.execPath, [join(root, 'bin/run.js'), 'serve', '--port', '0', '--threads', '1', '--slow-client-timeout', '3', ...flags], {stdio: ['ignore', 'pipe', 'pipe']})
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

interface Reply {
  status: number
  contentType: string
  text: string
}

/** Sends one request on a fresh connection; a body sent chunked goes in a few pieces. */
function send(server: Server, fuzz: FuzzRequest, timeoutMs = REQUEST_TIMEOUT_MS, abortAfterMs?: number): Promise<Reply> {
  return new Promise((resolveReply, reject) => {
    const headers = {...fuzz.headers}
    if (fuzz.body && !fuzz.chunked) headers['content-length'] = String(fuzz.body.length)
    const req = httpRequest({host: '127.0.0.1', port: server.port, method: fuzz.method, path: fuzz.path, headers, agent: false}, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        clearTimeout(timer)
        resolveReply({status: response.statusCode ?? 0, contentType: String(response.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8')})
      })
      response.on('error', reject)
    })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`no complete reply in ${timeoutMs / 1000} s`))
    }, timeoutMs)
    if (abortAfterMs !== undefined) setTimeout(() => req.destroy(new Error('aborted by the client')), abortAfterMs)
    req.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    if (fuzz.body && fuzz.chunked) {
      const third = Math.ceil(fuzz.body.length / 3)
      for (let at = 0; at < fuzz.body.length; at += third) req.write(fuzz.body.subarray(at, at + third))
    } else if (fuzz.body) req.write(fuzz.body)
    req.end()
  })
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
    const reply = await send(server, {method: 'GET', path: '/health', headers: {}, label: 'health'}, 5000)
    slowestHealthMs = Math.max(slowestHealthMs, performance.now() - started)
    return reply.status === 200 ? null : `/health answered ${reply.status}`
  } catch (error) {
    return `/health: ${(error as Error).message}`
  }
}

/** Client behaviour beside the request fuzz: disconnects, readers that never read, slow bodies, bursts. */
async function behaviour(server: Server, random: Random, model: string): Promise<void> {
  const streamBody = (maxTokens: number) => Buffer.from(JSON.stringify({prompt: 'Once upon a time', max_tokens: maxTokens, ignore_eos: true, stream: true, n: random.int(1, 3)}))
  const kind = random.pick(['disconnect-mid-stream', 'disconnect-mid-body', 'never-read', 'slow-body', 'burst', 'disconnect-any', 'disconnect-any', 'disconnect-any'])
  counts.behaviours++
  const socket = () => connect(server.port, '127.0.0.1')
  const post = (body: Buffer, length = body.length) => `POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`
  const sleep = (ms: number) => new Promise((wake) => setTimeout(wake, ms))
  if (kind === 'disconnect-any') {
    // Any generated request, cut at a random moment: while queued, tokenizing, compiling a grammar, or streaming.
    const fuzz = generateRequest(random, '')
    await send(server, fuzz, REQUEST_TIMEOUT_MS, random.pick([0, 5, 20, 50, 100, 300, 800])).catch(() => {})
  } else if (kind === 'disconnect-mid-stream') {
    const body = streamBody(40)
    const client = socket()
    client.write(post(body) + body)
    await new Promise<void>((done) => {
      client.once('data', () => done())
      setTimeout(done, 5000)
    })
    client.destroy()
  } else if (kind === 'disconnect-mid-body') {
    const body = streamBody(4)
    const client = socket()
    client.write(post(body, body.length + 1000) + body.subarray(0, random.int(0, body.length)))
    await sleep(random.int(0, 300))
    client.destroy()
  } else if (kind === 'never-read') {
    const body = streamBody(random.pick([60, 120]))
    const client = socket()
    client.pause()
    client.write(post(body) + body)
    await sleep(random.int(500, 5000))
    client.destroy()
  } else if (kind === 'slow-body') {
    const body = Buffer.from(JSON.stringify({prompt: 'slow', max_tokens: 2}))
    const client = socket()
    client.on('data', () => {})
    client.on('error', () => {})
    client.write(post(body))
    for (const byte of body) {
      client.write(Buffer.from([byte]))
      await sleep(60)
    }
    await sleep(1000)
    client.destroy()
  } else {
    const replies = await Promise.allSettled(
      Array.from({length: random.pick([50, 200])}, (_, i) =>
        send(server, {method: 'POST', path: '/v1/completions', headers: {'content-type': 'application/json'}, body: Buffer.from(JSON.stringify({prompt: `burst ${i}`, max_tokens: 2})), label: 'burst'}),
      ),
    )
    for (const reply of replies) {
      if (reply.status === 'rejected') fail(model, 'burst', `connection error: ${reply.reason.message}`)
      else if (reply.value.status !== 200) {
        const problem = replyProblem('/v1/completions', reply.value.status, reply.value.contentType, reply.value.text, undefined)
        if (problem !== null) fail(model, 'burst', problem)
      }
    }
  }
}

async function fuzzModel(model: string, seed: number): Promise<void> {
  const {flags} = await modelTarget(model)
  const server = await startServer(flags)
  const served = JSON.parse((await send(server, {method: 'GET', path: '/v1/models', headers: {}, label: 'models'})).text).data[0].id as string
  const deadline = Date.now() + seconds * 1000
  const worker = async (index: number) => {
    const random = makeRandom(seed * 1000 + index)
    while (Date.now() < deadline && server.exited() === null) {
      if (index === 0 && random.chance(0.3)) {
        await behaviour(server, random, model).catch((error) => fail(model, 'behaviour', String(error)))
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
        const reply = await send(server, fuzz)
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
      problem = drainedProblem((await send(server, {method: 'GET', path: '/metrics', headers: {}, label: 'metrics'}, 5000)).text)
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
