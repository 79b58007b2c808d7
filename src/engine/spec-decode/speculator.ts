// Decides, per step, which decoding sequences get proposed tokens (and how many), and keeps acceptance counts.
import {SequenceStatus, type Sequence, type SequenceGroup, type SpecDecodeCounts} from '../sequence.js'
import {proposeNgram} from './ngram-proposer.js'
import type {SpeculativeConfig} from './spec-config.js'

export type {SpecDecodeCounts} from '../sequence.js'

export function emptySpecCounts(): SpecDecodeCounts {
  return {numDrafts: 0, numDraftTokens: 0, numAcceptedTokens: 0}
}

/** Longest pause after repeated fully rejected proposals. */
const MAX_BACKOFF_STEPS = 16

interface BackOff {
  /** Steps left without proposing. */
  skip: number
  /** Fully rejected proposals in a row; an accepted token resets it. */
  misses: number
  /** Tokens to propose next: two more than the last proposal had accepted (each row costs compute), at most K. */
  k: number
}

export class Speculator {
  readonly totals = emptySpecCounts()
  private readonly backOff = new WeakMap<Sequence, BackOff>()

  constructor(readonly config: SpeculativeConfig) {}

  /** Whether this step's batch is small enough for speculation to pay (global back-off). */
  paysAt(numDecodeSeqs: number): boolean {
    return !this.config.adaptive || numDecodeSeqs <= this.config.maxBatchSize
  }

  /**
   * Draft tokens for a sequence about to decode one token, or []. Never proposes past max_tokens (the step also
   * yields one token of its own), so reserving KV policies already hold the room.
   */
  propose(group: SequenceGroup, seq: Sequence): number[] {
    if (group.params.useBeamSearch || seq.status !== SequenceStatus.Running) return []
    // A grammar's or bad_words' mask depends on the tokens before it, so drafts would be checked against the wrong one.
    if (group.params.guided !== null || group.params.badWords.length > 0) return []
    if (seq.numUncomputedTokens !== 1 || seq.outputLength === 0) return []
    const state = this.backOff.get(seq)
    if (state !== undefined && state.skip > 0) {
      state.skip--
      return []
    }
    const room = group.params.maxTokens - seq.outputLength - 1
    const k = Math.min(state?.k ?? this.config.numSpeculativeTokens, room)
    return proposeNgram(seq.tokenIds, this.config.ngramMin, this.config.ngramMax, k)
  }

  /** Records a verified proposal and updates the sequence's back-off. */
  record(group: SequenceGroup, seq: Sequence, numProposed: number, numAccepted: number): void {
    group.specDecode ??= emptySpecCounts()
    for (const target of [group.specDecode, this.totals]) {
      target.numDrafts++
      target.numDraftTokens += numProposed
      target.numAcceptedTokens += numAccepted
    }
    if (!this.config.adaptive) return
    const state = this.backOff.get(seq) ?? {skip: 0, misses: 0, k: this.config.numSpeculativeTokens}
    state.misses = numAccepted > 0 ? 0 : state.misses + 1
    state.k = Math.min(this.config.numSpeculativeTokens, numAccepted + 2)
    // A verification row costs little next to a step on CPU, so one miss is tolerated; then 1, 2, 4 ... steps pass.
    if (state.misses >= 2) state.skip = Math.min(MAX_BACKOFF_STEPS, 2 ** (state.misses - 2))
    this.backOff.set(seq, state)
  }
}
