// The engine's side of the grammar workers: compile specs (cached), step guided sequences' matchers, forget them.
//
// A compile takes seconds at large vocabularies and a worker does one thing at a time, while compiled grammars cannot
// cross WebAssembly instances. So a grammar's matchers live in the worker that compiled it, and a new grammar compiles
// in a worker with no live matchers (a new one, up to MAX_WORKERS): a compile never stalls the guided sequences already
// stepping. Only when every worker holds live matchers does a compile share one (the one with the fewest).
import {performance} from 'node:perf_hooks'
import {InvalidRequestError, PagedLLMError} from '../errors.js'
import type {Tokenizer} from '../model/tokenizer.js'
import {compileInWorker} from './compile-in-worker.js'
import {vocabInfoOf, type VocabInfo} from './grammar-compiler.js'
import {GrammarHost, type HostRequest} from './grammar-host.js'
import type {MaskBudget, StepItem, WorkerReply} from './grammar-worker.js'
import type {GrammarRef} from './grammar-ref.js'
import {checkGuidedSpec, grammarRefOf, type GuidedSpec} from './guided-spec.js'
import {SharedCompiles} from './shared-compiles.js'

/** Worker threads at most; each holds its own tokenizer tables (built once, about a second at 32k tokens). */
export const MAX_WORKERS = 3

/**
 * A compile still running this long after its worker took it is stopped with its worker (the only way to stop WebAssembly) and its request
 * refused: the corpus compiles in well under a second, a 20,000-value enum in ~5 s at 4k tokens, so only a grammar
 * built to be huge gets here, and it must not hold a worker (and the sequences whose matchers live there) for minutes.
 */
export const DEFAULT_COMPILE_TIMEOUT_MS = 60_000

/**
 * The limit for a compile that shares a worker with live matchers (every worker holds some): their steps wait behind
 * it, and with them every request in the engine's step, so such a compile gets seconds, not a minute. Stopping the
 * worker costs its sequences only a replay into a fresh one (SequenceGuides).
 */
export const DEFAULT_SHARED_COMPILE_TIMEOUT_MS = 5_000

/**
 * How long a compile may wait for a worker to take it (behind other requests' compiles, which may hold every worker
 * for their whole limit, or a worker's start-up) before it is a 503: its own limit counts only its run.
 */
export const DEFAULT_COMPILE_WAIT_TIMEOUT_MS = 60_000

/**
 * A guided sequence whose one step holds its worker over `stepMs`, or whose steps together pass `totalMs`, fails
 * (SequenceGuides) rather than stall every request behind its masks: masks take microseconds to a few milliseconds
 * (docs/PERFORMANCE.md), so only a grammar that grows dearer with each token, as an ambiguous regex does, gets here.
 * A step still running after `stopMs` (one mask of `(a*)*` x1000 takes seconds) stops its worker: the sequence it was
 * on is over budget, the others replay into a fresh worker.
 */
export const DEFAULT_MASK_BUDGET: MaskBudget = {stepMs: 500, totalMs: 30_000, stopMs: 5_000}

/** Refused grammars remembered (their keys are their specs' text, so few). */
const REFUSED_CAPACITY = 32

/** What a step asks of one sequence (the service assigns its mask slot). */
export type StepRequest = Omit<StepItem, 'slot'>

/** What a GrammarService is built from; the limits default to the DEFAULT_* above. */
export interface GrammarServiceOptions {
  tokenizer: Pick<Tokenizer, 'idToToken' | 'decoderKind' | 'specialTokenIds'>
  vocabSize: number
  eosTokenIds: readonly number[]
  /** A compile's own run time in a worker with no live matchers. */
  compileTimeoutMs?: number
  /** A compile's own run time in a worker whose live matchers wait behind it (the smaller of the two applies). */
  sharedCompileTimeoutMs?: number
  /** What one sequence's masks may cost before its request fails. */
  maskBudget?: MaskBudget
  /** How long a compile may wait for a worker to take it before it is a 503. */
  compileWaitTimeoutMs?: number
}

export class GrammarService {
  private vocabInfo: VocabInfo | null = null
  private readonly hosts: GrammarHost[] = []
  private readonly hostOfMatcher = new Map<number, GrammarHost>()
  /** Worker time of the last step, summed over workers (the benchmark's split of a round trip). */
  lastStepBusyMs = 0
  /** Sequences whose grammar went over the mask budget, until taken. */
  private readonly overBudget = new Set<number>()
  private readonly sharedCompiles = new SharedCompiles()
  /**
   * Grammars whose compile was refused (by ref id, in recency order): sent again, each would hold a worker for its whole
   * compile, up to the time limit, before the same 400.
   */
  private readonly refusedCompiles = new Map<string, InvalidRequestError>()
  private readonly tokenizer: GrammarServiceOptions['tokenizer']
  private readonly vocabSize: number
  private readonly eosTokenIds: readonly number[]
  private readonly compileTimeoutMs: number
  private readonly sharedCompileTimeoutMs: number
  private readonly maskBudget: MaskBudget
  private readonly compileWaitTimeoutMs: number

  constructor(options: GrammarServiceOptions) {
    this.tokenizer = options.tokenizer
    this.vocabSize = options.vocabSize
    this.eosTokenIds = options.eosTokenIds
    this.compileTimeoutMs = options.compileTimeoutMs ?? DEFAULT_COMPILE_TIMEOUT_MS
    this.sharedCompileTimeoutMs = options.sharedCompileTimeoutMs ?? DEFAULT_SHARED_COMPILE_TIMEOUT_MS
    this.maskBudget = options.maskBudget ?? DEFAULT_MASK_BUDGET
    this.compileWaitTimeoutMs = options.compileWaitTimeoutMs ?? DEFAULT_COMPILE_WAIT_TIMEOUT_MS
  }

  get numWorkers(): number {
    return this.hosts.length
  }

  /**
   * Compiles off the event loop; a spec that does not compile rejects with an InvalidRequestError on its field.
   * Requests asking for the same grammar at once share one compile, whatever field each gave it in (each gets the
   * error on its own field). `signal` (the request's) ends its wait when its client leaves, and stops the compile when
   * no other request waits for it.
   */
  async compile(spec: GuidedSpec, signal?: AbortSignal): Promise<void> {
    // Checked before its key is built: the key walks the schema recursively, and a schema nested thousands deep (a
    // --json-schema file; the server's bodies are bounded) would overflow the stack there instead of being refused.
    checkGuidedSpec(spec)
    const grammar = grammarRefOf(spec)
    if (this.hostOf(grammar.id)) return
    const refused = this.refusedCompiles.get(grammar.id)
    if (refused) throw onField(refused, spec.param)
    try {
      await this.sharedCompiles.join(grammar.id, (stop) => this.compileOnce(spec, grammar, stop), signal)
    } catch (error) {
      throw onField(error, spec.param)
    }
  }

  /** One compile: dropped while it waits for a worker when `signal` aborts, its worker stopped once it runs, if that worker holds no matchers. */
  private async compileOnce(spec: GuidedSpec, grammar: GrammarRef, signal: AbortSignal): Promise<void> {
    const startBy = performance.now() + this.compileWaitTimeoutMs
    for (;;) {
      if (this.hostOf(grammar.id)) return
      signal.throwIfAborted()
      const host = this.hostForCompile()
      const shared = host.matchers.size > 0
      const runMs = shared ? Math.min(this.compileTimeoutMs, this.sharedCompileTimeoutMs) : this.compileTimeoutMs
      // 'lost': the worker it queued in stopped before taking it (another compile's limit): it waits for another.
      try {
        if ((await compileInWorker(host, spec, {runMs, shared, startBy, waitMs: this.compileWaitTimeoutMs}, signal)) === 'lost') continue
      } catch (error) {
        // Refused alone in its worker (not cut short by sharing one): the same grammar would be refused again.
        if (error instanceof InvalidRequestError && !shared) this.refuse(grammar.id, error)
        throw error
      }
      host.compiled.add(grammar.id)
      return
    }
  }

  private refuse(id: string, error: InvalidRequestError): void {
    this.refusedCompiles.delete(id)
    this.refusedCompiles.set(id, error)
    if (this.refusedCompiles.size > REFUSED_CAPACITY) this.refusedCompiles.delete(this.refusedCompiles.keys().next().value as string)
  }

  isCompiled(spec: GuidedSpec): boolean {
    return this.hostOf(grammarRefOf(spec).id) !== undefined
  }

  /**
   * Next masks of the sequences in `items` (a null mask: the sequence left its grammar): one request per worker, in
   * parallel, each writing its masks straight into one shared buffer.
   */
  async step(items: StepRequest[]): Promise<(Int32Array | null)[]> {
    if (items.length === 0) return []
    const words = Math.ceil(this.vocabSize / 32)
    const masks = new SharedArrayBuffer(items.length * words * 4)
    const byHost = new Map<GrammarHost, StepItem[]>()
    items.forEach((item, slot) => {
      const host = this.matcherHost(item)
      const list = byHost.get(host) ?? []
      list.push({...item, slot})
      byHost.set(host, list)
    })
    const replies = await Promise.all([...byHost].map(([host, list]) => this.stepIn(host, {op: 'step', items: list, masks, words, budget: this.maskBudget, progress: host.progress})))
    const left = new Set(replies.flatMap((reply) => reply.left ?? []))
    for (const slot of replies.flatMap((reply) => reply.overBudget ?? [])) this.overBudget.add(items[slot]!.matcherId)
    this.lastStepBusyMs = replies.reduce((sum, reply) => sum + (reply.busyMs ?? 0), 0)
    return items.map((_, slot) => (left.has(slot) ? null : new Int32Array(masks, slot * words * 4, words)))
  }

  /**
   * One worker's share of a step. The worker says which matcher it computes and counts each computation; one seen on
   * the same computation for `stopMs` (compiles on demand do not count) stops the worker, and the step rejects.
   */
  private async stepIn(host: GrammarHost, request: HostRequest): Promise<WorkerReply> {
    const {stopMs} = this.maskBudget
    let seen = -1
    let since = performance.now()
    const watch = setInterval(
      () => {
        const [matcherId, count] = [Atomics.load(host.progress, 0), Atomics.load(host.progress, 1)]
        if (matcherId < 0 || count !== seen) {
          seen = count
          since = performance.now()
        } else if (performance.now() - since >= stopMs) {
          clearInterval(watch)
          this.overBudget.add(matcherId)
          host.terminate(new PagedLLMError(`a grammar step ran past ${stopMs} ms; its worker was stopped`))
        }
      },
      Math.max(5, stopMs / 10),
    )
    try {
      return await host.call(request)
    } finally {
      clearInterval(watch)
    }
  }

  /** Whether the sequence's grammar went over the mask budget since last asked. */
  takeOverBudget(matcherId: number): boolean {
    return this.overBudget.delete(matcherId)
  }

  /** Whether the sequence's matcher exists (false after its worker was lost: it must be replayed from the start). */
  hasMatcher(matcherId: number): boolean {
    return this.hostOfMatcher.get(matcherId)?.alive ?? false
  }

  forget(matcherIds: number[]): void {
    const byHost = new Map<GrammarHost, number[]>()
    for (const id of matcherIds) {
      const host = this.hostOfMatcher.get(id)
      this.hostOfMatcher.delete(id)
      if (!host?.alive) continue
      host.matchers.delete(id)
      byHost.set(host, [...(byHost.get(host) ?? []), id])
    }
    for (const [host, ids] of byHost) void host.call({op: 'forget', matcherIds: ids}).catch(() => {})
  }

  async close(): Promise<void> {
    const hosts = this.hosts.splice(0)
    this.hostOfMatcher.clear()
    await Promise.all(hosts.map((host) => host.close()))
  }

  private hostOf(grammarId: string): GrammarHost | undefined {
    return this.hosts.find((host) => host.compiled.has(grammarId))
  }

  /** A sequence's matcher stays in one worker; a new one goes where its grammar is (or is compiled again on demand). */
  private matcherHost(item: StepRequest): GrammarHost {
    let host = this.hostOfMatcher.get(item.matcherId)
    if (!host?.alive) {
      host = this.hostOf(item.grammar.id) ?? this.hostForCompile()
      this.hostOfMatcher.set(item.matcherId, host)
      host.matchers.add(item.matcherId)
    }
    return host
  }

  /** An idle worker, else a new one, else a worker with no matchers, else the one with the fewest. */
  private hostForCompile(): GrammarHost {
    const idle = this.hosts.find((host) => host.matchers.size === 0 && host.compiling === 0)
    if (idle) return idle
    if (this.hosts.length < MAX_WORKERS) {
      this.vocabInfo ??= vocabInfoOf(this.tokenizer, this.vocabSize, this.eosTokenIds)
      const host = new GrammarHost(this.vocabInfo, (lost) => this.drop(lost))
      this.hosts.push(host)
      return host
    }
    return [...this.hosts].sort((a, b) => a.matchers.size - b.matchers.size || a.compiling - b.compiling)[0]!
  }

  /** A worker that stopped or was left corrupt: its grammars recompile on demand, in a fresh worker if need be. */
  private drop(host: GrammarHost): void {
    const index = this.hosts.indexOf(host)
    if (index >= 0) this.hosts.splice(index, 1)
    for (const id of host.matchers) this.hostOfMatcher.delete(id)
  }
}

/** A shared compile's error as the request that gave the spec in `param` sees it: on its own field. */
function onField(error: unknown, param: string): unknown {
  if (!(error instanceof InvalidRequestError) || error.param === null || error.param === param) return error
  const message = error.message.replaceAll(`'${error.param}'`, `'${param}'`)
  return new InvalidRequestError(message, {param, code: error.code, cause: error})
}
