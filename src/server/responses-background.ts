// Background responses (`background: true`, which needs `serve --responses-store N`): the POST returns the Response
// queued, generation runs on without the client, GET polls it, POST .../cancel aborts it. A running response lives here,
// not in the store, so it cannot be evicted while it runs; it enters the store (LRU, bounded) once it ends. Each run
// holds its request's slots of --max-concurrent-requests until it ends, so their number is bounded as foreground ones.
import type {ServerResponse} from 'node:http'
import {InvalidRequestError} from '../engine/errors.js'
import {errorReply} from './error-reply.js'
import type {JsonObject} from './request-fields.js'
import type {ResponseStore, StoredResponse} from './response-store.js'
import {bytesOf, ReplySlicer} from './reply-slices.js'
import {frameText, SseStream} from './sse.js'
import type {StoredInputItems} from './stored-input-items.js'

/** Aborts a background run when POST /v1/responses/{id}/cancel asks to. */
class CancelledByClient extends Error {
  constructor() {
    super('cancelled by POST /v1/responses/{id}/cancel')
  }
}

/** What the generation of one background response is given: where its events go and where its progress is read. */
export interface BackgroundWork {
  /** Aborted by cancel or by server shutdown. */
  signal: AbortSignal
  /** Records an event (numbered here) for streaming followers; resolves once it is serialized (a slice at a time). */
  emit: (event: {type: string; [field: string]: unknown}) => Promise<void>
  /** The Response object as it stands, for GET while it runs (built on demand: polling costs nothing per token). */
  setProgress: (current: () => JsonObject) => void
}

/** How a run ended: its last Response object, and the type of the event that carries it (none for cancelled). */
export interface BackgroundEnd {
  response: JsonObject
  lastEvent: string | null
}

/**
 * The frame of `{type, response, sequence_number}` around the response's JSON text, serialized beforehand: the one
 * serialization of a big response (logprobs) also counts its bytes for the store.
 */
export function responseEventFrame(type: string, responseText: string, sequenceNumber: number): string {
  return frameText(`{"type":${JSON.stringify(type)},"response":${responseText},"sequence_number":${sequenceNumber}}`, type)
}

/** Never aborts: a run's end is serialized and stored even while the server shuts down (its followers wait for it). */
const ENDING = new AbortController().signal

/** One running background response: its current Response object and, when it streams, its numbered events. */
class BackgroundRun {
  /** Each event as its SSE frame, serialized once as it is recorded: every replay then writes text (a 2.4 MB stream with logprobs was serialized again per GET). */
  readonly events: string[] = []
  readonly cancel = new AbortController()
  current: () => JsonObject
  ended = false
  done: Promise<void> = Promise.resolve()
  private waiters: (() => void)[] = []

  constructor(
    queued: JsonObject,
    readonly streams: boolean,
    readonly inputItems: StoredInputItems,
  ) {
    this.current = () => queued
  }

  /**
   * Events are serialized one after another, each a slice at a time: an item's done events carry its whole text and
   * logprobs (2.4 MB for 1,900 tokens with 20 top logprobs), three of them at once, which held the event loop ~200 ms.
   */
  private recorded: Promise<void> = Promise.resolve()
  private readonly slicer = new ReplySlicer(ENDING)

  record(event: {type: string; [field: string]: unknown}): Promise<void> {
    if (!this.streams) return this.recorded
    return this.append(async () => frameText((await this.slicer.json({...event, sequence_number: this.events.length})).join(''), event.type))
  }

  /** The last event, holding the whole response as its JSON text; resolves once every event is recorded. */
  recordEnd(type: string, responseText: string): Promise<void> {
    if (!this.streams) return this.recorded
    return this.append(async () => responseEventFrame(type, responseText, this.events.length))
  }

  /** Resolves once the events recorded so far are in `events`. */
  flushed(): Promise<void> {
    return this.recorded
  }

  private append(frame: () => Promise<string>): Promise<void> {
    this.recorded = this.recorded.then(async () => {
      this.events.push(await frame())
      this.wake()
    })
    return this.recorded
  }

  end(): void {
    this.ended = true
    this.wake()
  }

  /** Resolves at the next event, at the end, or when `signal` aborts. */
  changed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (this.ended || signal.aborted) return resolve()
      const onAbort = () => resolve()
      signal.addEventListener('abort', onAbort, {once: true})
      this.waiters.push(() => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      })
    })
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve()
  }
}

export class BackgroundResponses {
  private readonly running = new Map<string, BackgroundRun>()

  constructor(
    private readonly store: ResponseStore,
    private readonly log: (message: string) => void,
  ) {}

  /**
   * Runs `generate` without the client. `release` gives back the request's slots (and stops shutdown waiting for it)
   * once the run has ended and its response is stored with its input items.
   */
  start(queued: JsonObject, streams: boolean, stored: Omit<StoredResponse, 'response'>, shutdown: AbortSignal, release: () => void, generate: (work: BackgroundWork) => Promise<BackgroundEnd>): void {
    const id = queued.id as string
    const run = new BackgroundRun(queued, streams, stored.inputItems)
    this.running.set(id, run)
    run.record({type: 'response.created', response: queued})
    const signal = AbortSignal.any([run.cancel.signal, shutdown])
    const work: BackgroundWork = {signal, emit: (event) => run.record(event), setProgress: (current) => (run.current = current)}
    run.done = generate(work)
      .catch((error: unknown): BackgroundEnd => {
        const partial = run.current()
        if (run.cancel.signal.aborted) return {response: {...partial, status: 'cancelled', usage: null}, lastEvent: null}
        const reason = signal.aborted ? signal.reason : error
        const {message, code} = errorReply(reason, this.log).body.error
        const response = {...partial, status: 'failed', error: {code: code ?? 'server_error', message}, usage: null}
        return {response, lastEvent: 'response.failed'}
      })
      .then(async ({response, lastEvent}) => {
        run.current = () => response
        // Serialized once, a slice at a time: the last event's frame and the store's count both come from it (the
        // event, the count and the store's own stringify each held the event loop ~60 ms for a 2.4 MB response).
        const pieces = await new ReplySlicer(ENDING).json(response)
        const responseBytes = bytesOf(pieces)
        if (lastEvent !== null) await run.recordEnd(lastEvent, pieces.join(''))
        else await run.flushed()
        // Too large with its events for the whole byte budget: kept without them (no resume), or else not at all.
        if (!(streams && this.store.put({...stored, response, events: run.events}, responseBytes)) && !this.store.put({...stored, response}, responseBytes))
          this.log(`background response ${id} was not stored: it is larger than the whole --responses-store-bytes budget`)
        this.running.delete(id)
        run.end()
      })
      .finally(release)
  }

  isRunning(id: string): boolean {
    return this.running.has(id)
  }

  /** A 400 on `param` when `id` is still running: its conversation is not whole yet. */
  refuseRunning(id: string, param: string): void {
    if (this.running.has(id)) throw new InvalidRequestError(`Response ${JSON.stringify(id)} is still running in the background: wait for it to finish, or cancel it.`, {param})
  }

  /** The input items of a running or stored response (404 when neither). */
  inputItemsOf(id: string): StoredInputItems {
    return this.running.get(id)?.inputItems ?? this.store.get(id).inputItems
  }

  /** A running or stored response, with its events when it was created with stream: true (else null). 404 when neither. */
  find(id: string): {response: JsonObject; events: string[] | null; run: BackgroundRun | null} {
    const run = this.running.get(id)
    if (run !== undefined) return {response: run.current(), events: run.streams ? run.events : null, run}
    const stored = this.store.get(id)
    return {response: stored.response, events: stored.events ?? null, run: null}
  }

  /**
   * Cancels a running background response and answers once its engine request is aborted (dropped, with its KV
   * blocks, right after the step in flight) and the response stored as cancelled. A cancelled one answers as it is (OpenAI: cancelling twice is idempotent); a
   * synchronous or finished one is a 400.
   */
  async cancel(id: string): Promise<JsonObject> {
    const run = this.running.get(id)
    if (run !== undefined) {
      run.cancel.abort(new CancelledByClient())
      await run.done
      return run.current()
    }
    const {response} = this.store.get(id)
    if (response.background !== true) throw new InvalidRequestError('Cannot cancel a synchronous response.')
    if (response.status === 'cancelled') return response
    throw new InvalidRequestError(`Cannot cancel a response that has already finished (status ${JSON.stringify(response.status)}).`)
  }
}

/**
 * Streams a background response's events after sequence number `startingAfter` (-1: all), following a running one
 * until it ends; the client leaving (`signal`) stops the stream, never the generation.
 */
export async function streamEvents(response: ServerResponse, slowClientTimeoutMs: number, found: ReturnType<BackgroundResponses['find']>, startingAfter: number, signal: AbortSignal): Promise<void> {
  const sse = new SseStream(response, slowClientTimeoutMs)
  const events = found.events!
  let next = startingAfter + 1
  for (;;) {
    while (next < events.length && !signal.aborted) await sse.sendFrame(events[next++]!)
    if (signal.aborted) return
    if (found.run === null || (found.run.ended && next >= events.length)) break
    await found.run.changed(signal)
  }
  sse.finish(undefined, {done: false})
}

/** GET's `starting_after`: a sequence number (a non-negative integer); absent means from the first event. */
export function parseStartingAfter(query: URLSearchParams): number {
  const text = query.get('starting_after')
  if (text === null) return -1
  if (!/^\d{1,9}$/.test(text)) throw new InvalidRequestError(`'starting_after' must be an event's sequence_number (an integer >= 0); got ${JSON.stringify(text)}`, {param: 'starting_after'})
  return Number(text)
}
