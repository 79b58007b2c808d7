// A pool of worker threads that tokenize prompts and render chat templates, so a huge prompt never stalls the server's event loop.
import type {Worker} from 'node:worker_threads'
import {adoptTextSettlement, type TextSettlement, textToSettle} from '../engine/guided/spec-handoff.js'
import {startModuleWorker, terminateWorker} from '../engine/module-worker.js'
import type {TokenizerLike} from './engine-like.js'
import {checkTextFits, deserializeJobError, mayExceedContext, type PromptTokenizer, type SerializedJobError, type TokenizeJob} from './prompt-tokenizer.js'
import {jsonText} from './request-body.js'
import {type CheckedByRoute, checkBodyText, type CheckOptions, type RouteName, unpackTransferred} from './request-checks.js'
import type {WorkerJob} from './tokenize-worker.js'

interface Pending {
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  bytes: number
}

interface PooledWorker {
  worker: Worker
  pending: Map<number, Pending>
  pendingBytes: number
}

const MAX_RESPAWNS_IN_A_ROW = 3

type Reply = {id: number; ids: Int32Array} | {id: number; value: unknown} | {id: number; error: SerializedJobError}

/** Smaller bodies are parsed and checked on the event loop: a copy to a worker and back would cost about as much. */
const OFFLOAD_BODY_BYTES = 64 * 1024

function startWorker(workerData: unknown): Worker {
  return startModuleWorker(import.meta.url, 'tokenize-worker', workerData)
}

export class TokenizerWorkers implements PromptTokenizer {
  private readonly pool: PooledWorker[] = []
  private nextJobId = 0
  private closed = false
  /** Worker deaths since the last answered job: a tokenizer that cannot load must not respawn forever. */
  private failuresInARow = 0

  /** `sizeLimit` is the main thread's tokenizer: text that cannot fit is refused before it is copied to a worker. */
  constructor(
    private readonly modelDir: string,
    private readonly maxModelLen: number,
    threads: number,
    private readonly sizeLimit: Pick<TokenizerLike, 'maxTextBytes'>,
  ) {
    for (let index = 0; index < threads; index++) this.pool.push(this.spawn())
  }

  async tokenize(job: TokenizeJob): Promise<number[]> {
    if (job.kind === 'text') checkTextFits(this.sizeLimit, job.text, this.maxModelLen, job.param, mayExceedContext(job))
    const bytes = job.kind === 'text' ? job.text.length : typeof job.messages === 'string' ? job.messages.length : job.messages.reduce((sum, message) => sum + message.content.length, 0)
    return (await this.post(job, bytes)) as number[]
  }

  /** 256 words of 256 characters took ~0.3 s to tokenize: on the event loop that stalled every stream and /health. */
  async badWordSequences(words: readonly string[]): Promise<number[][]> {
    return (await this.post({kind: 'badWords', words}, words.reduce((sum, word) => sum + word.length, 0))) as number[][]
  }

  /**
   * A big body's bytes move (not copied) to a worker, which decodes, parses and checks it as its route's request, so
   * decoding, checking and refusing a huge request cost the event loop only the copy of what the worker sends back.
   */
  async checkBody<R extends RouteName>(body: Buffer, route: R, options: CheckOptions): Promise<CheckedByRoute[R]> {
    if (body.length < OFFLOAD_BODY_BYTES) return this.settleGuided(checkBodyText(this.sizeLimit, jsonText(body), route, options, this.maxModelLen))
    const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : Buffer.from(body)
    const reply = (await this.post({kind: 'body', body: own, route, options}, body.length, [own.buffer as ArrayBuffer])) as {bodyText: string} | {checked: CheckedByRoute[R]}
    // A body its handler checks may come back as text (tokenize-worker.ts), which parses here without error.
    return 'bodyText' in reply ? ({body: JSON.parse(reply.bodyText)} as CheckedByRoute[R]) : unpackTransferred(reply.checked)
  }

  /**
   * A small body's guided spec new to the server, if its checks would cost the event loop more than the hop (a 60 KB
   * schema: ~20 ms), is checked and keyed in a worker; the event loop adopts the result (a big body's comes with it).
   */
  private async settleGuided<C extends CheckedByRoute[RouteName]>(checked: C): Promise<C> {
    const spec = 'request' in checked && 'sampling' in checked.request ? checked.request.sampling.guided : undefined
    const text = spec ? textToSettle(spec) : null
    if (text === null) return checked
    // Without a worker's answer (none running) the event loop makes the checks itself, as it did before.
    const settlement = (await this.post({kind: 'settleSpec', text}, text.length).catch(() => null)) as TextSettlement | null
    if (settlement) adoptTextSettlement(spec!, settlement)
    return checked
  }

  private async post(job: WorkerJob, bytes: number, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.closed || this.pool.length === 0) throw new Error('no tokenizer worker is running (closed, or they kept failing)')
    // The least loaded worker by queued text, so a huge prompt does not hold up the small ones behind it.
    const target = this.pool.reduce((best, candidate) => (candidate.pendingBytes < best.pendingBytes ? candidate : best))
    const id = this.nextJobId++
    return new Promise((resolve, reject) => {
      target.pending.set(id, {resolve, reject, bytes})
      target.pendingBytes += bytes
      target.worker.postMessage({id, job}, transfer)
    })
  }

  async close(): Promise<void> {
    this.closed = true
    await Promise.all(this.pool.map(({worker}) => terminateWorker(worker)))
  }

  private spawn(): PooledWorker {
    const worker = startWorker({modelDir: this.modelDir, maxModelLen: this.maxModelLen})
    // Idle workers must not keep the process alive; the server's socket does.
    worker.unref()
    const pooled: PooledWorker = {worker, pending: new Map(), pendingBytes: 0}
    worker.on('message', (reply: Reply) => {
      const job = pooled.pending.get(reply.id)
      if (job === undefined) return
      this.failuresInARow = 0
      pooled.pending.delete(reply.id)
      pooled.pendingBytes -= job.bytes
      if ('error' in reply) job.reject(deserializeJobError(reply.error))
      else if ('ids' in reply) job.resolve(Array.from(reply.ids))
      else job.resolve(reply.value)
    })
    // A worker that dies fails its jobs (500s: not the client's fault) and is replaced, a few times in a row at most.
    const fail = (error: unknown) => {
      for (const job of pooled.pending.values()) job.reject(error)
      pooled.pending.clear()
      pooled.pendingBytes = 0
      const index = this.pool.indexOf(pooled)
      if (this.closed || index < 0) return
      this.failuresInARow += 1
      if (this.failuresInARow <= MAX_RESPAWNS_IN_A_ROW) this.pool[index] = this.spawn()
      else this.pool.splice(index, 1)
    }
    worker.on('error', fail)
    worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`tokenizer worker exited with code ${code}`))
    })
    return pooled
  }
}
