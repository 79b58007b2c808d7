// The Responses API attacks (docs/PERFORMANCE.md, "Responses API, hostile input"): bodies continuing a stored response
// (previous_response_id) while /health is timed, a request's chat_template, type-confused fields on every Responses
// field, and the stored responses' lifecycle (background, cancel, streams cut at each phase, unknown ids). Each class runs
// on its own `pagedllm serve --responses-store` (dist/, built-in model); after each, /health must be 200, the engine
// drained (no KV block, request or admitted sequence held) and a normal request served.
// Usage: npm run build:ts && npx tsx scripts/serve-attack-responses.ts [--only chain,template,fields,lifecycle] [--seconds 10]
import {loadavg} from 'node:os'
import {parseArgs} from 'node:util'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {drainedProblem} from './fuzz-serve-checks.js'
import {startServe} from './serve-child.js'
import {gist, problemOf, request, type Target} from './serve-attack-wire.js'

const {values: options} = parseArgs({options: {only: {type: 'string', default: 'chain,template,fields,lifecycle'}, seconds: {type: 'string', default: '10'}}})
const seconds = Number(options.seconds)
const findings: string[] = []
const finding = (cls: string, what: string) => (findings.push(`[${cls}] ${what}`), console.log(`  FINDING [${cls}] ${what}`))
const load = () => loadavg()[0]!.toFixed(2)
const sleep = (ms: number) => new Promise((wait) => setTimeout(wait, ms))

function targetOf(url: string): Target {
  const {hostname, port} = new URL(url)
  return {host: hostname, port: Number(port), url}
}

function percentiles(values: number[]): string {
  if (values.length === 0) return 'none served'
  const sorted = [...values].sort((a, b) => a - b)
  return `${sorted.length} served, p50 ${sorted[sorted.length >> 1]!.toFixed(0)} ms, p99 ${sorted[Math.floor(sorted.length * 0.99)]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`
}

const post = (t: Target, path: string, body: unknown, ms = 60_000) =>
  request(t, 'POST', path, body, {}, AbortSignal.timeout(ms)).catch((error: Error) => ({status: 0, contentType: '', text: error.message}))

/** /health 200, the engine and admission drained within 20 s, then a normal request served. */
async function idleProblem(t: Target): Promise<string | null> {
  const health = await request(t, 'GET', '/health', undefined, {}, AbortSignal.timeout(10_000)).catch((error: Error) => ({status: 0, contentType: '', text: error.message}))
  if (health.status !== 200) return `/health ${gist(health)}`
  let problem: string | null = 'never read'
  for (let i = 0; i < 80 && problem; i++) {
    const metrics = (await request(t, 'GET', '/metrics')).text
    const held = /^pagedllm_admitted_sequences\{state="held"\} (\S+)/m.exec(metrics)?.[1]
    problem = drainedProblem(metrics) ?? (held === '0' ? null : `admitted sequences held ${held}`)
    if (problem) await sleep(250)
  }
  if (problem) return `not drained: ${problem}`
  const normal = await post(t, '/v1/responses', {input: 'still serving?', max_output_tokens: 2})
  return normal.status === 200 ? null : `a normal request after: ${gist(normal)}`
}

async function withServer(cls: string, flags: string[], body: (t: Target) => Promise<void>): Promise<void> {
  const server = await startServe(BUILTIN_MODEL_DIR, ['--threads', '1', '--responses-store', '64', ...flags])
  const t = targetOf(server.url)
  const started = performance.now()
  try {
    await body(t)
    const problem = await idleProblem(t)
    if (problem) finding(cls, `after the class: ${problem}`)
    console.log(`${cls}: done in ${((performance.now() - started) / 1000).toFixed(1)} s, RSS ${(server.rssBytes() / 2 ** 20).toFixed(0)} MiB (load ${load()})`)
  } finally {
    const exit = server.exit()
    if (exit) finding(cls, `the server died: ${JSON.stringify(exit)}; ${server.stderrTail()}`)
    await server.stop()
  }
}

/** /health latencies, one probe every 20 ms, while `attack` runs. */
async function healthDuring(t: Target, attack: (stop: AbortSignal) => Promise<unknown>): Promise<number[]> {
  const stop = new AbortController()
  const latencies: number[] = []
  const probe = (async () => {
    while (!stop.signal.aborted) {
      const started = performance.now()
      await request(t, 'GET', '/health', undefined, {}, AbortSignal.timeout(30_000)).catch(() => {})
      latencies.push(performance.now() - started)
      await sleep(20)
    }
  })()
  await attack(stop.signal)
  stop.abort()
  await probe
  return latencies
}

async function storedId(t: Target, body: object): Promise<string> {
  const reply = await post(t, '/v1/responses', {max_output_tokens: 2, temperature: 0, ...body})
  if (reply.status !== 200) throw new Error(`could not store a response: ${gist(reply)}`)
  return JSON.parse(reply.text).id
}

/**
 * 4 clients send 3.2 MB bodies of 10^5 input messages (a 400: more than the context holds) for `seconds`, with and
 * without previous_response_id; then small bodies continuing the longest chain the context allows. /health is timed.
 */
async function chainClass(): Promise<void> {
  await withServer('chain', [], async (t) => {
    const head = await storedId(t, {input: 'hello'})
    const items = Array.from({length: 100_000}, (_, index) => ({role: 'user', content: `m${index}`}))
    for (const [label, previous] of [['without previous_response_id', {}], ['with previous_response_id', {previous_response_id: head}]] as const) {
      const body = JSON.stringify({input: items, max_output_tokens: 2, ...previous})
      const statuses = new Map<number, number>()
      const latencies = await healthDuring(t, async (stop) => {
        const deadline = performance.now() + seconds * 1000
        await Promise.all(
          Array.from({length: 4}, async () => {
            while (performance.now() < deadline && !stop.aborted) {
              const reply = await post(t, '/v1/responses', body, 120_000)
              statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
            }
          }),
        )
      })
      console.log(`chain: 4 clients x ${(body.length / 1e6).toFixed(1)} MB bodies ${label} (${[...statuses].map(([s, n]) => `${n} x ${s}`).join(', ')}): /health ${percentiles(latencies)} (load ${load()})`)
    }
    // A chain of function calls: each response continues the last with 400 call/output pairs (the context's share).
    let previous = head
    const links = 40
    for (let link = 0; link < links; link++) {
      const input = Array.from({length: 50}, (_, index) => [
        {type: 'function_call', call_id: `c${link}_${index}`, name: 'f', arguments: '{}'},
        {type: 'function_call_output', call_id: `c${link}_${index}`, output: 'x'},
      ]).flat()
      const reply = await post(t, '/v1/responses', {input, previous_response_id: previous, max_output_tokens: 1})
      if (reply.status !== 200) {
        console.log(`chain: link ${link} refused: ${gist(reply)}`)
        break
      }
      previous = JSON.parse(reply.text).id
    }
    const latencies = await healthDuring(t, async () => {
      const deadline = performance.now() + seconds * 1000
      await Promise.all(
        Array.from({length: 4}, async () => {
          while (performance.now() < deadline) await post(t, '/v1/responses', {input: 'next', previous_response_id: previous, max_output_tokens: 1})
        }),
      )
    })
    console.log(`chain: 4 clients continuing a stored chain: /health ${percentiles(latencies)} (load ${load()})`)
  })
}

const classes: Record<string, () => Promise<void>> = {chain: chainClass}

for (const name of options.only.split(',')) {
  const run = classes[name]
  if (run === undefined) throw new Error(`no class ${name}: ${Object.keys(classes).join(', ')}`)
  await run()
}
console.log(findings.length === 0 ? 'no findings' : `${findings.length} findings:\n${findings.join('\n')}`)
void problemOf
