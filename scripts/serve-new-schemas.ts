// Huge structured-output schemas new to the server against `pagedllm serve` (dist/, a child process, the event-loop probe
// preloaded): each round sends N different schemas at once (an `anyOf` of one-property objects, fresh names each time,
// so no cache knows them) while /health is polled every 10 ms; reports /health latency (max, p99), the server's
// event-loop delay and the replies. What it watches is the event loop's share of a new schema's checks and key.
// --leave-after MS: the clients leave after MS ms (their compiles should stop with their workers), and a small new
// schema is timed right after: it must not wait for the abandoned compiles.
// Usage: npm run build:ts && node --import tsx scripts/serve-new-schemas.ts [--concurrent 4] [--alternatives 20000] [--rounds 3] [--leave-after MS] [--node-flags=--cpu-prof] [-- extra serve flags]
import {randomUUID} from 'node:crypto'
import {loadavg} from 'node:os'
import {parseArgs} from 'node:util'
import {percentile, pollHealth, startProbedServer} from './probed-server.js'

const {values: options, positionals: serveFlags} = parseArgs({
  allowPositionals: true,
  options: {concurrent: {type: 'string', default: '4'}, alternatives: {type: 'string', default: '20000'}, rounds: {type: 'string', default: '3'}, 'leave-after': {type: 'string'}, 'node-flags': {type: 'string', default: ''}},
})
const range = (n: number) => Array.from({length: n}, (_, i) => i)

/** A chat body whose schema no earlier request had: its property names carry a fresh id. */
function freshBody(alternatives = Number(options.alternatives)): string {
  const tag = randomUUID().slice(0, 8)
  const anyOf = range(alternatives).map((i) => ({type: 'object', properties: {[`${tag}_${i}`]: {type: 'integer'}}, required: [`${tag}_${i}`]}))
  return JSON.stringify({messages: [{role: 'user', content: 'hi'}], max_tokens: 1, response_format: {type: 'json_schema', json_schema: {name: 's', schema: {anyOf}}}})
}

const server = await startProbedServer(options['node-flags'].split(' ').filter(Boolean), serveFlags)
const {url, loopDelay} = server
for (let round = 0; round < Number(options.rounds); round++) {
  const bodies = range(Number(options.concurrent)).map(() => freshBody())
  await loopDelay()
  const health = pollHealth(url)
  const leaving = options['leave-after'] ? AbortSignal.timeout(Number(options['leave-after'])) : undefined
  const started = performance.now()
  const statuses = await Promise.all(
    bodies.map((body) =>
      fetch(`${url}/v1/chat/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body, signal: leaving}).then(
        async (reply) => `${reply.status}${reply.ok ? '' : ` ${((await reply.json()) as {error: {message: string}}).error.message.slice(0, 80)}`}`,
        () => 'left',
      ),
    ),
  )
  const wallMs = performance.now() - started
  const sorted = await health.stop()
  const loop = await loopDelay()
  console.log(
    `round ${round + 1}: ${bodies.length} new schemas of ${options.alternatives} alternatives (${(bodies[0]!.length / 1e6).toFixed(1)} MB each, load ${loadavg()[0]!.toFixed(2)}): ` +
      `/health max ${sorted.at(-1)!.toFixed(0)} ms, p99 ${percentile(sorted, 0.99).toFixed(0)} ms over ${sorted.length}; loop delay max ${loop.maxMs.toFixed(0)} ms, p99 ${loop.p99Ms.toFixed(0)} ms; ` +
      `all replied in ${(wallMs / 1000).toFixed(1)} s: ${[...new Set(statuses)].join(' | ')}`,
  )
  if (leaving) {
    const start = performance.now()
    const reply = await fetch(`${url}/v1/chat/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: freshBody(10)})
    console.log(`  then a new 10-alternative schema: ${reply.status} in ${(performance.now() - start).toFixed(0)} ms`)
  }
}
server.stop()
