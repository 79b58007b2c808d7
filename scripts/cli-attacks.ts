// An attack corpus against the CLI as a user runs it (`node bin/run.js generate / bench / compare / serve`, on dist/):
// hostile flag values, prompts and stdin, model directories (config, safetensors, shard index, tokenizer, template,
// generation config), GGUF files and bench traces. Each attack must end within its timeout in a correct result
// (exit 0; serve: listening and ready, then a clean SIGTERM) or in a clear error: a non-zero exit, never a signal,
// and stderr with no stack frames, no native abort and an "Error:" line that is not an internal one (TypeError,
// "Cannot read properties", ...). A child over 3 GiB of RSS is killed and reported (a hostile size was allocated).
// Usage: npm run build:ts && npx tsx scripts/cli-attacks.ts [--only flags,prompts,models,gguf,traces] [--match REGEX] [--parallel 2] [--verbose]
// [--variants llama,emu3,...]: the test model variants the model-directory attacks mutate (default: the tiny llama).
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {parseArgs} from 'node:util'
import {ensureTestModel, type TestModelVariant} from '../src/engine/model/test-model.js'
import {flagAttacks, promptAttacks} from './cli-attack-flags.js'
import {ggufAttacks} from './cli-attack-gguf.js'
import {modelDirAttacks, traceAttacks} from './cli-attack-models.js'

export interface CliAttack {
  cls: string
  name: string
  /** The words after `node bin/run.js`. */
  args: string[]
  stdin?: string | Buffer
  /** 'error': a result is a finding too (a hostile input run silently); default: either ends well. */
  expect?: 'error'
  timeoutMs?: number
}

/** What the attacks build on: a scratch directory and the tiny test model's directory. */
export interface AttackBase {
  scratch: string
  tiny: string
}

const {values: options} = parseArgs({
  options: {only: {type: 'string', default: 'flags,prompts,models,gguf,traces'}, match: {type: 'string'}, parallel: {type: 'string', default: '2'}, verbose: {type: 'boolean', default: false},
    variants: {type: 'string', default: 'llama'}},
})
const ROOT = resolve(import.meta.dirname, '..')
const DEFAULT_TIMEOUT_MS = 60_000
const RSS_LIMIT_KIB = 3 * 1024 * 1024

/** Errors that come from deep code rather than a check that names the problem. */
const INTERNAL_ERROR = /\b(TypeError|RangeError|ReferenceError|SyntaxError|AssertionError|EvalError)\b|Cannot read propert|Cannot set propert|is not a function|is not iterable|is not defined|Maximum call stack|Invalid (typed )?array length|Array buffer allocation failed|out of memory|\[object Object\]|\b(has|got|dtype|value) "?undefined\b|^Error: (\w+ )?E[A-Z]{3,}:/
const NATIVE_ABORT = /terminate called|Aborted|Segmentation fault|core dumped|std::|FATAL ERROR|Assertion .* failed|libc\+\+abi|Illegal instruction|Bus error/
const STACK_FRAME = /^\s+at .+\(?.*:\d+:\d+\)?$|^\s+at [^\s]+ \(/m

interface Outcome {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  ms: number
  timedOut: boolean
  peakRssKiB: number
}

/** `cwd`: the scratch directory, so outputs a hostile value names as a relative path (--json -1, --out 0) land there. */
function runAttack(attack: CliAttack, cwd: string): Promise<Outcome> {
  const started = performance.now()
  const child = spawn(process.execPath, [join(ROOT, 'bin/run.js'), ...attack.args], {cwd, stdio: ['pipe', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0'}})
  let stdout = ''
  let stderr = ''
  let timedOut = false
  let peakRssKiB = 0
  let ready = false
  child.stdout.on('data', (chunk) => (stdout = (stdout + chunk).slice(-20_000)))
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-20_000)
    // serve: ready is a correct end; a clean SIGTERM must follow.
    if (!ready && /ready: model/.test(stderr)) {
      ready = true
      child.kill('SIGTERM')
    }
  })
  child.stdin.on('error', () => {})
  if (attack.stdin !== undefined) child.stdin.end(attack.stdin)
  // No stdin given: an open pipe that never sends, as a spawned process often has; generate must not wait for ever.
  const watch = setInterval(() => {
    try {
      const line = readFileSync(`/proc/${child.pid}/status`, 'utf8').split('\n').find((each) => each.startsWith('VmRSS:'))
      const kib = Number(/\d+/.exec(line ?? '')?.[0] ?? 0)
      peakRssKiB = Math.max(peakRssKiB, kib)
      if (kib > RSS_LIMIT_KIB) child.kill('SIGKILL')
    } catch {}
  }, 100)
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, attack.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  return new Promise((done) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      clearInterval(watch)
      done({code, signal: ready && signal === null ? null : signal, stdout, stderr, ms: performance.now() - started, timedOut, peakRssKiB})
    }),
  )
}

/** The problem with an outcome, or null when it ended well. */
export function judge(attack: CliAttack, outcome: Outcome): string | null {
  const tail = outcome.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 400)
  if (outcome.timedOut) return `no end within ${(attack.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s (stderr: ${tail})`
  if (outcome.peakRssKiB > RSS_LIMIT_KIB) return `RSS over ${RSS_LIMIT_KIB >> 20} GiB (killed)`
  if (outcome.signal !== null) return `killed by ${outcome.signal} (stderr: ${tail})`
  if (outcome.code !== null && outcome.code >= 128) return `exit ${outcome.code} (a crash?; stderr: ${tail})`
  if (NATIVE_ABORT.test(outcome.stderr)) return `native abort: ${tail}`
  if (STACK_FRAME.test(outcome.stderr)) return `stack trace: ${tail}`
  if (outcome.code === 0) return attack.expect === 'error' ? `ran without an error (stdout: ${outcome.stdout.slice(0, 120)})` : null
  const errorLines = outcome.stderr.split('\n').filter((line) => line.startsWith('Error'))
  if (errorLines.length === 0) return `exit ${outcome.code} without an "Error:" line (stderr: ${tail})`
  if (errorLines.length > 1) return `${errorLines.length} error lines: ${errorLines.join(' | ').slice(0, 400)}`
  if (INTERNAL_ERROR.test(errorLines[0]!)) return `internal error: ${errorLines[0]!.slice(0, 400)}`
  return null
}

/** The model-directory attacks over each variant's tiny model; a variant other than llama is named in each attack. */
async function variantDirAttacks(base: AttackBase, variants: TestModelVariant[]): Promise<CliAttack[]> {
  const attacks: CliAttack[] = []
  for (const variant of variants) {
    const tiny = variant === 'llama' ? base.tiny : await ensureTestModel('tiny', {variant})
    attacks.push(...modelDirAttacks({...base, tiny}).map((attack) => (variant === 'llama' ? attack : {...attack, name: `${variant} ${attack.name}`})))
  }
  return attacks
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'pagedllm-cli-attacks-'))
  const base: AttackBase = {scratch, tiny: await ensureTestModel('tiny')}
  const only = new Set(options.only!.split(','))
  const attacks: CliAttack[] = [
    ...(only.has('flags') ? flagAttacks(base) : []),
    ...(only.has('prompts') ? promptAttacks(base) : []),
    ...(only.has('models') ? await variantDirAttacks(base, options.variants!.split(',') as TestModelVariant[]) : []),
    ...(only.has('gguf') ? await ggufAttacks(base) : []),
    ...(only.has('traces') ? traceAttacks(base) : []),
  ].filter((attack) => !options.match || new RegExp(options.match).test(attack.name))
  console.log(`${attacks.length} attacks, ${options.parallel} at a time (load ${loadavg().map((l) => l.toFixed(2)).join(' ')})`)
  const findings: string[] = []
  const counts = new Map<string, number>()
  const started = performance.now()
  let next = 0
  let slowest = {ms: 0, name: ''}
  await Promise.all(
    Array.from({length: Number(options.parallel)}, async () => {
      while (next < attacks.length) {
        const attack = attacks[next++]!
        counts.set(attack.cls, (counts.get(attack.cls) ?? 0) + 1)
        const outcome = await runAttack(attack, scratch)
        if (next % 50 === 0) console.log(`  ... ${next} of ${attacks.length} started, ${((performance.now() - started) / 1000).toFixed(0)} s (load ${loadavg()[0]!.toFixed(2)})`)
        if (outcome.ms > slowest.ms) slowest = {ms: outcome.ms, name: attack.name}
        const problem = judge(attack, outcome)
        if (problem) {
          findings.push(`[${attack.cls}] ${attack.name}: ${problem}`)
          console.log(`  FINDING [${attack.cls}] ${attack.name}: ${problem}`)
        } else if (options.verbose) {
          const said = outcome.code === 0 ? 'ok' : outcome.stderr.split('\n').find((line) => line.startsWith('Error')) ?? ''
          console.log(`  ok [${attack.cls}] ${attack.name} (${outcome.ms.toFixed(0)} ms): ${said.slice(0, 200)}`)
        }
      }
    }),
  )
  rmSync(scratch, {recursive: true, force: true})
  const seconds = (performance.now() - started) / 1000
  console.log(`\n${attacks.length} attacks (${[...counts].map(([cls, n]) => `${cls} ${n}`).join(', ')}) in ${seconds.toFixed(0)} s, slowest ${(slowest.ms / 1000).toFixed(1)} s (${slowest.name}); load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  console.log(`${findings.length} findings${findings.length ? ':\n' + findings.join('\n') : ''}`)
  process.exitCode = findings.length > 0 ? 1 : 0
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) await main()
