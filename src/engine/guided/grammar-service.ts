// The engine's side of the grammar worker: compile specs (cached), step guided sequences' matchers, forget them.
import type {Worker} from 'node:worker_threads'
import {startModuleWorker} from '../module-worker.js'
import {InvalidRequestError, PagedLLMError} from '../errors.js'
import type {Tokenizer} from '../model/tokenizer.js'
import {vocabInfoOf} from './grammar-compiler.js'
import type {StepItem, WorkerReply, WorkerRequest} from './grammar-worker.js'
import {guidedKey, type GuidedSpec} from './guided-spec.js'

type Pending = {resolve: (reply: WorkerReply) => void; reject: (error: Error) => void}
type Request = WorkerRequest extends infer R ? (R extends {id: number} ? Omit<R, 'id'> : never) : never

export class GrammarService {
  private worker: Worker | null = null
  private nextId = 0
  private readonly pending = new Map<number, Pending>()
  /** Keys that compiled; the worker keeps the grammars (and may drop the least recent past its cache size). */
  private readonly compiled = new Set<string>()

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly vocabSize: number,
    private readonly eosTokenIds: readonly number[],
  ) {}

  /** Compiles off the event loop; a spec that does not compile rejects with an InvalidRequestError on its field. */
  async compile(spec: GuidedSpec): Promise<void> {
    await this.call({op: 'compile', spec})
    this.compiled.add(guidedKey(spec))
  }

  isCompiled(spec: GuidedSpec): boolean {
    return this.compiled.has(guidedKey(spec))
  }

  /** Next masks of the sequences in `items` (a null mask: the sequence left its grammar). */
  async step(items: StepItem[]): Promise<(Int32Array | null)[]> {
    if (items.length === 0) return []
    return (await this.call({op: 'step', items})).masks!
  }

  forget(matcherIds: number[]): void {
    if (matcherIds.length > 0 && this.worker) void this.call({op: 'forget', matcherIds}).catch(() => {})
  }

  async close(): Promise<void> {
    const worker = this.worker
    this.worker = null
    if (worker) await worker.terminate()
  }

  private call(request: Request): Promise<WorkerReply> {
    const worker = (this.worker ??= this.startWorker())
    const id = this.nextId++
    // Referenced only while a reply is awaited: an idle worker must not keep the process alive, a busy one must.
    if (this.pending.size === 0) worker.ref()
    return new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, {resolve, reject})
      worker.postMessage({...request, id})
    })
  }

  private startWorker(): Worker {
    const workerData = vocabInfoOf(this.tokenizer, this.vocabSize, this.eosTokenIds)
    const worker = startModuleWorker(import.meta.url, 'grammar-worker', workerData)
    worker.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.id)
      this.pending.delete(reply.id)
      if (this.pending.size === 0) worker.unref()
      if (reply.error?.corrupt) this.replace(worker)
      if (!waiter) return
      if (!reply.error) return waiter.resolve(reply)
      const {message, invalidParam} = reply.error
      waiter.reject(invalidParam === null ? new PagedLLMError(`grammar worker: ${message}`) : new InvalidRequestError(message, {param: invalidParam || null}))
    })
    worker.on('error', (error) => this.failAll(error))
    worker.on('exit', () => {
      if (this.worker !== worker) return // already replaced, its waiters failed then
      this.worker = null
      this.compiled.clear()
      this.failAll(new PagedLLMError('the grammar worker stopped'))
    })
    return worker
  }

  /** Drops a worker whose xgrammar instance is corrupt; the next call starts a fresh one and compiles again on demand. */
  private replace(worker: Worker): void {
    if (this.worker !== worker) return
    this.worker = null
    this.compiled.clear()
    void worker.terminate()
    // Requests queued behind the trap would run on the corrupt instance: fail them (the reply in hand is already out).
    this.failAll(new PagedLLMError('the grammar worker was restarted after a WebAssembly trap'))
  }

  private failAll(error: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(error)
    this.pending.clear()
  }
}
