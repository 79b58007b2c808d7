// What a caller sees of a request: cumulative outputs, and a handle to stream, await or abort them.
//
// A snapshot is taken every step, so it copies nothing that grows with the output: a live sequence's text, tokens and
// logprobs are read from the sequence when a caller first asks for them. A stream asks only for what is new
// (outputTextFrom and the like), which reads only that.
import type {OutputText} from './output-text.js'
import {finishReasonOf, type FinishReason, type Sequence, type SequenceGroup, type SpecDecodeCounts, type TokenLogprobs} from './sequence.js'

export interface CompletionOutput {
  index: number
  /** Cumulative text and tokens; streaming consumers compute deltas themselves. */
  text: string
  tokenIds: number[]
  cumulativeLogprob: number
  logprobs: TokenLogprobs[] | null
  finishReason: FinishReason | null
  stopReason: string | number | null
}

export interface RequestOutput {
  requestId: string
  prompt: string | null
  promptTokenIds: readonly number[]
  outputs: CompletionOutput[]
  finished: boolean
  promptLogprobs: (TokenLogprobs | null)[] | null
  /** Each prompt token's rank (1 = likeliest), beside promptLogprobs. */
  promptLogprobRanks?: (number | null)[] | null
  /** Prompt tokens found in the prefix cache when the request was first scheduled (vLLM's num_cached_tokens). */
  numCachedTokens: number
  metrics: {arrivalTime: number; firstScheduledTime: number | null; firstTokenTime: number | null; finishedTime: number | null}
  /** Speculative decoding counts, when the engine speculates (null otherwise or before any proposal). */
  specDecode?: (SpecDecodeCounts & {acceptanceRate: number}) | null
}

/**
 * Snapshot of a group. While it runs every live sequence is reported; once finished, the n best of
 * best_of samples (or beams, already ranked by the beam search) in order of cumulative logprob.
 */
export function snapshotGroup(group: SequenceGroup, finishedOutputs?: CompletionOutput[]): RequestOutput {
  const outputs =
    finishedOutputs ??
    group.sequences.map((seq, index) => liveOutput(seq, index, group.params.logprobs !== null))
  return {
    requestId: group.requestId,
    prompt: group.prompt,
    promptTokenIds: group.promptTokenIds,
    outputs,
    finished: group.isFinished,
    promptLogprobs: group.promptLogprobs,
    promptLogprobRanks: group.promptLogprobRanks,
    numCachedTokens: group.numCachedTokens,
    metrics: {
      arrivalTime: group.times.arrival,
      firstScheduledTime: group.times.firstScheduled,
      firstTokenTime: group.times.firstToken,
      finishedTime: group.times.finished,
    },
    ...(group.specDecode === null ? {} : {specDecode: {...group.specDecode, acceptanceRate: acceptanceRate(group.specDecode)}}),
  }
}

/** Where a live output's parts are read from: the sequence's text, tokens and logprobs as they were at the snapshot. */
interface OutputSource {
  text: OutputText
  textLength: number
  tokenIds: readonly number[]
  tokenStart: number
  tokenEnd: number
  logprobs: readonly TokenLogprobs[] | null
  logprobEnd: number
}

const sources = new WeakMap<CompletionOutput, OutputSource>()

/**
 * One sequence's output at this step. The sequence's text, tokens and logprobs only grow at their end, so what the
 * snapshot covers stays readable later; each part is copied once, when first read.
 */
function liveOutput(seq: Sequence, index: number, withLogprobs: boolean): CompletionOutput {
  const source: OutputSource = {
    text: seq.text,
    textLength: seq.shownTextLength,
    tokenIds: seq.tokenIds,
    tokenStart: seq.promptLength,
    tokenEnd: seq.resolvedLength,
    logprobs: withLogprobs ? seq.outputLogprobs : null,
    logprobEnd: seq.outputLogprobs.length,
  }
  let text: string | undefined
  let tokenIds: number[] | undefined
  let logprobs: TokenLogprobs[] | null | undefined
  const output: CompletionOutput = {
    index,
    get text() {
      return (text ??= source.text.prefix(source.textLength))
    },
    get tokenIds() {
      return (tokenIds ??= source.tokenIds.slice(source.tokenStart, source.tokenEnd))
    },
    cumulativeLogprob: seq.cumulativeLogprob,
    get logprobs() {
      if (logprobs === undefined) logprobs = source.logprobs === null ? null : source.logprobs.slice(0, source.logprobEnd)
      return logprobs
    },
    finishReason: finishReasonOf(seq.status),
    stopReason: seq.stopReason,
  }
  sources.set(output, source)
  return output
}

/** The output's text from character `start` on; an engine snapshot reads only those characters. */
export function outputTextFrom(output: CompletionOutput, start: number): string {
  const source = sources.get(output)
  if (source === undefined) return output.text.slice(start)
  return start >= source.textLength ? '' : source.text.from(start).slice(0, source.textLength - start)
}

/** The output text's length, without joining it. */
export function outputTextLength(output: CompletionOutput): number {
  return sources.get(output)?.textLength ?? output.text.length
}

/** The output's token ids from the `start`th on. */
export function outputTokenIdsFrom(output: CompletionOutput, start: number): number[] {
  const source = sources.get(output)
  return source === undefined ? output.tokenIds.slice(start) : source.tokenIds.slice(source.tokenStart + start, source.tokenEnd)
}

/** How many tokens the output has, without copying them. */
export function outputTokenCount(output: CompletionOutput): number {
  const source = sources.get(output)
  return source === undefined ? output.tokenIds.length : source.tokenEnd - source.tokenStart
}

/** The output's logprobs from the `start`th token on ([] without logprobs). */
export function outputLogprobsFrom(output: CompletionOutput, start: number): TokenLogprobs[] {
  const source = sources.get(output)
  if (source === undefined) return output.logprobs?.slice(start) ?? []
  return source.logprobs?.slice(start, source.logprobEnd) ?? []
}

export function acceptanceRate(counts: SpecDecodeCounts): number {
  return counts.numDraftTokens === 0 ? 0 : counts.numAcceptedTokens / counts.numDraftTokens
}

/** Streams a request's outputs. Only the newest snapshot matters (outputs are cumulative), so slow readers skip ahead. */
export class RequestHandle implements AsyncIterable<RequestOutput> {
  private latest: RequestOutput | null = null
  private delivered = true
  private error: unknown = null
  private done = false
  private wake: (() => void) | null = null
  private readonly finalOutput: Promise<RequestOutput>
  private resolveFinal!: (output: RequestOutput) => void
  private rejectFinal!: (error: unknown) => void

  constructor(
    readonly requestId: string,
    private readonly onAbort: (requestId: string) => void,
  ) {
    this.finalOutput = new Promise((resolve, reject) => {
      this.resolveFinal = resolve
      this.rejectFinal = reject
    })
    // Callers that only iterate must not see an unhandled rejection from the promise they never awaited.
    this.finalOutput.catch(() => {})
  }

  /** Engine side: a new snapshot. */
  push(output: RequestOutput): void {
    if (this.done) return
    this.latest = output
    this.delivered = false
    if (output.finished) {
      this.done = true
      this.resolveFinal(output)
    }
    this.wake?.()
  }

  /** Engine side: the request failed (rejected at scheduling, or the step threw). */
  fail(error: unknown): void {
    if (this.done) return
    this.done = true
    this.error = error
    this.rejectFinal(error)
    this.wake?.()
  }

  get finished(): boolean {
    return this.done
  }

  abort(): void {
    this.onAbort(this.requestId)
  }

  result(): Promise<RequestOutput> {
    return this.finalOutput
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RequestOutput> {
    while (true) {
      if (!this.delivered && this.latest) {
        this.delivered = true
        yield this.latest
        if (this.latest.finished) return
        continue
      }
      if (this.error !== null) throw this.error
      if (this.done) return
      await new Promise<void>((resolve) => (this.wake = resolve))
      this.wake = null
    }
  }
}
