// The lifecycle attacks of scripts/serve-attacks.ts: clients that leave mid-stream, mid-prefill, mid-compile or while
// queued, floods of aborts, slow readers, and background responses retrieved, cancelled and deleted at odd moments.
import {request as httpRequest} from 'node:http'
import {connect, type Socket} from 'node:net'
import type {Attack} from './serve-attack-http.js'
import {gist, postBytes, problemOf, request, type Target} from './serve-attack-wire.js'

/** Sends a POST and destroys the connection `afterMs` after sending (or after the first reply bytes, with 'first-byte'). */
function leave(target: Target, path: string, body: unknown, afterMs: number | 'first-byte'): Promise<void> {
  return new Promise((resolve) => {
    const text = JSON.stringify(body)
    const req = httpRequest({host: target.host, port: target.port, method: 'POST', path, headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)}, agent: false}, (response) => {
      response.once('data', () => afterMs === 'first-byte' && req.destroy())
      response.on('error', () => {})
      response.on('end', resolve)
    })
    req.on('error', () => {})
    req.on('close', resolve)
    req.end(text)
    if (afterMs !== 'first-byte') setTimeout(() => req.destroy(), afterMs)
  })
}

/** Reads the reply to `bytes` and hangs up once `cutAt` bytes are in (null: reads it all); the bytes read. */
function readUntil(target: Target, bytes: Buffer, cutAt: number | null): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(target.port, target.host)
    let read = 0
    const done = () => (socket.destroy(), resolve(read))
    socket.on('data', (chunk: Buffer) => {
      read += chunk.length
      if ((cutAt !== null && read >= cutAt) || /0\r\n\r\n$/.test(chunk.toString('latin1', Math.max(0, chunk.length - 5)))) done()
    })
    socket.on('close', done)
    socket.on('error', done)
    socket.setTimeout(30_000, done)
    // write, not end: a half-closed request is a client gone to node's server, which answers nothing.
    socket.write(bytes)
  })
}

/** The whole reply's length first, then the client hangs up at 32 points through it: headers, each slice, the tail. */
const cutThroughout = (name: string, path: string, body: unknown): Attack => ({cls: 'lifecycle', name: `hang up at every 1/32 of ${name}`, run: async (t) => {
  const bytes = postBytes(path, JSON.stringify(body), {connection: 'close'})
  const whole = await readUntil(t, bytes, null)
  for (let i = 0; i < 32; i++) await readUntil(t, bytes, Math.max(1, Math.floor((whole * i) / 32)))
  return whole < 1000 ? `the reply was only ${whole} bytes` : null
}})

async function inParallel(count: number, width: number, each: (index: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({length: width}, async () => {
    while (next < count) await each(next++)
  }))
}

const LONG_PROMPT = 'the quick brown fox jumps over the lazy dog '.repeat(150)
const SCHEMA = {type: 'object', properties: Object.fromEntries(Array.from({length: 40}, (_, i) => [`k${i}`, {type: 'string', pattern: `^[a-z]{${i},${i + 30}}$`}])), required: ['k1']}

const leaving = (name: string, count: number, width: number, path: string, body: (i: number) => unknown, afterMs: (i: number) => number | 'first-byte'): Attack => ({
  cls: 'lifecycle',
  name: `${name} x${count}`,
  run: async (t) => {
    await inParallel(count, width, (i) => leave(t, path, body(i), afterMs(i)))
    return null
  },
})

async function background(t: Target): Promise<string | null> {
  const started = await request(t, 'POST', '/v1/responses', {input: 'hi', background: true, max_output_tokens: 200, stream: false})
  if (started.status !== 200) return `background start: ${gist(started)}`
  const id = JSON.parse(started.text).id as string
  const checks: [string, string, number[]][] = [
    ['GET', `/v1/responses/${id}`, [200]],
    ['GET', `/v1/responses/${id}?stream=true&starting_after=-5`, [200, 400]],
    ['GET', `/v1/responses/${id}?stream=true&starting_after=1e400`, [200, 400]],
    ['GET', `/v1/responses/${id}/input_items?limit=0`, [200, 400]],
    ['GET', `/v1/responses/${id}/input_items?limit=100000&order=sideways`, [400]],
    ['POST', `/v1/responses/${id}/cancel`, [200]],
    ['POST', `/v1/responses/${id}/cancel`, [200, 400]],
    ['DELETE', `/v1/responses/${id}`, [200]],
    ['DELETE', `/v1/responses/${id}`, [404]],
    ['GET', `/v1/responses/${id}`, [404]],
    ['POST', `/v1/responses/${id}/cancel`, [404]],
  ]
  for (const [method, path, statuses] of checks) {
    const reply = await request(t, method, path, method === 'POST' ? {} : undefined)
    // A streamed retrieve of a non-streamed response is fine either way; the shape rule covers the rest.
    if (!statuses.includes(reply.status)) return `${method} ${path}: ${gist(reply)}`
    if (reply.status !== 200 && problemOf(path, reply, undefined)) return `${method} ${path}: ${problemOf(path, reply, undefined)}`
  }
  return null
}

async function backgroundDeletedWhileRunning(t: Target): Promise<string | null> {
  const ids: string[] = []
  for (let i = 0; i < 20; i++) {
    const started = await request(t, 'POST', '/v1/responses', {input: LONG_PROMPT.slice(0, 300), background: true, stream: i % 2 === 0, max_output_tokens: 300})
    if (started.status !== 200) return `background start ${i}: ${gist(started)}`
    ids.push(started.contentType.includes('event-stream') ? /"id":"(resp_[^"]+)"/.exec(started.text)![1]! : JSON.parse(started.text).id)
  }
  for (const id of ids) {
    const reply = await request(t, 'DELETE', `/v1/responses/${id}`)
    if (reply.status >= 500) return `DELETE running ${id}: ${gist(reply)}`
  }
  return null
}

/** A background response's events read by GET ?stream=true from `startingAfter`, leaving after `leaveAfter` events. */
async function follow(t: Target, id: string, startingAfter: number, leaveAfter = Infinity): Promise<{status: number; events: {type: string; sequence_number: number}[]; raw: string[]}> {
  const controller = new AbortController()
  const query = startingAfter < 0 ? '' : `&starting_after=${startingAfter}`
  const response = await fetch(`${t.url}/v1/responses/${id}?stream=true${query}`, {signal: AbortSignal.any([controller.signal, AbortSignal.timeout(60_000)])})
  if (response.status !== 200) return {status: response.status, events: [], raw: [await response.text()]}
  const raw: string[] = []
  let buffered = ''
  const decoder = new TextDecoder()
  try {
    for await (const chunk of response.body!) {
      buffered += decoder.decode(chunk, {stream: true})
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        const data = buffered.slice(0, end).split('\n').find((line) => line.startsWith('data: '))
        buffered = buffered.slice(end + 2)
        if (data !== undefined) raw.push(data.slice(6))
      }
      if (raw.length >= leaveAfter) break
    }
  } catch {}
  controller.abort()
  return {status: 200, events: raw.map((each) => JSON.parse(each)), raw}
}

/** Starts a background stream and leaves once its first event (which names the response) is in; the response's id. */
async function startBackground(t: Target, body: Record<string, unknown>): Promise<{id: string} | {reply: {status: number; contentType: string; text: string}}> {
  const controller = new AbortController()
  const response = await fetch(`${t.url}/v1/responses`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({...body, background: true, stream: true}), signal: controller.signal})
  if (response.status !== 200) return {reply: {status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text()}}
  let text = ''
  let id: string | undefined
  try {
    for await (const chunk of response.body!) {
      text += Buffer.from(chunk).toString()
      id = /"id":"(resp_[^"]+)"/.exec(text)?.[1]
      if (id !== undefined) break
    }
  } catch {}
  controller.abort()
  return id === undefined ? {reply: {status: 200, contentType: 'text/event-stream', text}} : {id}
}

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed'])

/**
 * Chains of background streams (each continuing the last by previous_response_id) in 6 lanes, while 240 small stored
 * responses churn a 64-entry store: each run followed live from its start and from event 4 (that one leaving early),
 * every other one cancelled mid-way, then replayed from the store. A live follower's events must be numbered without a
 * gap and end with a terminal event unless cancelled; the replay must equal them; a link the churn evicted must be a 404
 * naming previous_response_id, never a 5xx.
 */
async function backgroundChainsUnderChurn(t: Target): Promise<string | null> {
  const problems: string[] = []
  let evicted = 0
  let cancels = 0
  const churn = inParallel(240, 4, async (i) => {
    const reply = await request(t, 'POST', '/v1/responses', {input: `churn ${i}`, max_output_tokens: 1})
    if (reply.status !== 200) problems.push(`churn ${i}: ${gist(reply)}`)
  })
  const lane = async (laneIndex: number) => {
    let previous: string | null = null
    for (let step = 0; step < 6 && problems.length === 0; step++) {
      const label = `lane ${laneIndex} step ${step}`
      const started = await startBackground(t, {input: `${label}: go on`, max_output_tokens: 24 + 8 * step, ...(previous === null ? {} : {previous_response_id: previous})})
      if ('reply' in started) {
        const gone = started.reply.status === 404 && previous !== null && JSON.parse(started.reply.text).error?.param === 'previous_response_id'
        if (!gone) problems.push(`${label} start: ${gist(started.reply)}`)
        evicted++
        previous = null
        continue
      }
      const {id} = started
      const cancelling = (laneIndex + step) % 2 === 1
      const [whole, late, cancelled] = await Promise.all([
        follow(t, id, -1),
        follow(t, id, 3, 2),
        cancelling ? new Promise((wait) => setTimeout(wait, 30 * laneIndex)).then(() => request(t, 'POST', `/v1/responses/${id}/cancel`, {})) : null,
      ])
      if (whole.status !== 200) {
        problems.push(`${label} follow: ${whole.status} ${whole.raw[0]?.slice(0, 160)}`)
        continue
      }
      const numbers = whole.events.map((event) => event.sequence_number)
      if (numbers.some((number, i) => number !== i)) problems.push(`${label}: live events numbered ${numbers.slice(0, 20).join(',')}`)
      const last = whole.events[whole.events.length - 1]?.type ?? 'none'
      const wasCancelled = cancelled !== null && cancelled.status === 200 && JSON.parse(cancelled.text).status === 'cancelled'
      if (wasCancelled) cancels++
      if (cancelled !== null && !wasCancelled && !(cancelled.status === 400 && /already finished/.test(cancelled.text))) problems.push(`${label} cancel: ${gist(cancelled)}`)
      if (!wasCancelled && !TERMINAL.has(last)) problems.push(`${label}: the live stream ended on ${last}`)
      if (late.status === 200 && late.events.length > 0 && late.events[0]!.sequence_number !== 4) problems.push(`${label}: starting_after=3 began at ${late.events[0]!.sequence_number}`)
      const replay = await follow(t, id, -1)
      if (replay.status === 404) evicted++
      else if (replay.status !== 200 || replay.raw.join('\n') !== whole.raw.join('\n')) problems.push(`${label}: the replay (${replay.status}, ${replay.events.length} events) differs from the live stream (${whole.events.length} events)`)
      const stored = await request(t, 'GET', `/v1/responses/${id}`)
      if (stored.status === 200 && wasCancelled !== (JSON.parse(stored.text).status === 'cancelled')) problems.push(`${label}: stored status ${JSON.parse(stored.text).status}, cancel said ${cancelled?.text.slice(0, 80)}`)
      else if (stored.status !== 200 && stored.status !== 404) problems.push(`${label} GET: ${gist(stored)}`)
      previous = id
    }
  }
  await Promise.all([churn, ...Array.from({length: 6}, (_, i) => lane(i))])
  console.log(`  background chains: ${cancels} runs cancelled, ${evicted} links or replays evicted by the churn`)
  return problems.length === 0 ? null : problems.slice(0, 5).join('; ')
}

/** A stream read one socket chunk a second: far slower than the reply is made, never idle long enough to be cut (3 s here). */
function trickle(target: Target, body: unknown): {socket: Socket; read: Promise<void>} {
  const socket = connect(target.port, target.host)
  socket.on('error', () => {})
  socket.on('data', () => {
    socket.pause()
    setTimeout(() => socket.resume(), 1000)
  })
  socket.write(postBytes('/v1/completions', JSON.stringify(body), {connection: 'close'}))
  return {socket, read: new Promise((resolve) => socket.once('close', () => resolve()))}
}

function gauge(metrics: string, series: string): number {
  const line = metrics.split('\n').find((each) => each.startsWith(`${series} `))
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1))
}

/** Two 64-sample streams with 20 logprobs (MBs each) read at a trickle: once the engine is done with them they hold no slots or blocks, and others run. */
async function slowReadersHoldNoSlots(t: Target): Promise<string | null> {
  const tokensBefore = gauge((await request(t, 'GET', '/metrics')).text, 'pagedllm_generation_tokens_total')
  const body = {prompt: 'a slow reader', max_tokens: 96, n: 64, logprobs: 20, stream: true, ignore_eos: true}
  const readers = [trickle(t, body), trickle(t, body)]
  let readersDone = false
  void Promise.all(readers.map((reader) => reader.read)).then(() => (readersDone = true))
  try {
    for (const deadline = performance.now() + 120_000; performance.now() < deadline; await new Promise((wait) => setTimeout(wait, 200))) {
      const metrics = (await request(t, 'GET', '/metrics')).text
      const generated = gauge(metrics, 'pagedllm_generation_tokens_total') - tokensBefore >= 2 * 64 * 96
      if (!generated || gauge(metrics, 'pagedllm_num_requests_running') > 0) continue
      // Generation is over; the readers are still taking their replies.
      if (readersDone) return null
      const held = gauge(metrics, 'pagedllm_admitted_sequences{state="held"}')
      const used = gauge(metrics, 'pagedllm_kv_blocks{state="used"}')
      if (held > 0 || used > 0) return `slow readers hold ${held} sequence slots and ${used} KV blocks after their generation ended`
      const next = await request(t, 'POST', '/v1/completions', {prompt: 'behind slow readers', max_tokens: 4, n: 64})
      return next.status === 200 ? null : `a request behind slow readers: ${gist(next)}`
    }
    return 'the slow readers\' generation did not end within 120 s'
  } finally {
    for (const reader of readers) reader.socket.destroy()
  }
}

/** serve-attacks.ts starts its server with this --max-reply-memory. */
export const REPLY_MEMORY_CAP = 8 * 1024 * 1024

/**
 * Eight clients that never read their MBs of echoed logprobs: the bytes their replies hold together, sampled until they
 * are cut, must stay within --max-reply-memory plus the one reply the cap spares (a whole one, read first: ~27 MB).
 */
async function stalledRepliesCapped(t: Target): Promise<string | null> {
  const body = {prompt: LONG_PROMPT.slice(0, 5000), max_tokens: 1, echo: true, logprobs: 5, n: 32}
  const whole = Buffer.byteLength((await request(t, 'POST', '/v1/completions', body)).text)
  const sockets = Array.from({length: 8}, () => {
    const socket = connect(t.port, t.host)
    socket.on('error', () => {})
    socket.pause()
    socket.write(postBytes('/v1/completions', JSON.stringify(body)))
    return socket
  })
  let most = 0
  try {
    for (const deadline = performance.now() + 60_000; performance.now() < deadline; await new Promise((wait) => setTimeout(wait, 100))) {
      const metrics = (await request(t, 'GET', '/metrics')).text
      most = Math.max(most, gauge(metrics, 'pagedllm_reply_bytes_waiting'))
      if (gauge(metrics, 'pagedllm_num_requests_running') === 0 && gauge(metrics, 'pagedllm_num_requests_waiting') === 0 && gauge(metrics, 'pagedllm_reply_bytes_waiting') === 0 && most > 0) break
    }
  } finally {
    for (const socket of sockets) socket.destroy()
  }
  if (most === 0) return 'no reply ever waited for its reader: the attack no longer stalls one'
  console.log(`  stalled replies held at most ${(most / 2 ** 20).toFixed(1)} MiB at once (cap ${REPLY_MEMORY_CAP / 2 ** 20} MiB, one whole reply ${(whole / 2 ** 20).toFixed(1)} MiB)`)
  return most > REPLY_MEMORY_CAP + whole ? `stalled replies held ${most} bytes at once, over the cap of ${REPLY_MEMORY_CAP} and one whole reply (${whole})` : null
}

export function lifecycleAttacks(): Attack[] {
  const stream = (i: number) => ({prompt: `story ${i}`, max_tokens: 200, stream: true, ignore_eos: true})
  return [
    leaving('disconnect at the first streamed byte', 60, 6, '/v1/completions', stream, () => 'first-byte'),
    leaving('disconnect mid-stream (chat)', 40, 6, '/v1/chat/completions', (i) => ({messages: [{role: 'user', content: `hi ${i}`}], max_tokens: 200, stream: true, ignore_eos: true, n: 3}), (i) => 20 + (i % 7) * 15),
    leaving('disconnect mid-prefill', 30, 3, '/v1/completions', (i) => ({prompt: LONG_PROMPT + i, max_tokens: 5}), (i) => 5 + (i % 5) * 10),
    leaving('disconnect mid-prefill with prompt_logprobs', 10, 2, '/v1/completions', (i) => ({prompt: LONG_PROMPT + i, max_tokens: 1, prompt_logprobs: 5, echo: true, logprobs: 5}), () => 40),
    leaving('disconnect during a grammar compile', 20, 4, '/v1/chat/completions', (i) => ({messages: [{role: 'user', content: 'x'}], max_tokens: 20, response_format: {type: 'json_schema', json_schema: {name: 'x', schema: {...SCHEMA, description: `v${i}`}}}}), (i) => 5 + (i % 4) * 20),
    leaving('disconnect while queued behind a flood', 200, 200, '/v1/completions', (i) => ({prompt: `q${i}`, max_tokens: 100, n: 4, ignore_eos: true}), (i) => 50 + (i % 10) * 20),
    leaving('beam search abandoned', 10, 5, '/v1/completions', (i) => ({prompt: `b${i}`, max_tokens: 40, use_beam_search: true, n: 4, best_of: 4}), () => 60),
    leaving('best_of abandoned', 10, 5, '/v1/completions', (i) => ({prompt: `c${i}`, max_tokens: 40, best_of: 8, n: 2, ignore_eos: true}), () => 60),
    leaving('background stream client leaves', 10, 5, '/v1/responses', (i) => ({input: `r${i}`, max_output_tokens: 100, stream: true, background: true}), () => 'first-byte'),
    leaving('thousands of aborts', 2000, 50, '/v1/completions', (i) => ({prompt: `abort ${i}`, max_tokens: 64, stream: i % 2 === 0}), (i) => i % 40),
    cutThroughout('a 1 MB echoed logprobs reply', '/v1/completions', {prompt: LONG_PROMPT.slice(0, 800), max_tokens: 20, echo: true, logprobs: 20, prompt_logprobs: 20, n: 2, ignore_eos: true}),
    cutThroughout('a chat stream with logprobs', '/v1/chat/completions', {messages: [{role: 'user', content: 'hi'}], max_tokens: 40, logprobs: true, top_logprobs: 20, n: 3, ignore_eos: true, stream: true, stream_options: {include_usage: true, continuous_usage_stats: true}}),
    {cls: 'lifecycle', name: 'background retrieve / cancel / delete', run: background},
    {cls: 'lifecycle', name: 'background responses deleted while running', run: backgroundDeletedWhileRunning},
    {cls: 'lifecycle', name: 'background chains followed, cancelled and replayed while the store churns', run: backgroundChainsUnderChurn},
    {cls: 'lifecycle', name: 'slow readers keep no slots once generated', run: slowReadersHoldNoSlots},
    {cls: 'lifecycle', name: 'stalled readers of long replies stay within --max-reply-memory', run: stalledRepliesCapped},
  ]
}
