// One grammar worker thread as the engine sees it: its requests and replies, the grammars it compiled, its live matchers.
import type {Worker} from 'node:worker_threads'
import {InvalidRequestError, PagedLLMError} from '../errors.js'
import {startModuleWorker, terminateWorker} from '../module-worker.js'
import type {VocabInfo} from './grammar-compiler.js'
import type {WorkerReply, WorkerRequest} from './grammar-worker.js'

type Pending = {resolve: (reply: WorkerReply) => void; reject: (error: Error) => void; onStart?: () => void}
export type HostRequest = WorkerRequest extends infer R ? (R extends {id: number} ? Omit<R, 'id'> : never) : never

export class GrammarHost {
  private worker: Worker | null
  private nextId = 0
  private readonly pending = new Map<number, Pending>()
  /** Ref ids of the grammars compiled here (the worker may drop the least recent past its cache size, and recompile). */
  readonly compiled = new Set<string>()
  /** Sequences whose matchers live here. */
  readonly matchers = new Set<number>()
  /** Compiles sent and not answered yet. */
  compiling = 0
  /** The matcher whose mask the worker computes now (-1: none) and a count of those (shared memory: read while it works). */
  readonly progress = new Int32Array(new SharedArrayBuffer(8)).fill(-1, 0, 1)

  constructor(
    vocabInfo: VocabInfo,
    /** Called once when the worker stops or its xgrammar instance is corrupt: its grammars and matchers are gone. */
    private readonly onLost: (host: GrammarHost) => void,
  ) {
    this.worker = this.start(vocabInfo)
  }

  get alive(): boolean {
    return this.worker !== null
  }

  /** `onStart`: called when the worker takes a compile (its own time starts then; before, it waited behind others). */
  call(request: HostRequest, onStart?: () => void): Promise<WorkerReply> {
    const worker = this.worker
    if (!worker) return Promise.reject(new PagedLLMError('the grammar worker stopped'))
    const id = this.nextId++
    // Referenced only while a reply is awaited: an idle worker must not keep the process alive, a busy one must.
    if (this.pending.size === 0) worker.ref()
    return new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, {resolve, reject, onStart})
      worker.postMessage({...request, id})
    })
  }

  async close(): Promise<void> {
    const worker = this.worker
    this.worker = null
    if (!worker) return
    await terminateWorker(worker)
  }

  private start(vocabInfo: VocabInfo): Worker {
    const worker = startModuleWorker(import.meta.url, 'grammar-worker', vocabInfo)
    worker.unref()
    worker.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.id)
      if (reply.started) return waiter?.onStart?.()
      this.pending.delete(reply.id)
      if (this.pending.size === 0) worker.unref()
      if (reply.error?.corrupt) this.lose(new PagedLLMError('the grammar worker was restarted after a WebAssembly trap'), true)
      if (!waiter) return
      if (!reply.error) return waiter.resolve(reply)
      const {message, invalidParam, code} = reply.error
      waiter.reject(invalidParam === null ? new PagedLLMError(`grammar worker: ${message}`) : new InvalidRequestError(message, {param: invalidParam || null, code}))
    })
    worker.on('error', (error) => this.lose(error, false))
    worker.on('exit', () => this.lose(new PagedLLMError('the grammar worker stopped'), false))
    return worker
  }

  /** Stops the worker (a compile past its time limit): every request waiting on it fails with `error`. */
  terminate(error: Error): void {
    this.lose(error, true)
  }

  /** Drops this worker; requests queued behind a trap would run on the corrupt instance, so they fail. */
  private lose(error: Error, terminate: boolean): void {
    const worker = this.worker
    if (worker) {
      this.worker = null
      if (terminate) void worker.terminate()
      this.onLost(this)
    }
    for (const waiter of this.pending.values()) waiter.reject(error)
    this.pending.clear()
  }
}
