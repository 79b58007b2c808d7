// Replies heavy with logprobs (echo + logprobs, prompt_logprobs, chat top_logprobs) against `pagedllm serve` (dist/, a
// child process), one at a time while /health is polled every 10 ms; reports the server's event-loop delay (max),
// /health's worst wait and the reply's time and size, so a reply built on the event loop shows as a stall.
// Usage: npm run build:ts && node --import tsx scripts/serve-echo-logprobs.ts [--model DIR] [--tokens 1500] [--only echo5,...] [-- extra node flags]
import {loadavg} from 'node:os'
import {parseArgs} from 'node:util'
import {pollHealth, startProbedServer} from './probed-server.js'

const {values: options, positionals: nodeFlags} = parseArgs({
  allowPositionals: true,
  options: {model: {type: 'string'}, tokens: {type: 'string', default: '1500'}, only: {type: 'string'}, help: {type: 'boolean', short: 'h'}},
})
if (options.help) {
  console.log('Usage: node --import tsx scripts/serve-echo-logprobs.ts [--model DIR] [--tokens 1500] [--only echo5,...] [-- extra node flags]')
  process.exit(0)
}
const tokens = Number(options.tokens)
const prompt = Array.from({length: tokens}, (_, i) => 5 + ((i * 7) % 200))
const chat = (extra: object) => ({messages: [{role: 'user', content: 'hi'}], max_tokens: 1, ...extra})

/** Each shape: the route and its body (a prompt of --tokens token ids; one generated token unless it says otherwise). */
const SHAPES: Record<string, [route: string, body: unknown]> = {
  plain: ['/v1/completions', {prompt, max_tokens: 1}],
  echo5: ['/v1/completions', {prompt, max_tokens: 1, echo: true, logprobs: 5}],
  echo20: ['/v1/completions', {prompt, max_tokens: 1, echo: true, logprobs: 20}],
  echo5Stream: ['/v1/completions', {prompt, max_tokens: 1, echo: true, logprobs: 5, stream: true}],
  echo20Stream: ['/v1/completions', {prompt, max_tokens: 1, echo: true, logprobs: 20, stream: true}],
  promptLogprobs20: ['/v1/completions', {prompt, max_tokens: 1, prompt_logprobs: 20}],
  chatTop20: ['/v1/chat/completions', chat({max_tokens: tokens, min_tokens: tokens, logprobs: true, top_logprobs: 20})],
  chatTop20Stream: ['/v1/chat/completions', chat({max_tokens: tokens, min_tokens: tokens, logprobs: true, top_logprobs: 20, stream: true})],
}
const shapes = options.only ? options.only.split(',') : Object.keys(SHAPES)

const server = await startProbedServer(nodeFlags, options.model ? ['--model', options.model] : [])
const {url, loopDelay} = server

for (const name of shapes) {
  const [route, body] = SHAPES[name]!
  await loopDelay()
  const health = pollHealth(url)
  const started = performance.now()
  const reply = await fetch(`${url}${route}`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
  const bytes = (await reply.arrayBuffer()).byteLength
  const wallMs = performance.now() - started
  const healthMax = (await health.stop()).at(-1) ?? 0
  const loop = await loopDelay()
  console.log(`${name} (${tokens} tokens, load ${loadavg()[0]!.toFixed(1)}): ${reply.status}, ${(bytes / 1e6).toFixed(2)} MB in ${wallMs.toFixed(0)} ms; loop delay max ${loop.maxMs.toFixed(0)} ms; /health max ${healthMax.toFixed(0)} ms`)
}
server.stop()
