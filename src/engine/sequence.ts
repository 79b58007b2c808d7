// A sequence (one stream of tokens) and a sequence group (one request: its n samples or beams).
import {OutputText} from './output-text.js'
import type {SamplingParams} from './sampling-params.js'

export enum SequenceStatus {
  Waiting = 'waiting',
  Running = 'running',
  Swapped = 'swapped',
  FinishedStopped = 'finished_stopped',
  FinishedLength = 'finished_length',
  FinishedAborted = 'finished_aborted',
}

export type FinishReason = 'stop' | 'length' | 'abort'

export function isFinished(status: SequenceStatus): boolean {
  return (
    status === SequenceStatus.FinishedStopped ||
    status === SequenceStatus.FinishedLength ||
    status === SequenceStatus.FinishedAborted
  )
}

export function finishReasonOf(status: SequenceStatus): FinishReason | null {
  if (status === SequenceStatus.FinishedStopped) return 'stop'
  if (status === SequenceStatus.FinishedLength) return 'length'
  if (status === SequenceStatus.FinishedAborted) return 'abort'
  return null
}

/** Top logprobs of one position: token id -> logprob; the chosen token is always present. */
export type TokenLogprobs = Map<number, number>

let nextSequenceId = 0

export class Sequence {
  readonly seqId = nextSequenceId++
  status = SequenceStatus.Waiting
  /**
   * Prompt followed by generated tokens. The last numPending entries are samples of a step still in flight (async
   * scheduling), each held as -(k + 1), k its sample's index in that step, which is how the next step names it.
   */
  readonly tokenIds: number[]
  numPending = 0
  readonly promptLength: number
  /** Tokens whose K/V are in the cache (prefix-cache hits and finished prefill chunks included). */
  numComputedTokens = 0
  cumulativeLogprob = 0
  /** One entry per generated token when logprobs were asked for. */
  readonly outputLogprobs: TokenLogprobs[] = []
  /** Detokenized output so far, in pieces (stop strings are matched against its end); may run ahead of what is shown. */
  text = OutputText.whole()
  /** How much of `text` callers see: a tail that may still become a stop string waits, a stop string's cut is final. */
  shownTextLength = 0
  /** Why it stopped: the matched stop string or stop token id. */
  stopReason: string | number | null = null

  constructor(tokenIds: readonly number[], promptLength = tokenIds.length) {
    this.tokenIds = [...tokenIds]
    this.promptLength = promptLength
  }

  get length(): number {
    return this.tokenIds.length
  }

  /** The output text callers see, joined on demand. */
  get outputText(): string {
    return this.text.prefix(this.shownTextLength)
  }

  /** Generated tokens, pending ones included: the position the next sample takes. */
  get outputLength(): number {
    return this.tokenIds.length - this.promptLength
  }

  /** Tokens whose ids are known (all but the pending ones). */
  get resolvedLength(): number {
    return this.tokenIds.length - this.numPending
  }

  /** The generated tokens whose ids are known: what callers see. */
  get outputTokenIds(): number[] {
    return this.tokenIds.slice(this.promptLength, this.resolvedLength)
  }

  /** The known generated tokens from the `start`th on: a step that needs only the newest copies only those. */
  outputTokenIdsFrom(start: number): number[] {
    return this.tokenIds.slice(this.promptLength + start, this.resolvedLength)
  }

  /** Tokens still to run through the model before a new token can be sampled. */
  get numUncomputedTokens(): number {
    return this.tokenIds.length - this.numComputedTokens
  }

  appendToken(tokenId: number, logprob: number, topLogprobs?: TokenLogprobs): void {
    this.tokenIds.push(tokenId)
    this.cumulativeLogprob += logprob
    if (topLogprobs) this.outputLogprobs.push(topLogprobs)
  }

  /** Holds a place for the sample a step just queued makes (async scheduling); k: its index among that step's samples. */
  appendPending(k: number): void {
    this.tokenIds.push(-(k + 1))
    this.numPending++
  }

  /** The oldest pending token's sample is back. */
  resolvePending(tokenId: number, logprob: number, topLogprobs?: TokenLogprobs): void {
    this.tokenIds[this.resolvedLength] = tokenId
    this.numPending--
    this.cumulativeLogprob += logprob
    if (topLogprobs) this.outputLogprobs.push(topLogprobs)
  }

  /** A finished sequence drops the places of samples it no longer wants. */
  dropPending(): void {
    this.tokenIds.length = this.resolvedLength
    this.numPending = 0
  }

  /** A copy for parallel sampling or beam search: same tokens and computed state, a new id. */
  fork(): Sequence {
    const child = new Sequence(this.tokenIds, this.promptLength)
    child.status = this.status
    child.numComputedTokens = this.numComputedTokens
    child.numPending = this.numPending
    child.cumulativeLogprob = this.cumulativeLogprob
    child.outputLogprobs.push(...this.outputLogprobs)
    child.text = this.text.clone()
    child.shownTextLength = this.shownTextLength
    return child
  }

  /** Recompute preemption: the cache is dropped, so everything must be computed again. */
  resetForRecompute(): void {
    this.numComputedTokens = 0
    this.status = SequenceStatus.Waiting
  }
}

/** Speculative decoding of one request: verification steps with a proposal, tokens proposed, tokens accepted. */
export interface SpecDecodeCounts {
  numDrafts: number
  numDraftTokens: number
  numAcceptedTokens: number
}

export interface RequestTimes {
  arrival: number
  firstScheduled: number | null
  firstToken: number | null
  finished: number | null
}

/** One request: the sequences that share its prompt (n samples, best_of, or beams). */
export class SequenceGroup {
  readonly times: RequestTimes
  /** Sequences still alive plus finished ones (kept for the final output). */
  sequences: Sequence[]
  /** Prompt logprobs, filled after prefill when asked for (index i = logprobs of prompt token i; entry 0 is null). */
  promptLogprobs: (TokenLogprobs | null)[] | null = null
  /** With promptLogprobs: each prompt token's rank in its row (vLLM's: tokens at least as likely; entry 0 is null). */
  promptLogprobRanks: (number | null)[] | null = null
  /** Set once a speculative proposal of this request has been verified. */
  specDecode: SpecDecodeCounts | null = null
  /**
   * Prompt tokens whose KV came from the prefix cache (whole blocks other requests computed) when the request was
   * first scheduled: vLLM's num_cached_tokens. Forks (n, best_of, beams) share that one prompt, counted once.
   */
  numCachedTokens = 0
  readonly promptTokenIds: readonly number[]

  constructor(
    readonly requestId: string,
    readonly prompt: string | null,
    promptTokenIds: readonly number[],
    readonly params: SamplingParams,
    arrivalTime: number,
  ) {
    this.promptTokenIds = [...promptTokenIds]
    this.sequences = [new Sequence(promptTokenIds)]
    this.times = {arrival: arrivalTime, firstScheduled: null, firstToken: null, finished: null}
  }

  get promptLength(): number {
    return this.promptTokenIds.length
  }

  withStatus(status: SequenceStatus): Sequence[] {
    return this.sequences.filter((seq) => seq.status === status)
  }

  get unfinished(): Sequence[] {
    return this.sequences.filter((seq) => !isFinished(seq.status))
  }

  /** Whether seq's next sample is the first of a best_of > 1 request, which forks the prompt into its samples. */
  forksOnSample(seq: Sequence): boolean {
    return seq.outputLength === 0 && this.sequences.length === 1 && this.params.bestOf > 1
  }

  /** Beam search may discard every live beam; a group with no sequences left is finished. */
  get isFinished(): boolean {
    return this.sequences.every((seq) => isFinished(seq.status))
  }
}
