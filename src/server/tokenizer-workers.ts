// A pool of worker threads that tokenize prompts and render chat templates, so a huge prompt never stalls the server's event loop.
import type {Worker} from 'node:worker_threads'
import {adoptTextSettlement, type TextSettlement, textToSettle} from '../engine/guided/spec-handoff.js'
import {startModuleWorker, terminateWorker} from '../engine/module-worker.js'
import type {TokenizerLike} from './engine-like.js'
import {checkTextFits, deserializeJobError, mayExceedContext, type PromptTokenizer, type SerializedJobError, type TokenizeJob} from './prompt-tokenizer.js'
import {jsonText} from './request-body.js'
import {type CheckedByRoute, type CheckedResponses, checkBodyText, checkContinuation, type CheckOptions, type RouteName, unpackTransferred} from './request-checks.js'
import type {ConversationText} from './response-store.js'
import type {WorkerJob} from './tokenize-worker.js'

/** A job waiting for a worker, or running on one. */
interface Job {
  id: number
  job: WorkerJob
  transfer: ArrayBuffer[]
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  /** Unhooks the abort listener once the job is answered. */
  done: () => void
}

interface PooledWorker {
  worker: Worker
  /** The id of the job cancelled on this worker (its client left), read at the job's checkpoints (job-checkpoint.ts). */
  cancel: Int32Array
  /** The one job this worker runs, if any: jobs wait here, not in the worker's message queue, so a gone client's can be dropped. */
  running: Job | null
}

const MAX_RESPAWNS_IN_A_ROW = 3

/** A worker's start (thread, modules, tokenizer) until it is measured: ~200 ms for the built-in model on a 2-core VM. */
const ASSUMED_STARTUP_MS = 200

/** A replaced worker costs its start and then the slower first jobs of a cold thread: about twice the start (stopGoneJob). */
const REPLACEMENT_COST_PER_START = 2

type Reply = {ready: true} | {id: number; ids: Int32Array} | {id: number; value: unknown} | {id: number; error: SerializedJobError} | {id: number; cancelled: true}

/** Smaller bodies are parsed and checked on the event loop: a copy to a worker and back would cost about as much. */
const OFFLOAD_BODY_BYTES = 64 * 1024

function startWorker(workerData: unknown): Worker {
  return startModuleWorker(import.meta.url, 'tokenize-worker', workerData)
}

export class TokenizerWorkers implements PromptTokenizer {
  private readonly pool: PooledWorker[] = []
  /** Jobs no worker has taken yet, oldest first; one whose client leaves is taken out (post's `signal`). */
  private readonly waiting: Job[] = []
  private nextJobId = 0
  private closed = false
  /** Worker deaths since the last answered job: a tokenizer that cannot load must not respawn forever. */
  private failuresInARow = 0
  /** How long the last worker took from its spawn to its tokenizer loaded: what replacing one costs. */
  private startupMs = ASSUMED_STARTUP_MS
  /** Jobs whose client left while they ran that stopped at a checkpoint (job-checkpoint.ts). */
  goneJobsCancelled = 0
  /** Workers stopped (and replaced) because their job's client had left and the job ran on past the grace. */
  goneJobsStopped = 0

  /**
   * `sizeLimit` is the main thread's tokenizer: text that cannot fit is refused before it is copied to a worker.
   * `chatTemplate` replaces the model's template in every worker (serve --chat-template), as it does in the engine's.
   * `goneJobGraceMs`: how long a job whose client left may run on before its worker is replaced; by default what a
   * worker's start was measured to cost (see stopGoneJob).
   */
  constructor(
    private readonly modelDir: string,
    private readonly maxModelLen: number,
    threads: number,
    private readonly sizeLimit: Pick<TokenizerLike, 'maxTextBytes'>,
    private readonly chatTemplate?: string,
    private readonly goneJobGraceMs?: number,
  ) {
    for (let index = 0; index < threads; index++) this.pool.push(this.spawn())
  }

  async tokenize(job: TokenizeJob, signal?: AbortSignal): Promise<number[]> {
    if (job.kind === 'text') checkTextFits(this.sizeLimit, job.text, this.maxModelLen, job.param, mayExceedContext(job))
    return (await this.post(job, signal)) as number[]
  }

  /** 256 words of 256 characters took ~0.3 s to tokenize: on the event loop that stalled every stream and /health. */
  async badWordSequences(words: readonly string[], signal?: AbortSignal): Promise<number[][]> {
    return (await this.post({kind: 'badWords', words}, signal)) as number[][]
  }

  /**
   * A big body's bytes move (not copied) to a worker, which decodes, parses and checks it as its route's request, so
   * decoding, checking and refusing a huge request cost the event loop only the copy of what the worker sends back.
   */
  async checkBody<R extends RouteName>(body: Buffer, route: R, options: CheckOptions, signal?: AbortSignal): Promise<CheckedByRoute[R]> {
    if (body.length < OFFLOAD_BODY_BYTES) return this.settleGuided(checkBodyText(this.sizeLimit, jsonText(body), route, options, this.maxModelLen), signal)
    const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : Buffer.from(body)
    const reply = (await this.post({kind: 'body', body: own, route, options}, signal, [own.buffer as ArrayBuffer])) as {bodyText: string} | {checked: CheckedByRoute[R]}
    // A body its handler checks may come back as text (tokenize-worker.ts), which parses here without error.
    return 'bodyText' in reply ? ({body: JSON.parse(reply.bodyText)} as CheckedByRoute[R]) : unpackTransferred(reply.checked)
  }

  /**
   * A body continuing a stored response is checked with the conversation it continues, in a worker unless body and
   * conversation together are small: a long conversation, or a big body (its text comes back from the first pass
   * unparsed), costs the event loop their copy, not their parse and checks.
   */
  async checkContinuation(bodyText: string, conversation: readonly ConversationText[], signal?: AbortSignal): Promise<CheckedResponses> {
    const chars = conversation.reduce((sum, text) => sum + text.length, bodyText.length)
    if (chars < OFFLOAD_BODY_BYTES) return this.settleGuided(checkContinuation(bodyText, conversation), signal)
    return unpackTransferred((await this.post({kind: 'continuation', bodyText, conversation}, signal)) as CheckedResponses)
  }

  /**
   * A small body's guided spec new to the server, if its checks would cost the event loop more than the hop (a 60 KB
   * schema: ~20 ms), is checked and keyed in a worker; the event loop adopts the result (a big body's comes with it).
   */
  private async settleGuided<C extends CheckedByRoute[RouteName]>(checked: C, signal: AbortSignal | undefined): Promise<C> {
    const spec = 'request' in checked && 'sampling' in checked.request ? checked.request.sampling.guided : undefined
    const text = spec ? textToSettle(spec) : null
    if (text === null) return checked
    // Without a worker's answer (none running) the event loop makes the checks itself, as it did before.
    const settlement = (await this.post({kind: 'settleSpec', text}, signal).catch((error: unknown) => {
      if (signal?.aborted) throw error
      return null
    })) as TextSettlement | null
    if (settlement) adoptTextSettlement(spec!, settlement)
    return checked
  }

  /** Jobs waiting for a worker (not counting those running). */
  get numWaiting(): number {
    return this.waiting.length
  }

  /**
   * Queues a job for the next free worker. `signal` aborting (the client left) rejects it with the abort reason at
   * once; a job still waiting is dropped, so a flood of requests whose clients left costs the workers nothing, and a
   * running one is told to stop (stopGoneJob).
   */
  private post(job: WorkerJob, signal: AbortSignal | undefined, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.closed || this.pool.length === 0) return Promise.reject(new Error('no tokenizer worker is running (closed, or they kept failing)'))
    if (signal?.aborted) return Promise.reject(signal.reason)
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const index = this.waiting.indexOf(entry)
        if (index >= 0) this.waiting.splice(index, 1)
        else this.stopGoneJob(entry)
        entry.done()
        reject(signal!.reason)
      }
      const entry: Job = {id: this.nextJobId++, job, transfer, resolve, reject, done: () => signal?.removeEventListener('abort', onAbort)}
      signal?.addEventListener('abort', onAbort, {once: true})
      this.waiting.push(entry)
      this.dispatch()
    })
  }

  /**
   * A running job's client left: the worker is told (a shared flag), and the job stops at its next checkpoint, every
   * few ms of the long checks (a continuation's conversation, a body's messages or input items: job-checkpoint.ts).
   * One still running after the grace (a stretch with no checkpoint: a template's render, an encode) has its worker
   * terminated and replaced. The grace is what a replacement costs, as in ski rental: a job that ends within it costs
   * no more than a replacement would, and one that runs on costs at most twice what stopping it at once would. A
   * replacement costs its start (~230 ms on a 2-core VM for the built-in model) and then cold first jobs (a 3.25 MB
   * chat's check: ~290 ms against ~160 ms warm): about twice the start. Replacing workers in a flood of such jobs
   * whose clients leave made a normal client wait longer (the freed worker takes the next doomed job, cold), which
   * is why checkpoints come first. The event loop pays `new Worker` (~1-5 ms); the start runs in the new thread.
   * Jobs waiting are the pool's, not the worker's, so none is lost.
   */
  private stopGoneJob(entry: Job): void {
    const pooled = this.pool.find((each) => each.running === entry)
    if (pooled === undefined) return
    Atomics.store(pooled.cancel, 0, entry.id)
    const grace = this.goneJobGraceMs ?? REPLACEMENT_COST_PER_START * this.startupMs
    if (grace <= 0) return this.replace(pooled)
    setTimeout(() => pooled.running === entry && this.replace(pooled), grace).unref()
  }

  /** Terminates `pooled`'s worker and puts a new one in its place; its running job, if any, was answered already. */
  private replace(pooled: PooledWorker): void {
    const index = this.pool.indexOf(pooled)
    if (this.closed || index < 0) return
    // Out of the pool first: its 'exit' then finds nothing to fail, and a late answer no job to answer.
    pooled.running = null
    this.pool[index] = this.spawn()
    this.goneJobsStopped += 1
    terminateWorker(pooled.worker).catch(() => {})
    this.dispatch()
  }

  /** Hands waiting jobs to idle workers, oldest first. */
  private dispatch(): void {
    for (const pooled of this.pool) {
      if (this.waiting.length === 0) return
      if (pooled.running !== null) continue
      const entry = this.waiting.shift()!
      pooled.running = entry
      pooled.worker.postMessage({id: entry.id, job: entry.job}, entry.transfer)
    }
  }

  async close(): Promise<void> {
    this.closed = true
    // Jobs waiting or running get an answer: a terminated worker sends none, and 'exit' after close fails nothing.
    const error = new Error('the tokenizer workers are closed')
    for (const entry of this.waiting.splice(0)) entry.done(), entry.reject(error)
    for (const pooled of this.pool) {
      pooled.running?.done()
      pooled.running?.reject(error)
      pooled.running = null
    }
    await Promise.all(this.pool.map(({worker}) => terminateWorker(worker)))
  }

  private spawn(): PooledWorker {
    const started = performance.now()
    const cancel = new Int32Array(new SharedArrayBuffer(4)).fill(-1)
    const worker = startWorker({modelDir: this.modelDir, maxModelLen: this.maxModelLen, chatTemplate: this.chatTemplate, cancel: cancel.buffer})
    // Idle workers must not keep the process alive; the server's socket does.
    worker.unref()
    const pooled: PooledWorker = {worker, cancel, running: null}
    worker.on('message', (reply: Reply) => {
      if ('ready' in reply) return void (this.startupMs = performance.now() - started)
      const entry = pooled.running
      if (entry === null || entry.id !== reply.id) return
      this.failuresInARow = 0
      pooled.running = null
      entry.done()
      // A caller whose signal aborted has had its rejection already; settling again is a no-op.
      if ('cancelled' in reply) this.goneJobsCancelled += 1
      else if ('error' in reply) entry.reject(deserializeJobError(reply.error))
      else if ('ids' in reply) entry.resolve(Array.from(reply.ids))
      else entry.resolve(reply.value)
      this.dispatch()
    })
    // A worker that dies fails its job (a 500: not the client's fault) and is replaced, a few times in a row at most.
    const fail = (error: unknown) => {
      const entry = pooled.running
      pooled.running = null
      if (entry !== null) entry.done(), entry.reject(error)
      const index = this.pool.indexOf(pooled)
      if (this.closed || index < 0) return
      this.failuresInARow += 1
      if (this.failuresInARow <= MAX_RESPAWNS_IN_A_ROW) this.pool[index] = this.spawn()
      else this.pool.splice(index, 1)
      if (this.pool.length === 0) for (const waiting of this.waiting.splice(0)) waiting.done(), waiting.reject(error)
      else this.dispatch()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`tokenizer worker exited with code ${code}`))
    })
    return pooled
  }
}
