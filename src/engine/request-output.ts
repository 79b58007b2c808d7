// What a caller sees of a request: cumulative outputs, and a handle to stream, await or abort them.
import {finishReasonOf, type FinishReason, type SequenceGroup, type SpecDecodeCounts, type TokenLogprobs} from './sequence.js'

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
    group.sequences.map((seq, index) => ({
      index,
      text: seq.outputText,
      tokenIds: seq.outputTokenIds,
      cumulativeLogprob: seq.cumulativeLogprob,
      logprobs: group.params.logprobs === null ? null : [...seq.outputLogprobs],
      finishReason: finishReasonOf(seq.status),
      stopReason: seq.stopReason,
    }))
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
