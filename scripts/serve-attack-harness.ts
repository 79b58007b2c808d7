// What the serve attack scripts share: findings, one `pagedllm serve` (dist/, built-in model) per class, and the check
// after each class: /health 200, the engine and admission drained (no KV block, request or admitted sequence held),
// then a normal request served.
import {loadavg} from 'node:os'
import {BUILTIN_MODEL_DIR} from '../src/engine/model/builtin-model.js'
import {drainedProblem} from './fuzz-serve-checks.js'
import {startServe} from './serve-child.js'
import {gist, request, type Target} from './serve-attack-wire.js'

export const load = () => loadavg()[0]!.toFixed(2)
export const sleep = (ms: number) => new Promise((wait) => setTimeout(wait, ms))

export function targetOf(url: string): Target {
  const {hostname, port} = new URL(url)
  return {host: hostname, port: Number(port), url}
}

/** "N served, p50 .., p99 .., max .." of latencies in ms. */
export function percentiles(values: number[]): string {
  if (values.length === 0) return 'none served'
  const sorted = [...values].sort((a, b) => a - b)
  return `${sorted.length} served, p50 ${sorted[sorted.length >> 1]!.toFixed(0)} ms, p99 ${sorted[Math.floor(sorted.length * 0.99)]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`
}

/** A request that must succeed once a class is over. */
export interface NormalRequest {
  path: string
  body: unknown
}

/** /health 200, the engine and admission drained within 20 s, then `normal` served. */
export async function idleProblem(t: Target, normal: NormalRequest): Promise<string | null> {
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
  const reply = await request(t, 'POST', normal.path, normal.body, {}, AbortSignal.timeout(60_000)).catch((error: Error) => ({status: 0, contentType: '', text: error.message}))
  return reply.status === 200 ? null : `a normal request after: ${gist(reply)}`
}

/** One attack script's run: its findings, and each class on a server of its own (`serveFlags` and the class's own). */
export function attackRun(normal: NormalRequest, serveFlags: readonly string[] = []) {
  const findings: string[] = []
  const finding = (cls: string, what: string) => (findings.push(`[${cls}] ${what}`), console.log(`  FINDING [${cls}] ${what}`))
  return {
    findings,
    finding,
    async withServer(cls: string, flags: string[], body: (t: Target, rss: () => number) => Promise<void>): Promise<void> {
      const server = await startServe(BUILTIN_MODEL_DIR, ['--threads', '1', ...serveFlags, ...flags])
      const t = targetOf(server.url)
      const started = performance.now()
      try {
        await body(t, () => server.rssBytes())
        const problem = await idleProblem(t, normal)
        if (problem) finding(cls, `after the class: ${problem}`)
        console.log(`${cls}: done in ${((performance.now() - started) / 1000).toFixed(1)} s, RSS ${(server.rssBytes() / 2 ** 20).toFixed(0)} MiB (load ${load()})`)
      } finally {
        const exit = server.exit()
        if (exit) finding(cls, `the server died: ${JSON.stringify(exit)}; ${server.stderrTail()}`)
        await server.stop()
      }
    },
  }
}
