// `pagedllm serve` (and `generate`) from dist/ as child processes, black-box, for scripts/serve-attack-model-kinds.ts:
// the server's URL once ready, its RSS read from /proc, whether it died (exit code or signal), and its stderr tail.
import {type ChildProcess, spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'

const RUN = fileURLToPath(new URL('../bin/run.js', import.meta.url))
/** Servers still running: a failed run must not leave them behind. */
const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

export interface ServeChild {
  url: string
  /** The start-up lines (model, backend, kv cache, notes). */
  banner: string[]
  rssBytes(): number
  /** Null while it runs; else how it ended. */
  exit(): {code: number | null; signal: string | null} | null
  stderrTail(): string
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<{code: number | null; signal: string | null}>
}

export async function startServe(model: string, flags: readonly string[], readyTimeoutMs = 120_000): Promise<ServeChild> {
  const child = spawn(process.execPath, [RUN, 'serve', model, '--port', '0', ...flags], {stdio: ['ignore', 'ignore', 'pipe']})
  running.add(child)
  let ended: {code: number | null; signal: string | null} | null = null
  const exited = new Promise<{code: number | null; signal: string | null}>((resolve) =>
    child.on('exit', (code, signal) => {
      running.delete(child)
      resolve((ended = {code, signal}))
    }),
  )
  const lines: string[] = []
  const banner: string[] = []
  let onReady: (url: string) => void = () => {}
  createInterface({input: child.stderr!}).on('line', (line) => {
    lines.push(line)
    if (lines.length > 200) lines.shift()
    const ready = /^ready: .* at (\S+)\/v1 /.exec(line)
    if (ready) onReady(ready[1]!)
    else if (/^(model|backend|kv cache|note):/.test(line)) banner.push(line)
  })
  const url = await Promise.race([
    new Promise<string>((resolve) => (onReady = resolve)),
    exited.then((how) => Promise.reject(new Error(`serve ${model} ended before ready (${JSON.stringify(how)}): ${lines.slice(-5).join(' | ')}`))),
    new Promise<string>((_, reject) => setTimeout(() => reject(new Error(`serve ${model} not ready in ${readyTimeoutMs} ms`)), readyTimeoutMs).unref()),
  ])
  return {
    url,
    banner,
    rssBytes: () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024,
    exit: () => ended,
    stderrTail: () => lines.slice(-8).join('\n'),
    async stop(graceMs = 15_000) {
      if (ended) return ended
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const how = await exited
      clearTimeout(timer)
      return how
    },
  }
}

export interface CommandResult {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  ms: number
}

/** `pagedllm ARGS...` to its end (SIGKILL past `timeoutMs`, reported as signal SIGKILL). */
export function runPagedllm(args: readonly string[], timeoutMs = 120_000): Promise<CommandResult> {
  const started = performance.now()
  const child = spawn(process.execPath, [RUN, ...args], {stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk) => (stdout += chunk))
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr, ms: performance.now() - started})
    }),
  )
}
