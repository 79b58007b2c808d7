// `pagedllm serve` from dist/ as a child process with the event-loop probe preloaded (scripts/event-loop-probe.js), for
// the serve measurement scripts: its URL, its event-loop delay since the last reading, and its stderr passed on.
import {spawn} from 'node:child_process'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'

export interface ProbedServer {
  url: string
  /** The server's event-loop delay since the last call (the probe resets on each reading). */
  loopDelay(): Promise<{p99Ms: number; maxMs: number; rssBytes: number}>
  stop(): void
}

export async function startProbedServer(nodeFlags: readonly string[], serveFlags: readonly string[]): Promise<ProbedServer> {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const probe = fileURLToPath(new URL('./event-loop-probe.js', import.meta.url))
  const child = spawn(process.execPath, [...nodeFlags, '--import', probe, `${root}/bin/run.js`, 'serve', '--port', '0', '--threads', '1', ...serveFlags], {stdio: ['ignore', 'ignore', 'pipe'], cwd: process.cwd()})
  process.on('exit', () => child.kill('SIGKILL')) // a failed run must not leave the server behind
  const lines = createInterface({input: child.stderr!})
  let onLine: (line: string) => void = () => {}
  lines.on('line', (line) => {
    if (!line.startsWith('EVENT_LOOP') && !/^(pagedllm|model|backend|kv cache|ready|no --model|note):/.test(line) && !line.startsWith('pagedllm ')) process.stderr.write(`  [server] ${line}\n`)
    onLine(line)
  })
  const nextLine = (prefix: string) => new Promise<string>((resolve) => (onLine = (line) => line.includes(prefix) && resolve(line)))
  const url = /at (\S+)\/v1/.exec(await nextLine('ready: '))![1]!
  return {
    url,
    async loopDelay() {
      const report = nextLine('EVENT_LOOP ')
      child.kill('SIGUSR2')
      return JSON.parse((await report).slice('EVENT_LOOP '.length))
    },
    stop: () => child.kill('SIGTERM'),
  }
}

/** Polls the server's /health every 10 ms until stopped; `stop` gives the waits, sorted, a reset counted as Infinity
 * (a stalled loop lets keep-alive timers close sockets clients are reusing). */
export function pollHealth(url: string): {stop(): Promise<number[]>} {
  const waits: number[] = []
  let running = true
  const polling = (async () => {
    while (running) {
      const start = performance.now()
      const ok = await fetch(`${url}/health`).then((reply) => reply.arrayBuffer().then(() => true), () => false)
      waits.push(ok ? performance.now() - start : Infinity)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })()
  return {
    async stop() {
      running = false
      await polling
      return waits.sort((a, b) => a - b)
    },
  }
}

/** The p-quantile (0..1) of sorted values. */
export const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
