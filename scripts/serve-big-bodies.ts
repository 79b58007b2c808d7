// Large request bodies (3-4 MB, ~10^5 list items) against `pagedllm serve` (dist/, a child process): for each body shape,
// N such requests at once while /health is polled every 10 ms; reports /health latency (max, p99), the replies' status
// codes and the server's own event-loop delay (scripts/event-loop-probe.js).
// Usage: npm run build:ts && node --import tsx scripts/serve-big-bodies.ts [--model DIR] [--concurrent 4] [--only chatParts,...] [-- extra node flags, e.g. --cpu-prof]
import {loadavg} from 'node:os'
import {parseArgs} from 'node:util'
import {percentile, pollHealth, startProbedServer} from './probed-server.js'

const {values: options, positionals: nodeFlags} = parseArgs({
  allowPositionals: true,
  options: {model: {type: 'string'}, concurrent: {type: 'string', default: '4'}, only: {type: 'string'}},
})
const N = 100_000
const range = (n: number) => Array.from({length: n}, (_, i) => i)
const parts = range(N).map((i) => ({type: 'text', text: `part ${i % 100}`}))

/** Each shape: the route and a body of about 3-4 MB that the API takes (its fields at or past their limits). */
const SHAPES: Record<string, [route: string, body: () => unknown]> = {
  chatParts: ['/v1/chat/completions', () => ({messages: [{role: 'user', content: parts}], max_tokens: 1})],
  chatMessages: ['/v1/chat/completions', () => ({messages: range(N).map((i) => ({role: i % 2 ? 'assistant' : 'user', content: `m${i % 100}`})), max_tokens: 1})],
  chatTools: ['/v1/chat/completions', () => ({messages: [{role: 'user', content: 'hi'}], max_tokens: 1, tools: range(N / 8).map((i) => ({type: 'function', function: {name: `f${i}`, parameters: {type: 'object', properties: {a: {type: 'string'}}}}}))})],
  chatSchema: ['/v1/chat/completions', () => ({messages: [{role: 'user', content: 'hi'}], max_tokens: 1, response_format: {type: 'json_schema', json_schema: {name: 's', schema: {type: 'object', properties: Object.fromEntries(range(N / 2).map((i) => [`p${i}`, {type: 'integer'}]))}}}})],
  completionTokens: ['/v1/completions', () => ({prompt: range(N / 50).map(() => range(50).map((i) => i + 5)), max_tokens: 1})],
  completionLogitBias: ['/v1/completions', () => ({prompt: 'hi', max_tokens: 1, logit_bias: Object.fromEntries(range(N * 2).map((i) => [String(i), 1]))})],
  completionStop: ['/v1/completions', () => ({prompt: 'hi', max_tokens: 1, stop: range(N).map((i) => `s${i}`)})],
  responsesInput: ['/v1/responses', () => ({input: range(N).map((i) => ({role: 'user', content: `m${i % 100}`})), max_output_tokens: 1})],
  tokenizeParts: ['/tokenize', () => ({messages: [{role: 'user', content: parts}]})],
}
const shapes = options.only ? options.only.split(',') : Object.keys(SHAPES)

const server = await startProbedServer(nodeFlags, options.model ? ['--model', options.model] : [])
const {url, loopDelay} = server

for (const name of shapes) {
  const [route, makeBody] = SHAPES[name]!
  const body = JSON.stringify(makeBody())
  await loopDelay()
  const health = pollHealth(url)
  const started = performance.now()
  const statuses = await Promise.all(range(Number(options.concurrent)).map(() => fetch(`${url}${route}`, {method: 'POST', headers: {'content-type': 'application/json'}, body}).then(async (reply) => `${reply.status}${reply.ok ? '' : ` ${((await reply.json()) as {error: {message: string}}).error.message.slice(0, 80)}`}`)))
  const wallMs = performance.now() - started
  const sorted = await health.stop()
  const loop = await loopDelay()
  console.log(`${name} (${(body.length / 1e6).toFixed(1)} MB x ${options.concurrent}, load ${loadavg()[0]!.toFixed(1)}): /health max ${sorted.at(-1)!.toFixed(0)} ms, p99 ${percentile(sorted, 0.99).toFixed(0)} ms over ${sorted.length}${sorted.includes(Infinity) ? ` (${sorted.filter((ms) => ms === Infinity).length} reset)` : ''}; loop delay max ${loop.maxMs.toFixed(0)} ms; all replied in ${wallMs.toFixed(0)} ms: ${[...new Set(statuses)].join(' | ')}`)
}
server.stop()
