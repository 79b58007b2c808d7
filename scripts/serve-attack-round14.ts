// Round 14 of the serve attacks (docs/PERFORMANCE.md, "Round 14, serving"): clients that leave while a tokenizer worker
// runs a long job for them (a continuation parsing a ~40 MB stored chain), the end of a big Responses reply (1,900
// tokens with 20 top logprobs) in each of its three forms, slowloris headers and streams never read beside a normal
// client, and hostile inputs on every route (fields, wire). Each class
// runs on its own `pagedllm serve` (dist/, built-in model); after each, /health must be 200, the engine drained (no KV
// block, request or admitted sequence held) and a normal request served.
// Usage: npm run build:ts && npx tsx scripts/serve-attack-round14.ts [--only ghosts,ends,slow,inputs] [--seconds 15] [--verbose]
import {connect, type Socket} from 'node:net'
import {parseArgs} from 'node:util'
import {attackRun, idleProblem, load, percentiles, sleep, targetOf} from './serve-attack-harness.js'
import {percentile, pollHealth, startProbedServer} from './probed-server.js'
import {gist, problemOf, raw, request, type Target} from './serve-attack-wire.js'
import {hostileCases} from './serve-attack-round14-cases.js'

const {values: options} = parseArgs({options: {only: {type: 'string', default: 'ghosts,ends,slow,inputs'}, seconds: {type: 'string', default: '15'}, verbose: {type: 'boolean', default: false}}})
const seconds = Number(options.seconds)
const NORMAL = {path: '/v1/completions', body: {prompt: 'still serving?', max_tokens: 2}}
const {findings, finding, withServer} = attackRun(NORMAL)

async function storedId(t: Target, body: object): Promise<string> {
  const reply = await request(t, 'POST', '/v1/responses', {max_output_tokens: 1, temperature: 0, ...body}, {}, AbortSignal.timeout(300_000))
  if (reply.status !== 200) throw new Error(`could not store a response: ${gist(reply)}`)
  return JSON.parse(reply.text).id
}

/**
 * A chain of 6 stored responses, each with 90,000 reasoning items (the prompt stays small: each replaces the last), so
 * a continuation of its last makes a worker parse ~40 MB. 4 clients send such continuations and leave after 300 ms,
 * for `seconds`, while a normal client sends 2-token chats (whose tokenizing waits for a free worker); then 4 clients
 * that wait for their continuations' replies, the same way.
 */
async function ghosts(t: Target): Promise<void> {
  const reasoning = Array.from({length: 90_000}, () => ({type: 'reasoning', summary: []}))
  let last = await storedId(t, {input: [...reasoning, {role: 'user', content: 'hi'}]})
  for (let link = 1; link < 6; link++) last = await storedId(t, {input: [...reasoning, {role: 'user', content: `hi ${link}`}], previous_response_id: last})
  const alone = performance.now()
  const once = await request(t, 'POST', '/v1/responses', {input: 'next', previous_response_id: last, max_output_tokens: 1, store: false}, {}, AbortSignal.timeout(300_000))
  console.log(`  ghosts: one continuation of the 6-link chain, waited on: ${once.status} in ${(performance.now() - alone).toFixed(0)} ms (load ${load()})`)
  for (const leaveMs of [300, 0]) {
    let stop = false
    let sent = 0
    const statuses = new Map<string, number>()
    const flood = Array.from({length: 4}, async () => {
      while (!stop) {
        sent++
        const leaving = leaveMs > 0 ? AbortSignal.timeout(leaveMs) : AbortSignal.timeout(300_000)
        const reply = await request(t, 'POST', '/v1/responses', {input: 'next', previous_response_id: last, max_output_tokens: 1, store: false}, {}, leaving).catch(() => null)
        const status = reply === null ? 'left' : String(reply.status)
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
        if (reply !== null && reply.status !== 200) finding('ghosts', `a continuation: ${gist(reply)}`)
      }
    })
    await sleep(1000)
    const health = pollHealth(t.url)
    const latencies: number[] = []
    const chat = {messages: [{role: 'user', content: 'hello'}], max_tokens: 2}
    for (const until = performance.now() + seconds * 1000; performance.now() < until; ) {
      const started = performance.now()
      const reply = await request(t, 'POST', '/v1/chat/completions', chat, {}, AbortSignal.timeout(120_000))
      if (reply.status !== 200) finding('ghosts', `a normal chat: ${gist(reply)}`)
      latencies.push(performance.now() - started)
    }
    stop = true
    const waits = await health.stop()
    await Promise.all(flood)
    const counted = [...statuses].map(([status, n]) => `${n} x ${status}`).join(', ')
    console.log(`  ghosts: ${sent} continuations ${leaveMs > 0 ? `left after ${leaveMs} ms` : 'waited on'} (${counted}); normal chats beside them: ${percentiles(latencies)}; /health every 10 ms: p99 ${percentile(waits, 0.99).toFixed(0)} ms, max ${waits.at(-1)!.toFixed(0)} ms (load ${load()})`)
  }
}

/**
 * A 1,900-token response with 20 top logprobs (2.4 MB of JSON), stored, as a JSON reply, a stream and a background
 * stream: the server's event-loop delay (its probe) over each, whose end serializes the whole response.
 */
async function ends(): Promise<void> {
  const server = await startProbedServer([], ['--responses-store', '16'])
  const t = targetOf(server.url)
  try {
    const body = {input: 'Write.', max_output_tokens: 1900, top_logprobs: 20, include: ['message.output_text.logprobs'], temperature: 0, text: {format: {type: 'json_schema', name: 'long', schema: {type: 'object', properties: {a: {type: 'string', minLength: 3000}}, required: ['a']}}}}
    for (const [label, extra] of [['JSON reply', {}], ['stream', {stream: true}], ['background stream', {stream: true, background: true}]] as const) {
      await server.loopDelay()
      const reply = await request(t, 'POST', '/v1/responses', {...body, ...extra}, {}, AbortSignal.timeout(300_000))
      const loop = await server.loopDelay()
      if (reply.status !== 200) finding('ends', `${label}: ${gist(reply)}`)
      console.log(`  ends: ${label} (${(reply.text.length / 1e6).toFixed(1)} MB): server loop delay max ${loop.maxMs.toFixed(0)} ms, p99 ${loop.p99Ms.toFixed(0)} ms (load ${load()})`)
    }
    const problem = await idleProblem(t, NORMAL)
    if (problem) finding('ends', `after the class: ${problem}`)
  } finally {
    server.stop()
  }
}

/**
 * 200 connections sending their headers a byte per 500 ms (slowloris) and 16 streams whose clients never read
 * (1,000 tokens each), while a normal client sends 2-token completions for `seconds`: it must be served throughout.
 */
async function slowClients(t: Target): Promise<void> {
  const open = (bytes: string) =>
    new Promise<Socket>((resolve) => {
      const socket = connect(t.port, t.host, () => resolve(socket))
      socket.on('error', () => {})
      socket.pause()
      socket.write(bytes)
    })
  const slow = await Promise.all(Array.from({length: 200}, () => open('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-slow: ')))
  const drip = setInterval(() => slow.forEach((socket) => socket.writable && socket.write('a')), 500)
  const body = JSON.stringify({messages: [{role: 'user', content: 'hello'}], max_tokens: 1000, ignore_eos: true, stream: true, logprobs: true, top_logprobs: 20})
  const deaf = await Promise.all(Array.from({length: 16}, () => open(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`)))
  const latencies: number[] = []
  try {
    for (const until = performance.now() + seconds * 1000; performance.now() < until; ) {
      const started = performance.now()
      const reply = await request(t, 'POST', '/v1/completions', {prompt: 'hi', max_tokens: 2}, {}, AbortSignal.timeout(60_000))
      if (reply.status !== 200) finding('slow', `a normal completion: ${gist(reply)}`)
      latencies.push(performance.now() - started)
    }
  } finally {
    clearInterval(drip)
    console.log(`  slow: 200 slowloris headers and 16 streams never read; normal completions: ${percentiles(latencies)} (load ${load()})`)
    for (const socket of [...slow, ...deaf]) socket.destroy()
  }
  const sorted = [...latencies].sort((x, y) => x - y)
  if (sorted[sorted.length >> 1]! > 2000) finding('slow', `normal completions p50 ${sorted[sorted.length >> 1]!.toFixed(0)} ms beside slow clients`)
}

/** Hostile inputs on every route (scripts/serve-attack-round14-cases.ts): each a shaped 200 or a 4xx, none a 5xx or a hang. */
async function inputs(t: Target): Promise<void> {
  const counts = new Map<string, number>()
  for (const testCase of hostileCases()) {
    const started = performance.now()
    let seen: string
    if (testCase.kind === 'raw') {
      const reply = await raw(t, testCase.pieces, testCase.idleMs ?? 1500)
      const status = reply.statuses.filter((code) => code >= 200).at(0)
      const bad = status === undefined ? (testCase.mayCloseUnanswered && reply.closed ? null : 'no reply') : status >= 500 ? `a ${status}` : testCase.expect && status !== testCase.expect ? `a ${status}, not ${testCase.expect}` : null
      if (bad) finding('inputs', `${testCase.name}: ${bad} (${gist(reply)})`)
      seen = String(status ?? 'closed')
    } else {
      const reply = await request(t, 'POST', testCase.path, testCase.body, testCase.headers ?? {}, AbortSignal.timeout(120_000)).catch((error: Error) => ({status: 0, contentType: '', text: error.message}))
      const problem = reply.status === 0 ? `no reply: ${reply.text}` : problemOf(testCase.path, reply, typeof testCase.body === 'string' ? safeParse(testCase.body) : testCase.body)
      if (problem) finding('inputs', `${testCase.name}: ${problem}`)
      else if (testCase.expect && reply.status !== testCase.expect) finding('inputs', `${testCase.name}: a ${reply.status}, not ${testCase.expect} (${gist(reply)})`)
      seen = String(reply.status)
    }
    counts.set(seen, (counts.get(seen) ?? 0) + 1)
    const ms = performance.now() - started
    if (ms > 20_000) finding('inputs', `${testCase.name}: ${ms.toFixed(0)} ms`)
    if (ms > 2_000 || options.verbose) console.log(`  inputs: ${testCase.name}: ${seen} in ${ms.toFixed(0)} ms`)
  }
  console.log(`  inputs: ${[...counts].map(([status, n]) => `${status} x${n}`).join(', ')} (load ${load()})`)
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const only = new Set(options.only.split(','))
if (only.has('ghosts')) await withServer('ghosts', ['--responses-store', '16'], ghosts)
if (only.has('ends')) await ends()
if (only.has('slow')) await withServer('slow', ['--slow-client-timeout', '3'], slowClients)
if (only.has('inputs')) await withServer('inputs', ['--responses-store', '16', '--num-blocks', '64'], inputs)
console.log(findings.length === 0 ? '\nno findings; every server drained and served a normal request after each class' : `\n${findings.length} findings:\n${findings.join('\n')}`)
process.exit(findings.length === 0 ? 0 : 1)
