// One grammar compile in one worker, under its time limits. The clock of its own limit starts when the worker takes
// it, so a compile queued behind another (which may hold the worker for a minute) is not blamed for that wait; the
// wait itself is bounded by a cap and by the request's abort, each with its own error.
import {performance} from 'node:perf_hooks'
import {InvalidRequestError, UnavailableError} from '../errors.js'
import type {GrammarHost} from './grammar-host.js'
import {grammarRefOf, type GuidedSpec} from './guided-spec.js'

/**
 * A compile's gate, shared with the worker (one Int32): queued until one side takes it, the worker by starting the
 * compile or the engine by cancelling it, so a compile cancelled while queued never runs.
 */
export const GATE_QUEUED = 0
export const GATE_STARTED = 1
export const GATE_CANCELLED = 2

export interface CompileLimits {
  /** The compile's own run time, from when the worker takes it. */
  runMs: number
  /** Whether its worker holds live matchers (their steps wait behind it: runMs is short then). */
  shared: boolean
  /** The performance.now() time by which a worker must have taken it (a cap on its wait, over every try). */
  startBy: number
  /** The cap on its wait, for the error. */
  waitMs: number
}

/**
 * Compiles `spec` in `host`, sent as its grammar ref (the same cost whatever its size). 'lost': the worker stopped
 * before it took the compile (another compile's limit, a trap, another client leaving), so the caller may send it to
 * another worker.
 */
export async function compileInWorker(host: GrammarHost, spec: GuidedSpec, limits: CompileLimits, signal?: AbortSignal): Promise<'compiled' | 'lost'> {
  const gate = new Int32Array(new SharedArrayBuffer(4))
  let started = false
  let runTimer: NodeJS.Timeout | undefined
  let failWait!: (error: unknown) => void
  const waitEnded = new Promise<never>((_, reject) => (failWait = reject))
  waitEnded.catch(() => {}) // raced below; a rejection after the compile settled is nobody's
  const cancel = (error: unknown): boolean => {
    if (Atomics.compareExchange(gate, 0, GATE_QUEUED, GATE_CANCELLED) !== GATE_QUEUED) return false
    failWait(error)
    return true
  }
  const waitTimer = setTimeout(() => cancel(waitedTooLong(spec, limits)), Math.max(0, limits.startBy - performance.now()))
  // Stopping the worker is the only way to stop a WebAssembly compile; a grammar built to be huge would otherwise hold
  // it for the whole limit after its client left. Compiles queued behind it go to another worker ('lost').
  const abandoned = () => {
    if (!cancel(signal!.reason) && host.matchers.size === 0) host.terminate(signal!.reason)
  }
  const onStart = () => {
    started = true
    clearTimeout(waitTimer)
    // Sequences whose matchers shared that worker are replayed into a fresh one (SequenceGuides), as after a crash.
    runTimer = setTimeout(() => host.terminate(tooSlow(spec, limits)), limits.runMs)
  }
  host.compiling++
  signal?.addEventListener('abort', abandoned, {once: true})
  try {
    const call = host.call({op: 'compile', grammar: grammarRefOf(spec), param: spec.param, gate}, onStart)
    call.catch(() => {}) // after a cancel its answer is nobody's
    await Promise.race([call, waitEnded])
    return 'compiled'
  } catch (error) {
    if (!started && !host.alive && Atomics.load(gate, 0) !== GATE_CANCELLED) return 'lost'
    throw error
  } finally {
    clearTimeout(waitTimer)
    clearTimeout(runTimer)
    signal?.removeEventListener('abort', abandoned)
    host.compiling--
  }
}

function tooSlow(spec: GuidedSpec, {runMs, shared}: CompileLimits): InvalidRequestError {
  return new InvalidRequestError(
    `the '${spec.param}' constraint did not compile within ${runMs / 1000} s` +
      `${shared ? ' (the grammar workers are busy with other requests)' : ''}; simplify it (fewer alternatives, smaller counts)`,
    {param: spec.param},
  )
}

/** Not the request's fault: every worker was busy with other requests' compiles for the whole cap. */
function waitedTooLong(spec: GuidedSpec, {waitMs}: CompileLimits): UnavailableError {
  return new UnavailableError(
    `the '${spec.param}' constraint waited ${waitMs / 1000} s for a grammar worker (all busy compiling other requests' grammars) ` +
      'and was not compiled; try again later',
    {param: spec.param, code: 'grammar_queue_timeout'},
  )
}
