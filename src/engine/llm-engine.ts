// The engine: add requests, and a loop whose every step is schedule -> queue on the native worker -> apply the
// result (with async scheduling, the next step is queued before this one's result is back).
import {performance} from 'node:perf_hooks'
import type {BlockManager} from './block-manager.js'
import type {EngineConfig, HostOverlap} from './config.js'
import type {DeviceChoice} from './device.js'
import {ContextLengthError, InvalidRequestError, PagedLLMError, UnavailableError} from './errors.js'
import {buildEngineParts, type EngineParts} from './engine-parts.js'
import type {LoadedModel, ModelSamplingDefaults} from './model/load-model.js'
import type {Tokenizer} from './model/tokenizer.js'
import type {ModelRunner, RunResult} from './model-runner.js'
import type {NativeModel, NativeModelInfo} from './native.js'
import type {OutputProcessor} from './output-processor.js'
import {backendSamplingEnabled, type SamplingPlan} from './native-sampling.js'
import type {GrammarService} from './guided/grammar-service.js'
import {RequestHandle, snapshotGroup, type RequestOutput} from './request-output.js'
import {validateRequest} from './request-validation.js'
import type {SamplingParams} from './sampling-params.js'
import type {Scheduler, SchedulerOutput} from './scheduler.js'
import {groupsEndingIn, markQueued} from './step-launch.js'
import {StepWatchdog, type EngineHealth} from './step-watchdog.js'
import {SequenceGroup, SequenceStatus, isFinished} from './sequence.js'
import {emptySpecCounts, type Speculator, type SpecDecodeCounts} from './spec-decode/speculator.js'
import type {KvMemoryStats} from './block-manager.js'

export interface AddRequestOptions {
  requestId?: string
  /** Text (tokenized with special tokens) or token ids used as they are. */
  prompt: string | number[]
  params: SamplingParams
  /** Seconds on performance.now()/1000's clock; defaults to now. */
  arrivalTime?: number
}

export interface StepStats {
  numSeqs: number
  numPrefillTokens: number
  numDecodeTokens: number
  numPreempted: number
  /** Wall time of the loop's turn that applied the step (with async scheduling, steps overlap: this is the time per step). */
  durationMs: number
  kv: KvMemoryStats
}

/** A step handed to the native worker and not yet applied. */
interface QueuedStep {
  out: SchedulerOutput
  result: Promise<RunResult>
  /** Every sample of the step holds its place (step-launch.ts): the next step may be queued before this one's result. */
  nextMayQueue: boolean
  numPrefillTokens: number
  numDecodeTokens: number
}

export interface EngineStats {
  numRunning: number
  numWaiting: number
  numSwapped: number
  kv: KvMemoryStats
  numPreemptions: number
  /** Prompt tokens served from the prefix cache / prompt tokens admitted (re-admissions after preemption included). */
  prefixCacheHitRate: number
  /** Prompt tokens looked up in the prefix cache, and those found there (vLLM's prefix_cache_queries / _hits). */
  prefixCacheQueries: number
  prefixCacheHits: number
  /** Swap pool (host memory) blocks in use, and in all. */
  swapBlocks: {used: number; total: number}
  /** A hybrid model's recurrent state slots held by sequences, and in all (absent for other models). */
  stateSlots?: {used: number; total: number}
  promptTokens: number
  generationTokens: number
  numSteps: number
  /** Steps queued before the previous step's result was back (async scheduling). */
  numStepsQueuedAhead: number
  /** Speculative decoding since start (all zero when it is off). */
  specDecode: SpecDecodeCounts
  /** The draft model's own KV pool (draft-model speculation only). */
  draftKv?: KvMemoryStats
}

export const nowSeconds = (): number => performance.now() / 1000

/** Idle steps are microseconds apart: 100 in a row with work queued is a loop that cannot move, not a lull. */
const WATCHDOG_MAX_IDLE_STEPS = 100
/** Far beyond any real step (a full --max-num-batched-tokens prefill); only a hung native call lasts this long. */
const WATCHDOG_MAX_STEP_SECONDS = 300

/** A 32-bit mix of (engine seed, request number): nearby inputs give unrelated seeds. */
function deriveSeed(engineSeed: number, requestNumber: number): number {
  let x = (Math.imul(engineSeed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(requestNumber + 1, 0xc2b2ae35)) >>> 0
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0
  return (x ^ (x >>> 15)) >>> 0
}

export class LLMEngine {
  /** What the start-up banner should tell the user about choices made for them (e.g. a lowered context limit). */
  readonly notes: string[] = []
  private readonly handles = new Map<string, {group: SequenceGroup; handle: RequestHandle}>()
  private readonly pendingAborts = new Set<string>()
  /** Groups the last step changed, published (text, snapshot) while the next step's forward pass runs. */
  private unpublished = new Set<SequenceGroup>()
  private readonly hostOverlap: HostOverlap
  /** Async scheduling: the step queued behind the one being applied. */
  private queued: QueuedStep | null = null
  private readonly stepListeners: Array<(stats: StepStats) => void> = []
  private loop: Promise<void> | null = null
  private stepInFlight = false
  private closed = false
  private nextRequestNumber = 0
  private counters = {promptTokens: 0, generationTokens: 0, numSteps: 0, numStepsQueuedAhead: 0}
  private readonly watchdog = new StepWatchdog({
    maxIdleSteps: WATCHDOG_MAX_IDLE_STEPS,
    maxStepSeconds: WATCHDOG_MAX_STEP_SECONDS,
    log: (message) => process.stderr.write(`${message}\n`),
    now: nowSeconds,
  })

  readonly model: LoadedModel
  readonly native: NativeModel
  readonly maxModelLen: number
  /** Which backend runs, and why (e.g. "CUDA not available (...), using CPU"). */
  readonly device: DeviceChoice
  private readonly blockManager: BlockManager
  private readonly scheduler: Scheduler
  private readonly runner: ModelRunner
  private readonly outputs: OutputProcessor
  private readonly grammars: GrammarService
  private readonly speculator: Speculator | null

  private constructor(readonly config: EngineConfig, parts: EngineParts) {
    this.model = parts.model
    this.native = parts.native
    this.maxModelLen = parts.maxModelLen
    this.device = parts.device
    this.blockManager = parts.blockManager
    this.scheduler = parts.scheduler
    this.runner = parts.runner
    this.outputs = parts.outputs
    this.grammars = parts.grammars
    this.speculator = parts.speculator
    this.notes.push(...parts.notes)
    // Speculation proposes from the last tokens, which a queued step does not know yet.
    this.hostOverlap = this.speculator !== null && config.hostOverlap !== 'none' ? 'outputs' : (config.hostOverlap ?? 'async')
  }

  /** Loads the model and builds every part (engine-parts.ts). */
  static async create(config: EngineConfig): Promise<LLMEngine> {
    return new LLMEngine(config, await buildEngineParts(config))
  }

  get tokenizer(): Tokenizer {
    return this.model.tokenizer
  }

  get modelName(): string {
    return this.config.servedModelName ?? this.model.name
  }

  /** The sampling the model's generation_config.json recommends (the server's defaults under --generation-config auto). */
  get samplingDefaults(): ModelSamplingDefaults {
    return this.model.generationConfig.sampling
  }

  get nativeInfo(): NativeModelInfo {
    return this.native.info
  }

  /**
   * Compiles the request's grammar (cached per spec, in the grammar worker thread) before it may be queued; a spec that
   * does not compile throws an InvalidRequestError. Requests without a constraint return at once. `signal` aborts it.
   */
  async prepareRequest(params: SamplingParams, signal?: AbortSignal): Promise<void> {
    if (params.guided !== null) await this.grammars.compile(params.guided, signal)
  }

  /** Validates and queues a request. Throws InvalidRequestError / ContextLengthError for bad input. */
  addRequest(options: AddRequestOptions): RequestHandle {
    if (this.closed) throw new UnavailableError('the engine is shutting down')
    const requestNumber = this.nextRequestNumber++
    // Unseeded requests get distinct seeds derived from the engine seed: runs repeat, requests differ.
    const params = options.params.seed === null ? {...options.params, seed: deriveSeed(this.config.seed, requestNumber)} : options.params
    const requestId = options.requestId ?? `req-${requestNumber}`
    if (this.handles.has(requestId)) throw new InvalidRequestError(`request id ${requestId} is already in use`, {param: 'request_id'})
    const promptTokenIds = typeof options.prompt === 'string' ? this.tokenizer.encode(options.prompt, {addSpecialTokens: true}) : options.prompt
    validateRequest(promptTokenIds, params, {
      vocabSize: this.model.config.vocabSize,
      maxModelLen: this.maxModelLen,
      isCompiled: (spec) => this.grammars.isCompiled(spec),
      speculating: this.speculator !== null,
    })
    const group = new SequenceGroup(
      requestId,
      typeof options.prompt === 'string' ? options.prompt : null,
      promptTokenIds,
      params,
      options.arrivalTime ?? nowSeconds(),
    )
    // A request the scheduler could never run would wait (and spin the step loop) forever: refuse it now.
    const unschedulable = this.scheduler.unschedulable(group)
    if (unschedulable !== null) throw unschedulable
    const handle = new RequestHandle(requestId, (id) => this.abort(id))
    this.handles.set(requestId, {group, handle})
    this.counters.promptTokens += promptTokenIds.length
    this.scheduler.add(group)
    this.kick()
    return handle
  }

  /** Stops a request and frees its blocks now, or right after the step in flight. */
  abort(requestId: string): void {
    if (!this.handles.has(requestId)) return
    if (this.stepInFlight) this.pendingAborts.add(requestId)
    else this.abortNow(requestId)
  }

  /** Unhealthy while the step loop is stuck (or a step hangs), with the reason; /health turns it into a 503. */
  health(): EngineHealth {
    return this.watchdog.health()
  }

  onStep(listener: (stats: StepStats) => void): void {
    this.stepListeners.push(listener)
  }

  stats(): EngineStats {
    const slots = this.blockManager.stateSlots
    return {
      numRunning: this.scheduler.running.length,
      numWaiting: this.scheduler.waiting.length,
      numSwapped: this.scheduler.swapped.length,
      kv: this.blockManager.memoryStats(),
      numPreemptions: this.scheduler.numPreemptions,
      prefixCacheHitRate: this.blockManager.prefixCacheHitRate,
      prefixCacheQueries: this.blockManager.prefixCacheQueries,
      prefixCacheHits: this.blockManager.prefixCacheHits,
      swapBlocks: {used: this.blockManager.numTotalSwapBlocks - this.blockManager.numFreeSwapBlocks, total: this.blockManager.numTotalSwapBlocks},
      ...(slots ? {stateSlots: {used: slots.numSlots - slots.numFree, total: slots.numSlots}} : {}),
      promptTokens: this.counters.promptTokens,
      generationTokens: this.counters.generationTokens,
      numSteps: this.counters.numSteps,
      numStepsQueuedAhead: this.counters.numStepsQueuedAhead,
      specDecode: {...(this.speculator?.totals ?? emptySpecCounts())},
      ...(this.speculator?.drafter ? {draftKv: this.speculator.drafter.draft.blockManager.memoryStats()} : {}),
    }
  }

  /** Checks the bookkeeping of the KV pool (and the draft's); throws on a leak or a broken count (tests). */
  checkKvInvariants(): void {
    this.blockManager.checkInvariants()
    this.speculator?.drafter?.draft.blockManager.checkInvariants()
  }

  /** Runs requests to completion: the offline path of `generate` and the benches. */
  async generate(requests: AddRequestOptions[]): Promise<RequestOutput[]> {
    for (const request of requests) await this.prepareRequest(request.params)
    const handles = requests.map((request) => this.addRequest(request))
    return Promise.all(handles.map((handle) => handle.result()))
  }

  async shutdown(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const requestId of [...this.handles.keys()]) this.abort(requestId)
    await this.loop
    for (const requestId of [...this.pendingAborts]) this.abortNow(requestId)
    await this.grammars.close()
    this.speculator?.drafter?.close()
    this.native.close()
  }

  private kick(): void {
    this.loop ??= this.runLoop().finally(() => {
      this.loop = null
      // Work that arrived while the loop was winding down.
      if (this.scheduler.hasWork && !this.closed) this.kick()
    })
  }

  private async runLoop(): Promise<void> {
    while (this.scheduler.hasWork && !this.closed) {
      await this.step()
      // Let I/O (HTTP streams, new requests) in between steps.
      await new Promise((resolve) => setImmediate(resolve))
    }
    // A step queued for requests that have all ended since (or at shutdown) still runs; its rows are void.
    const queued = this.queued
    this.queued = null
    if (queued !== null) await queued.result.catch(() => undefined)
    this.publishPending()
  }

  /** One step under the watchdog: a loop that stops making progress fails its queued requests instead of spinning. */
  private async step(): Promise<void> {
    this.watchdog.stepStarted()
    const progressed = await this.runStep()
    const {waiting, running, swapped} = this.scheduler
    const stuck = this.watchdog.stepEnded(progressed, {waiting: waiting.length, running: running.length, swapped: swapped.length})
    if (stuck === null) return
    for (const group of [...waiting, ...running, ...swapped]) this.failGroup(group, new PagedLLMError(`the engine stopped making progress: ${stuck}`, {code: 'engine_stalled'}))
  }

  /**
   * schedule -> queue -> apply the result; returns whether anything moved (tokens computed, blocks moved, requests
   * finished). With async scheduling the step applied may have been queued by the previous turn, and this turn queues
   * the next one before applying it, so the backend never waits for the host between them.
   */
  private async runStep(): Promise<boolean> {
    for (const requestId of this.pendingAborts) this.abortNow(requestId)
    this.pendingAborts.clear()
    const started = performance.now()
    let current = this.queued
    this.queued = null
    if (current === null) {
      if (this.speculator?.drafter && !(await this.prepareDrafts())) return true
      const out = this.scheduler.schedule(nowSeconds())
      for (const {group, error} of out.rejected) this.failGroup(group, error)
      if (out.scheduled.length === 0 && out.swapOut.length + out.swapIn.length + out.blockCopies.length === 0) {
        if (this.scheduler.running.length === 0 && this.scheduler.swapped.length === 0 && this.scheduler.waiting.length > 0) {
          // Nothing runs and the head still does not fit: it never will.
          const head = this.scheduler.waiting[0]!
          this.scheduler.remove(head)
          this.failGroup(head, new ContextLengthError(`request ${head.requestId} does not fit the KV cache even when it is empty`, 'max_tokens'))
          return true
        }
        this.publishPending()
        return out.rejected.length > 0
      }
      current = this.queue(out)
    }
    if (current.nextMayQueue) this.queued = this.queueNext(current)
    // The host's share of the previous step (detokenizing, snapshots) overlaps this step's forward pass.
    this.publishPending()
    const groupsOf = (out: SchedulerOutput) => new Set(out.scheduled.map((entry) => entry.group))
    this.stepInFlight = true
    let result
    try {
      result = await current.result
    } catch (error) {
      // A failed step may have failed before its block moves: the groups it swapped out have no K/V to come back to.
      for (const group of new Set([...groupsOf(current.out), ...current.out.swappedOut])) this.failGroup(group, error)
      return true
    } finally {
      this.stepInFlight = false
    }
    // Processing awaits grammar masks; aborts meanwhile wait for the next step like those during the run.
    this.stepInFlight = true
    let touched
    try {
      touched = await this.outputs.process(current.out.scheduled, result.rows, result.logits, nowSeconds(), result.backend, result.promptLogprobs)
    } catch (error) {
      for (const group of groupsOf(current.out)) this.failGroup(group, error)
      return true
    } finally {
      this.stepInFlight = false
    }
    // Finished groups leave the queues and free their blocks now, before the next schedule; callers hear of them now,
    // or while the next step's forward pass runs.
    for (const group of touched) {
      if (group.isFinished) this.retire(group)
      this.unpublished.add(group)
    }
    // No step is queued ahead of a guided one (it samples in JS), so failing one now leaves nothing in flight; one
    // this step finished fails too (its last mask may have been EOS alone, given when its worker was stopped).
    for (const {group, error} of this.outputs.takeGuideFailures()) this.failGroup(group, error)
    if (this.hostOverlap === 'none') this.publishPending()
    this.counters.numSteps++
    // KV statistics walk every block table: taken only for a listener (bench).
    if (this.stepListeners.length === 0) return true
    const stats: StepStats = {
      numSeqs: current.out.scheduled.length,
      numPrefillTokens: current.numPrefillTokens,
      numDecodeTokens: current.numDecodeTokens,
      numPreempted: current.out.numPreempted,
      durationMs: performance.now() - started,
      kv: this.blockManager.memoryStats(),
    }
    for (const listener of this.stepListeners) listener(stats)
    return true
  }

  /** Hands a scheduled step to the native worker (it runs after any step queued before it). */
  private queue(out: SchedulerOutput): QueuedStep {
    // A decode computes one token past the prompt; everything else is prefill (whole or chunked, or recompute).
    let numDecodeTokens = 0
    for (const entry of out.scheduled) if (entry.start >= entry.seq.promptLength) numDecodeTokens += entry.numNewTokens
    const numPrefillTokens = out.scheduled.reduce((sum, entry) => sum + entry.numNewTokens, 0) - numDecodeTokens
    let plan: SamplingPlan | null = null
    // Runs at once up to the native call (which copies the inputs); a throw becomes the step's rejection.
    const result = (async () => {
      this.outputs.prefetchMasks(out.scheduled)
      return this.runner.run(out, (rows) => (plan = backendSamplingEnabled() ? this.outputs.planSampling(out.scheduled, rows) : null))
    })()
    // Awaited when the step is applied; until then a rejection must not count as unhandled.
    result.catch(() => undefined)
    const nextMayQueue = markQueued(out.scheduled, plan, this.hostOverlap === 'async')
    return {out, result, nextMayQueue, numPrefillTokens, numDecodeTokens}
  }

  /** Async scheduling: schedules and queues the next step while `current` runs; null when there is nothing to run. */
  private queueNext(current: QueuedStep): QueuedStep | null {
    for (const group of groupsEndingIn(current.out.scheduled)) {
      this.scheduler.remove(group)
      for (const seq of group.sequences) this.blockManager.free(seq)
    }
    const out = this.scheduler.schedule(nowSeconds())
    for (const {group, error} of out.rejected) this.failGroup(group, error)
    if (out.scheduled.length === 0 && out.swapOut.length + out.swapIn.length + out.blockCopies.length === 0) return null
    this.counters.numStepsQueuedAhead++
    return this.queue(out)
  }

  /** Draft-model speculation: runs the draft for this step's proposals; a failure fails the running requests. */
  private async prepareDrafts(): Promise<boolean> {
    const running = [...this.scheduler.running]
    this.stepInFlight = true
    try {
      await this.speculator!.prepare(running)
      return true
    } catch (error) {
      for (const group of running) this.failGroup(group, error)
      return false
    } finally {
      this.stepInFlight = false
    }
  }

  private publishPending(): void {
    const groups = this.unpublished
    this.unpublished = new Set()
    for (const group of groups) {
      try {
        this.publish(group)
      } catch (error) {
        this.failGroup(group, error)
      }
    }
  }

  /** A finished group leaves the scheduler's queues and frees its blocks; idempotent (publish retires it again). */
  private retire(group: SequenceGroup): void {
    this.scheduler.remove(group)
    for (const seq of group.sequences) this.blockManager.free(seq)
    this.speculator?.forgetGroup(group)
  }

  private publish(group: SequenceGroup): void {
    const entry = this.handles.get(group.requestId)
    if (!entry) return
    this.outputs.catchUpGroupText(group)
    const finished = group.isFinished
    if (finished) {
      this.counters.generationTokens += group.sequences.reduce((sum, seq) => sum + seq.outputLength, 0)
      this.retire(group)
      this.handles.delete(group.requestId)
    }
    entry.handle.push(snapshotGroup(group, finished ? this.outputs.finalOutputs.get(group) : undefined))
    if (finished) this.outputs.forgetGroup(group)
  }

  private abortNow(requestId: string): void {
    const entry = this.handles.get(requestId)
    if (!entry) return
    const {group} = entry
    for (const seq of group.sequences) {
      if (!isFinished(seq.status)) seq.status = SequenceStatus.FinishedAborted
      seq.dropPending()
    }
    group.times.finished ??= nowSeconds()
    // The group is finished now: publishing it leaves the queues and frees its blocks.
    this.publish(group)
  }

  private failGroup(group: SequenceGroup, error: unknown): void {
    const entry = this.handles.get(group.requestId)
    this.scheduler.remove(group)
    for (const seq of group.sequences) {
      if (!isFinished(seq.status)) seq.status = SequenceStatus.FinishedAborted
      seq.dropPending()
      this.blockManager.free(seq)
    }
    this.outputs.forgetGroup(group)
    this.speculator?.forgetGroup(group)
    this.handles.delete(group.requestId)
    entry?.handle.fail(error)
  }
}

