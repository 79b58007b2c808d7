// Submits one HTTP request's prompts to the engine through a window of sequences and merges their output streams, aborting them all when the client goes away.
import {InvalidRequestError, UnavailableError} from '../engine/errors.js'
import type {SamplingParams} from '../engine/sampling-params.js'
import type {ApiContext} from './api-context.js'
import type {EngineLike, RequestHandleLike, RequestOutput} from './engine-like.js'

export interface PreparedPrompt {
  tokenIds: number[]
  /** The prompt's text, for echo: as sent, or decoded from the token ids sent. */
  text: string
  params: SamplingParams
}

/** Sequences one prompt occupies in the engine: its samples, or its beams (n and best_of default as SamplingParams do). */
export function sequencesPerPrompt(params: Partial<Pick<SamplingParams, 'n' | 'bestOf'>>): number {
  const n = params.n ?? 1
  return Math.max(n, params.bestOf ?? n)
}

/** Beam search and best_of > n choose their sequences at the end, so nothing can be streamed before it (vLLM's rule). */
export function picksAtEnd(params: Pick<SamplingParams, 'n' | 'bestOf' | 'useBeamSearch'>): boolean {
  return params.useBeamSearch || params.bestOf > params.n
}

/** A request's admission: the window its PromptRun keeps to, and the slots' early release, for when its generation ends. */
export interface Admission {
  window: number
  release: () => void
}

/**
 * Refuses a request that asks for more sequences than one may queue (400 naming the limit), then waits for its
 * share of the concurrency slots: its window, not its whole list.
 */
export async function admitPrompts(context: ApiContext, promptCount: number, perPrompt: number): Promise<Admission> {
  const total = promptCount * perPrompt
  const {maxSequencesPerRequest, windowSequences} = context.limits
  if (total > maxSequencesPerRequest)
    throw new InvalidRequestError(
      `This request asks for ${total} sequences (${promptCount} prompts x ${perPrompt} per prompt, from n / best_of); ` +
        `the server allows at most ${maxSequencesPerRequest} per request (--max-sequences-per-request). Split it into smaller requests.`,
      {param: promptCount > 1 ? 'prompt' : 'n', code: 'too_many_sequences'},
    )
  const window = Math.min(total, Math.max(perPrompt, windowSequences))
  const release = await context.admit(window)
  return {window, release}
}

/** Compiles the prompts' grammars before anything is queued, so a bad schema is a 400 with nothing to undo; `signal` (the client leaving) stops the compile. */
export async function prepareGuided(engine: EngineLike, prompts: readonly PreparedPrompt[], signal: AbortSignal): Promise<void> {
  for (const {params} of prompts) {
    if (params.guided === null) continue
    if (!engine.prepareRequest) throw new InvalidRequestError('this engine does not support guided decoding', {param: params.guided.param})
    await engine.prepareRequest(params, signal)
  }
}

/** Tokenizes the prompts' bad_words off the event loop (serve's tokenizer workers), once per list, so the engine need not. */
export async function prepareBadWords(context: Pick<ApiContext, 'promptTokenizer' | 'signal'>, prompts: readonly PreparedPrompt[]): Promise<void> {
  const sequencesOf = new Map<readonly string[], Promise<number[][]>>()
  for (const {params} of prompts) {
    if (params.badWords.length === 0 || params.badWordTokenIds !== null) continue
    const words = params.badWords
    if (!sequencesOf.has(words)) sequencesOf.set(words, context.promptTokenizer.badWordSequences(words, context.signal))
    params.badWordTokenIds = await sequencesOf.get(words)!
  }
}

export interface IndexedOutput {
  promptIndex: number
  output: RequestOutput
}

interface Stream {
  handle: RequestHandleLike
  iterator: AsyncIterator<RequestOutput>
  sequences: number
  /** Counted in the window until the engine is done with it (or its client has its last output, if that comes first). */
  inEngine: boolean
}

type Pulled = {index: number; result: IteratorResult<RequestOutput>} | {index: number; error: unknown}

/**
 * One request's prompts in the engine. At most `windowSequences` sequences are in the engine at once (always at
 * least one prompt), so a long prompt list queues behind itself and other clients' requests interleave with it.
 * Each live stream has at most one pending pull; settled pulls wait in one FIFO, so merging costs O(1) per output.
 * The window moves as the engine finishes prompts, not as the client reads them: generation never waits on the
 * socket, and `onGenerationEnd` (giving back the request's slots) runs once the engine is done with every prompt,
 * however slowly the client takes the rest of its reply.
 */
export class PromptRun {
  /** next() calls made on the prompts' streams: the work merging costs (tests bound it). */
  pulls = 0
  private nextPrompt = 0
  private sequencesInEngine = 0
  private closed = false
  private readonly live = new Map<number, Stream>()
  private readonly settled: Pulled[] = []
  private wake: (() => void) | null = null

  /** Adds the first window at once, so a prompt the engine rejects fails before any reply; if one fails, none stay. */
  constructor(
    private readonly engine: EngineLike,
    private readonly requestId: string,
    private readonly prompts: readonly PreparedPrompt[],
    private readonly arrivalTime: number,
    private readonly windowSequences: number,
    private readonly onGenerationEnd: () => void = () => {},
  ) {
    try {
      this.admitMore()
    } catch (error) {
      this.abortLive()
      throw error
    }
  }

  /**
   * Yields each prompt's outputs as they arrive, interleaved. Ends early when `signal` aborts (client gone);
   * whatever way it ends (done, abort, error, consumer stops), unfinished requests are aborted so their
   * KV blocks are freed at once. The consumer pulls: while it waits (a slow client), no output is taken.
   */
  async *outputs(signal: AbortSignal, onFinished: (output: RequestOutput) => void): AsyncGenerator<IndexedOutput> {
    const onAbort = () => this.notify()
    signal.addEventListener('abort', onAbort, {once: true})
    try {
      while ((this.live.size > 0 || this.nextPrompt < this.prompts.length) && !signal.aborted) {
        const next = this.settled.shift()
        if (next === undefined) {
          await new Promise<void>((resolve) => (this.wake = resolve))
          continue
        }
        if ('error' in next) throw next.error
        const {index, result} = next
        if (result.done) {
          this.retire(index)
          continue
        }
        if (result.value.finished) {
          this.retire(index)
          onFinished(result.value)
        } else {
          this.pull(index)
        }
        yield {promptIndex: index, output: result.value}
      }
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.abortLive()
    }
  }

  private admitMore(): void {
    while (this.nextPrompt < this.prompts.length && !this.closed) {
      const prompt = this.prompts[this.nextPrompt]!
      const sequences = sequencesPerPrompt(prompt.params)
      if (this.sequencesInEngine > 0 && this.sequencesInEngine + sequences > this.windowSequences) return
      const index = this.nextPrompt++
      const id = this.prompts.length === 1 ? this.requestId : `${this.requestId}-${index}`
      const handle = this.engine.addRequest({requestId: id, prompt: prompt.tokenIds, params: prompt.params, arrivalTime: this.arrivalTime})
      const stream: Stream = {handle, iterator: handle[Symbol.asyncIterator](), sequences, inEngine: true}
      this.live.set(index, stream)
      this.sequencesInEngine += sequences
      handle.result().then(
        () => this.engineFinished(stream, true),
        () => this.engineFinished(stream, false),
      )
      this.pull(index)
    }
  }

  /**
   * The engine is done with a prompt: the next prompts take its place, whether or not the client has read it. After a
   * failure none do: the consumer will throw it, and the reply's end gives the slots back.
   */
  private engineFinished(stream: Stream, succeeded: boolean): void {
    if (!stream.inEngine) return
    stream.inEngine = false
    this.sequencesInEngine -= stream.sequences
    if (this.closed || !succeeded) return
    try {
      this.admitMore()
    } catch (error) {
      // The engine rejected a later prompt: the consumer throws it, as any stream's failure.
      this.settle({index: -1, error})
      return
    }
    if (this.nextPrompt === this.prompts.length && this.sequencesInEngine === 0) this.onGenerationEnd()
  }

  /** The client has the prompt's last output: its stream leaves the run (and the window, if the engine's result has not yet said so). */
  private retire(index: number): void {
    const stream = this.live.get(index)!
    this.live.delete(index)
    this.engineFinished(stream, true)
  }

  private pull(index: number): void {
    this.pulls += 1
    // Failures become values so that a second failing stream cannot surface as an unhandled rejection.
    this.live
      .get(index)!
      .iterator.next()
      .then(
        (result) => this.settle({index, result}),
        (error: unknown) => this.settle({index, error}),
      )
  }

  private settle(pulled: Pulled): void {
    this.settled.push(pulled)
    this.notify()
  }

  private notify(): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }

  private abortLive(): void {
    this.closed = true
    for (const {handle, iterator} of this.live.values()) {
      handle.abort()
      // Not awaited: an engine that never settles the pending next() must not hang the reply.
      void iterator.return?.().catch(() => {})
    }
    this.live.clear()
  }
}

/**
 * Runs every prompt to its end and returns the final output of each, in prompt order. Throws the abort
 * reason when the request was aborted, and an UnavailableError when the engine aborted a prompt itself.
 */
export async function collectFinalOutputs(
  run: PromptRun,
  promptCount: number,
  signal: AbortSignal,
  onFinished: (output: RequestOutput) => void,
): Promise<RequestOutput[]> {
  const finals: (RequestOutput | null)[] = Array.from({length: promptCount}, () => null)
  for await (const {promptIndex, output} of run.outputs(signal, onFinished)) {
    if (output.finished) finals[promptIndex] = output
  }
  signal.throwIfAborted()
  return finals.map((final) => {
    if (final === null || final.outputs.some((output) => output.finishReason === 'abort'))
      throw new UnavailableError('the request was aborted by the engine before it finished', {code: 'request_aborted'})
    return final
  })
}

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
}

/**
 * vLLM's usage.prompt_tokens_details (serve --enable-prompt-tokens-details): the prompts' tokens whose KV the prefix
 * cache held (RequestOutput.numCachedTokens), summed over the prompts. Reported when 0 too, as OpenAI does (vLLM drops it).
 */
export function promptTokensDetails(context: ApiContext, cachedTokens: Iterable<number>): {prompt_tokens_details?: {cached_tokens: number}} {
  if (!context.enablePromptTokensDetails) return {}
  let sum = 0
  for (const count of cachedTokens) sum += count
  return {prompt_tokens_details: {cached_tokens: sum}}
}

/** Prompt tokens count once per prompt; completion tokens count every returned sequence. */
export function usageOf(promptLengths: readonly number[], completionLengths: readonly number[]): Usage {
  const promptTokens = promptLengths.reduce((sum, length) => sum + length, 0)
  const completionTokens = completionLengths.reduce((sum, length) => sum + length, 0)
  return {prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens}
}
