// Hostile load on `pagedllm serve` (dist/, a child process): prompt lists, 3.6 MB prompts, slow readers, disconnects and slow headers beside normal traffic.
// Usage: npm run build:ts && node --import tsx scripts/serve-hostile.ts --model DIR [--seconds 20] [--root .] [--only normal,hugePrompts,...] [-- extra serve flags]
// Loopback only, bounded in time. Reports requests served per kind, normal-traffic latency, the server's event-loop delay p99 and RSS.
import {spawn} from 'node:child_process'
import {connect, type Socket} from 'node:net'
import {loadavg} from 'node:os'
import {join, resolve} from 'node:path'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const {values: options, positionals: serveFlags} = parseArgs({
  allowPositionals: true,
  options: {
    model: {type: 'string'},
    root: {type: 'string', default: '.'},
    seconds: {type: 'string', default: '20'},
    'normal-clients': {type: 'string', default: '4'},
    /** Run only these kinds of traffic (normal, promptLists, hugePrompts, slowReaders, disconnects, slowHeaders, tinyStreams). */
    only: {type: 'string'},
    /** tinyStreams: how many clients at once. */
    'tiny-clients': {type: 'string', default: '100'},
  },
})
if (!options.model) throw new Error('--model DIR is required (e.g. a tinychat checkpoint or .cache/models/tiny-0-f32)')
const root = resolve(options.root)
const seconds = Number(options.seconds)
const KINDS = ['normal', 'promptLists', 'hugePrompts', 'slowReaders', 'disconnects', 'slowHeaders', 'tinyStreams'] as const
const enabled = new Set(options.only ? options.only.split(',') : KINDS)
for (const kind of enabled) if (!(KINDS as readonly string[]).includes(kind)) throw new Error(`--only: unknown kind ${kind}; kinds: ${KINDS.join(', ')}`)
const probe = fileURLToPath(new URL('./event-loop-probe.js', import.meta.url))
const REQUEST_TIMEOUT_MS = 30_000

interface ServerChild {
  url: string
  /** Streams the server cut because their client stopped reading (its log says so). */
  cutStreams: () => number
  report: () => Promise<{p99Ms: number; maxMs: number; rssBytes: number}>
  stop: () => Promise<void>
}

async function startServer(): Promise<ServerChild> {
  const args = ['--import', probe, join(root, 'bin/run.js'), 'serve', '--model', options.model!, '--port', '0', '--threads', '1', ...serveFlags]
  const child = spawn(process.execPath, args, {stdio: ['ignore', 'ignore', 'pipe']})
  const lines = createInterface({input: child.stderr!})
  const waiters: {prefix: string; resolve: (line: string) => void}[] = []
  let cutStreams = 0
  lines.on('line', (line) => {
    if (line.includes('cut a stream')) return void cutStreams++
    const waiter = waiters.find((candidate) => line.includes(candidate.prefix))
    if (waiter) {
      waiters.splice(waiters.indexOf(waiter), 1)
      waiter.resolve(line)
    } else if (!line.startsWith('pagedllm') && !/^(model|backend|kv cache|ready):/.test(line)) process.stderr.write(`  [server] ${line}\n`)
  })
  const next = (prefix: string) => new Promise<string>((resolve) => waiters.push({prefix, resolve}))
  const listening = next('listening on ')
  const ready = next('ready: ')
  const url = /listening on (\S+),/.exec(await listening)![1]!
  await ready
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    url,
    cutStreams: () => cutStreams,
    report: async () => {
      const line = next('EVENT_LOOP ')
      child.kill('SIGUSR2')
      return JSON.parse((await line).slice((await line).indexOf('{')))
    },
    stop: async () => {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    },
  }
}

type Tally = Map<string, number>
const count = (tally: Tally, key: string) => tally.set(key, (tally.get(key) ?? 0) + 1)

async function post(url: string, body: unknown, signal?: AbortSignal): Promise<{status: number; text: string}> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  })
  return {status: response.status, text: await response.text()}
}

/** Runs `work` again and again until the deadline, tallying each outcome (a status, or the error's name). */
async function loop(deadline: number, tally: Tally, work: () => Promise<string>): Promise<void> {
  while (Date.now() < deadline && enabled.has(kindOf(tally))) {
    try {
      count(tally, await work())
    } catch (error) {
      count(tally, (error as Error).name)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

let kindOf: (tally: Tally) => string = () => ''

function openSocket(url: string): Promise<Socket> {
  const {hostname, port} = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket))
    socket.once('error', reject)
  })
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

async function main(): Promise<void> {
  const server = await startServer()
  const before = await server.report()
  const base = server.url
  const deadline = Date.now() + seconds * 1000
  const tallies = Object.fromEntries(KINDS.map((kind) => [kind, new Map()])) as Record<(typeof KINDS)[number], Tally>
  kindOf = (tally) => KINDS.find((kind) => tallies[kind] === tally)!
  const normalLatencies: number[] = []
  const huge = 'hello '.repeat(600_000) // 3.6 MB, under the 4 MiB body limit

  const normal = Array.from({length: Number(options['normal-clients'])}, (_, client) =>
    loop(deadline, tallies.normal, async () => {
      const started = performance.now()
      const reply = await post(`${base}/v1/completions`, {prompt: `Once upon a time ${client}`, max_tokens: 8, temperature: 0, ignore_eos: true})
      if (reply.status === 200) normalLatencies.push(performance.now() - started)
      return String(reply.status)
    }),
  )
  let listIndex = 0
  const promptLists = loop(deadline, tallies.promptLists, async () => {
    const size = listIndex++ % 2 === 0 ? 1000 : 5000
    return `${size}:${(await post(`${base}/v1/completions`, {prompt: Array.from({length: size}, (_, index) => `word${index}`), max_tokens: 2})).status}`
  })
  const hugePrompts = loop(deadline, tallies.hugePrompts, async () => {
    const chat = Math.random() < 0.5
    const reply = chat ? await post(`${base}/v1/chat/completions`, {messages: [{role: 'user', content: huge}]}) : await post(`${base}/v1/completions`, {prompt: huge})
    return String(reply.status)
  })
  // Slow readers: stream a long, wide completion and never read it (a paused socket; the server's log counts the cuts).
  const slowReaders = Array.from({length: 2}, () =>
    loop(deadline, tallies.slowReaders, async () => {
      const socket = await openSocket(base)
      socket.pause()
      socket.on('error', () => {})
      const body = JSON.stringify({prompt: 'The slow reader', n: 16, max_tokens: 1500, logprobs: 5, ignore_eos: true, stream: true})
      socket.write(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(10_000, deadline - Date.now()))))
      socket.destroy()
      return 'sent'
    }),
  )
  // Disconnects: a streaming chat dropped after its first chunk.
  const disconnects = loop(deadline, tallies.disconnects, async () => {
    const controller = new AbortController()
    const response = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({messages: [{role: 'user', content: 'hi'}], max_tokens: 200, ignore_eos: true, stream: true}),
      signal: controller.signal,
    })
    await response.body!.getReader().read()
    controller.abort()
    return String(response.status)
  })
  // Slow headers: connections that never finish their headers.
  const slowHeaders = Promise.all(
    Array.from({length: enabled.has('slowHeaders') ? 20 : 0}, async () => {
      const socket = await openSocket(base)
      socket.write('POST /v1/completions HTTP/1.1\r\nhost: x\r\n')
      socket.on('error', () => {})
      socket.resume() // read the 408, or 'close' never comes
      const closed = new Promise<string>((resolve) => socket.once('close', () => resolve('closed by server')))
      const timeUp = new Promise<string>((resolve) => setTimeout(() => resolve('still open at the end'), Math.max(0, deadline - Date.now())))
      count(tallies.slowHeaders, await Promise.race([closed, timeUp]))
      socket.destroy()
    }),
  )
  // Tiny streams: many clients at once, each streaming a short chat and reading it a sip (one socket read) every 500 ms;
  // each sip keeps it under the slow-client timeout, so nothing cuts them. Compare normal latency with `--only normal`.
  const tinyStreams = Array.from({length: enabled.has('tinyStreams') ? Number(options['tiny-clients']) : 0}, (_, client) =>
    loop(deadline, tallies.tinyStreams, async () => {
      const socket = await openSocket(base)
      socket.on('error', () => {})
      socket.pause()
      const body = JSON.stringify({messages: [{role: 'user', content: `tiny ${client}`}], max_tokens: 48, ignore_eos: true, stream: true, stream_options: {include_usage: true}})
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
      let text = ''
      while (!text.includes('[DONE]') && Date.now() < deadline && !socket.destroyed) {
        await new Promise((resolve) => setTimeout(resolve, 500))
        const chunk = socket.read(512) ?? socket.read()
        if (chunk) text += chunk.toString('latin1')
      }
      socket.destroy()
      return text.includes('[DONE]') ? 'done' : /^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? (socket.destroyed ? 'closed' : 'unfinished')
    }),
  )
  await Promise.all([...normal, promptLists, hugePrompts, ...slowReaders, disconnects, slowHeaders, ...tinyStreams])

  const health = await fetch(`${base}/health`, {signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)}).then((response) => String(response.status), (error: Error) => error.name)
  let usedBlocks = NaN
  for (let attempt = 0; attempt < 50; attempt++) {
    const metrics = await fetch(`${base}/metrics`, {signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)}).then((response) => response.text(), () => '')
    usedBlocks = Number(/pagedllm_kv_blocks\{state="used"\} (\S+)/.exec(metrics)?.[1])
    const running = Number(/pagedllm_num_requests_running (\S+)/.exec(metrics)?.[1])
    if (usedBlocks === 0 && running === 0) break
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  const after = await server.report()
  tallies.slowReaders.set('cut by the server', server.cutStreams())
  await server.stop()

  const show = (tally: Tally) => [...tally].map(([key, value]) => `${key} x${value}`).join(', ') || '-'
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`
  console.log(`serve-hostile: ${seconds} s against ${root} (model ${options.model}); load average before ${loadavg().map((value) => value.toFixed(2)).join(' ')}`)
  for (const [kind, tally] of Object.entries(tallies)) if (enabled.has(kind)) console.log(`  ${kind.padEnd(12)} ${show(tally)}`)
  console.log(`  normal latency   p50 ${percentile(normalLatencies, 50).toFixed(0)} ms, p99 ${percentile(normalLatencies, 99).toFixed(0)} ms over ${normalLatencies.length} replies`)
  console.log(`  event loop       p99 ${after.p99Ms.toFixed(1)} ms, max ${after.maxMs.toFixed(0)} ms (server process, whole run)`)
  console.log(`  rss              ${mib(before.rssBytes)} before, ${mib(after.rssBytes)} after`)
  console.log(`  afterwards       /health ${health}, KV blocks in use ${usedBlocks}`)
}

await main()
