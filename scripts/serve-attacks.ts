// An attack corpus against the real `pagedllm serve` (dist/, a child process on the built-in tinychat model): the HTTP
// layer, every field of every route, clients leaving at every stage, signals while streaming, requests during start-up
// and shutdown. After each attack /health must answer fast; after each class no KV block or request may remain, and
// the server's RSS is reported. Prints the findings by class.
// Usage: npm run build:ts && npx tsx scripts/serve-attacks.ts [--only http,fields,lifecycle,models,signals] [--match TEXT] [--rounds 1] [--parallel 4]
//   [--templates gemma-2,mistral-v0.3 | all] [-- extra serve flags]
// models: servers of their own (copies of a test model with hostile and --templates' fixture chat templates, a 64-token
// context, guided specs), started on the base flags without the extra ones.
import {type ChildProcess, spawn} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'
import {connect} from 'node:net'
import {loadavg} from 'node:os'
import {join, resolve} from 'node:path'
import {parseArgs} from 'node:util'
import {drainedProblem} from './fuzz-serve-checks.js'
import {fieldAttackList} from './serve-attack-fields.js'
import {type Attack, httpAttacks} from './serve-attack-http.js'
import {lifecycleAttacks, REPLY_MEMORY_CAP} from './serve-attack-lifecycle.js'
import {modelAttacks} from './serve-attack-models.js'
import {gist, postBytes, request, type Target} from './serve-attack-wire.js'

const {values: options, positionals: extraFlags} = parseArgs({
  allowPositionals: true,
  options: {only: {type: 'string', default: 'http,fields,lifecycle,models,signals'}, templates: {type: 'string', default: 'gemma-2,mistral-v0.3,gpt-oss,llama-3.1,qwen3,phi-4-mini'}, match: {type: 'string'}, root: {type: 'string', default: '.'}, parallel: {type: 'string', default: '4'}, rounds: {type: 'string', default: '1'}},
})
const root = resolve(options.root)
const BASE_FLAGS = ['--port', '0', '--threads', '1', '--num-blocks', '512', '--responses-store', '64', '--slow-client-timeout', '3', '--shutdown-grace', '5', '--max-reply-memory', String(REPLY_MEMORY_CAP)]
const SERVE_FLAGS = [...BASE_FLAGS, ...extraFlags]
const findings = new Map<string, string[]>()
const counts = new Map<string, number>()

function finding(cls: string, what: string): void {
  findings.set(cls, [...(findings.get(cls) ?? []), what])
  console.log(`  FINDING [${cls}] ${what}`)
}

interface Server {
  child: ChildProcess
  target: Target
  ready: Promise<void>
  exited: Promise<number | string>
  log: string[]
}

/** Every server still running is killed when this script exits, however it exits. */
const children = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

function startServer(flags = SERVE_FLAGS): Promise<Server> {
  const child = spawn(process.execPath, [join(root, 'bin/run.js'), 'serve', ...flags], {stdio: ['ignore', 'pipe', 'pipe']})
  children.add(child)
  child.on('exit', () => children.delete(child))
  const log: string[] = []
  const exited = new Promise<number | string>((done) => child.on('exit', (code, signal) => done(code ?? signal ?? '?')))
  let onReady: () => void = () => {}
  const ready = new Promise<void>((done) => (onReady = done))
  return new Promise((resolveServer, reject) => {
    let text = ''
    const onData = (chunk: Buffer) => {
      text += chunk
      log.push(String(chunk))
      const listening = /listening on http:\/\/([^:]+):(\d+)/.exec(text)
      if (listening && !('resolved' in onData)) {
        Object.assign(onData, {resolved: true})
        const target = {host: listening[1]!, port: Number(listening[2]), url: `http://${listening[1]}:${listening[2]}`}
        resolveServer({child, target, ready, exited, log})
      }
      if (/ready: model/.test(text)) onReady()
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening: ${text.slice(-2000)}`)))
  })
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((each) => each.startsWith('VmRSS:'))!
  return Math.round(Number(/\d+/.exec(line)![0]) / 1024)
}

async function healthMs(target: Target): Promise<number> {
  const started = performance.now()
  const reply = await request(target, 'GET', '/health', undefined, {}, AbortSignal.timeout(5000))
  if (reply.status !== 200) throw new Error(`/health answered ${gist(reply)}`)
  return performance.now() - started
}

/** Waits up to 20 s for the engine to drain; the gauges still up then are the finding. */
async function drained(target: Target): Promise<string | null> {
  let problem: string | null = 'never read'
  for (let i = 0; i < 80 && problem; i++) {
    problem = drainedProblem((await request(target, 'GET', '/metrics')).text)
    if (problem) await new Promise((wait) => setTimeout(wait, 250))
  }
  return problem
}

async function runAttacks(server: Server, cls: string, attacks: Attack[], width: number): Promise<void> {
  const chosen = attacks.filter((attack) => !options.match || attack.name.includes(options.match))
  let next = 0
  let slowestHealth = 0
  const started = performance.now()
  await Promise.all(Array.from({length: width}, async () => {
    while (next < chosen.length) {
      const attack = chosen[next++]!
      counts.set(attack.cls, (counts.get(attack.cls) ?? 0) + 1)
      try {
        const problem = await attack.run(server.target)
        if (problem) finding(attack.cls, `${attack.name}: ${problem}`)
      } catch (error) {
        finding(attack.cls, `${attack.name}: threw ${(error as Error).message}`)
      }
      try {
        const ms = await healthMs(server.target)
        if (ms > 1000) console.log(`  /health took ${ms.toFixed(0)} ms after ${attack.name} (load ${loadavg()[0]!.toFixed(2)})`)
        slowestHealth = Math.max(slowestHealth, ms)
      } catch (error) {
        finding(attack.cls, `after ${attack.name}: ${(error as Error).message}`)
      }
    }
  }))
  const leak = await drained(server.target)
  if (leak) finding(cls, `not drained after the class: ${leak}`)
  // Admission slots or body memory leaked would leave /health fine but the next request waiting forever.
  const served = await request(server.target, 'POST', '/v1/completions', {prompt: 'still serving?', max_tokens: 2}, {}, AbortSignal.timeout(30_000)).catch((error: Error) => ({status: 0, contentType: '', text: error.message}))
  if (served.status !== 200) finding(cls, `a normal request after the class: ${gist(served)}`)
  console.log(`${cls}: ${chosen.length} attacks in ${((performance.now() - started) / 1000).toFixed(1)} s, slowest /health ${slowestHealth.toFixed(0)} ms, RSS ${rssMiB(server.child.pid!)} MiB (load ${loadavg()[0]!.toFixed(2)})`)
}

/** Streams in flight, then a signal: each stream must end whole ([DONE]) or be cut after its last full event, and the process must exit 0 in its grace. */
async function signalWhileStreaming(signal: NodeJS.Signals): Promise<void> {
  const server = await startServer()
  await server.ready
  const streams = Array.from({length: 4}, (_, i) => request(server.target, 'POST', '/v1/completions', {prompt: `s${i}`, max_tokens: 150, stream: true, ignore_eos: true}).catch((error: Error) => ({status: 0, contentType: '', text: `threw ${error.message}`})))
  await new Promise((wait) => setTimeout(wait, 400))
  const started = performance.now()
  server.child.kill(signal)
  await new Promise((wait) => setTimeout(wait, 50))
  const late = await request(server.target, 'POST', '/v1/completions', {prompt: 'late', max_tokens: 2}).catch((error: Error) => ({status: 0, contentType: '', text: (error.cause as Error)?.message ?? error.message}))
  if (late.status !== 0 && late.status !== 503) finding('signals', `${signal}: a request after the signal got ${gist(late)}`)
  for (const [i, reply] of (await Promise.all(streams)).entries())
    if (!reply.text.endsWith('data: [DONE]\n\n')) finding('signals', `${signal}: stream ${i} did not end with [DONE]: ${reply.status} ...${reply.text.slice(-120)}`)
  const code = await Promise.race([server.exited, new Promise((wait) => setTimeout(() => wait('still running after 15 s'), 15_000))])
  if (code !== 0) finding('signals', `${signal}: exit ${code}; log tail ${server.log.join('').slice(-300)}`)
  counts.set('signals', (counts.get('signals') ?? 0) + 1)
  console.log(`signals: ${signal} while streaming, exit ${code} after ${(performance.now() - started).toFixed(0)} ms (load ${loadavg()[0]!.toFixed(2)})`)
  server.child.kill('SIGKILL')
}

/** A client that never reads its stream and a background response, then SIGTERM: the process must still exit 0 soon after its grace. */
async function signalWithStragglers(): Promise<void> {
  const server = await startServer()
  await server.ready
  const deaf = connect(server.target.port, server.target.host)
  deaf.on('error', () => {})
  deaf.pause()
  deaf.write(postBytes('/v1/completions', JSON.stringify({prompt: 'deaf', max_tokens: 1500, n: 4, stream: true, ignore_eos: true, logprobs: 20})))
  const started = await request(server.target, 'POST', '/v1/responses', {input: 'hi', background: true, max_output_tokens: 1500, ignore_eos: true})
  if (started.status !== 200) finding('signals', `background before SIGTERM: ${gist(started)}`)
  await new Promise((wait) => setTimeout(wait, 1000))
  const sent = performance.now()
  server.child.kill('SIGTERM')
  const code = await Promise.race([server.exited, new Promise((wait) => setTimeout(() => wait('still running 15 s after SIGTERM'), 15_000))])
  if (code !== 0) finding('signals', `SIGTERM with a deaf stream and a background response: exit ${code}; log tail ${server.log.join('').slice(-300)}`)
  counts.set('signals', (counts.get('signals') ?? 0) + 1)
  console.log(`signals: SIGTERM with stragglers, exit ${code} after ${(performance.now() - sent).toFixed(0)} ms (grace 5 s; load ${loadavg()[0]!.toFixed(2)})`)
  deaf.destroy()
  server.child.kill('SIGKILL')
}

/** Requests of every route while the model loads: each a 503 (model_loading) or a proper reply, never a hang or a 5xx. */
async function duringStartup(): Promise<void> {
  const server = await startServer()
  const paths = ['/health', '/v1/models', '/metrics', '/v1/completions', '/v1/chat/completions', '/v1/responses', '/tokenize', '/detokenize', '/version']
  let sent = 0
  let isReady = false
  void server.ready.then(() => (isReady = true))
  while (!isReady) {
    const replies = await Promise.all(paths.map((path) => request(server.target, path.startsWith('/v1/models') || path === '/health' || path === '/metrics' || path === '/version' ? 'GET' : 'POST', path, path.startsWith('/v1/models') || path === '/health' || path === '/metrics' || path === '/version' ? undefined : {prompt: 'x', tokens: [1], input: 'x', messages: [{role: 'user', content: 'x'}], max_tokens: 2})))
    sent += replies.length
    for (const [i, reply] of replies.entries()) if (reply.status >= 500 && reply.status !== 503) finding('signals', `during start-up ${paths[i]}: ${gist(reply)}`)
  }
  counts.set('signals', (counts.get('signals') ?? 0) + sent)
  console.log(`signals: ${sent} requests during start-up`)
  server.child.kill('SIGTERM')
  await server.exited
}

const only = new Set(options.only.split(','))
const width = Number(options.parallel)
if (only.has('http') || only.has('fields') || only.has('lifecycle')) {
  const server = await startServer()
  await server.ready
  console.log(`server on ${server.target.url}, RSS ${rssMiB(server.child.pid!)} MiB`)
  // More rounds show whether the server's memory settles or keeps growing.
  for (let round = 0; round < Number(options.rounds); round++) {
    if (only.has('http')) await runAttacks(server, 'http', httpAttacks(), width)
    if (only.has('fields')) await runAttacks(server, 'fields', fieldAttackList(), width)
    if (only.has('lifecycle')) await runAttacks(server, 'lifecycle', lifecycleAttacks(), 1)
  }
  server.child.kill('SIGTERM')
  await server.exited
}
if (only.has('models')) {
  const server = await startServer()
  await server.ready
  const fixtureDir = join(root, 'test/fixtures/chat-templates')
  const names = options.templates === 'all' ? readdirSync(fixtureDir).filter((name) => name.endsWith('.jinja')).map((name) => name.slice(0, -'.jinja'.length)) : options.templates.split(',').filter(Boolean)
  const fixtures = Object.fromEntries(names.map((name) => [name, readFileSync(join(fixtureDir, `${name}.jinja`), 'utf8')]))
  const startModelServer = async (flags: string[]) => {
    const started = await startServer([...BASE_FLAGS, ...flags])
    await started.ready
    return {target: started.target, stop: async () => void (started.child.kill('SIGTERM'), await started.exited)}
  }
  await runAttacks(server, 'models', modelAttacks(startModelServer, join(root, 'out/serve-attacks/models'), fixtures), 1)
  server.child.kill('SIGTERM')
  await server.exited
}
if (only.has('signals')) {
  await duringStartup()
  await signalWhileStreaming('SIGTERM')
  await signalWhileStreaming('SIGINT')
  await signalWithStragglers()
}
console.log(`\nattacks by class: ${[...counts].map(([cls, count]) => `${cls} ${count}`).join(', ')}`)
console.log(findings.size === 0 ? 'no findings' : `${[...findings.values()].flat().length} findings:`)
for (const [cls, list] of findings) for (const each of list) console.log(`  [${cls}] ${each}`)
process.exit(findings.size === 0 ? 0 : 1)
