// Decides, per step, which decoding sequences get proposed tokens (and how many), and keeps acceptance counts.
import {SequenceStatus, type Sequence, type SequenceGroup, type SpecDecodeCounts} from '../sequence.js'
import type {DraftProposal, DraftProposer} from './draft-proposer.js'
import {SequenceBackOff} from './back-off.js'
import {ngramInHindsight, proposeNgram} from './ngram-proposer.js'
import type {SpeculativeConfig} from './spec-config.js'

export type {SpecDecodeCounts} from '../sequence.js'

export function emptySpecCounts(): SpecDecodeCounts {
  return {numDrafts: 0, numDraftTokens: 0, numAcceptedTokens: 0}
}

export class Speculator {
  readonly totals = emptySpecCounts()
  private readonly backOff = new WeakMap<Sequence, SequenceBackOff>()
  /** Draft method: this step's proposals (made by prepare, handed out by propose), and the q of those handed out. */
  private drafted = new Map<Sequence, DraftProposal>()
  private readonly proposed = new Map<Sequence, Float32Array[]>()

  /** `drafter`: the draft model proposer when config.method is 'draft'. */
  constructor(
    readonly config: SpeculativeConfig,
    readonly drafter: DraftProposer | null = null,
  ) {
    if ((config.method === 'draft') !== (drafter !== null)) throw new Error(`speculative method ${config.method} with${drafter ? '' : 'out'} a draft proposer`)
  }

  /**
   * Draft method: runs the draft model for every running sequence that will ask for a proposal this step (the
   * scheduler's propose is synchronous; the draft's steps are not). N-gram lookup needs no preparation.
   */
  async prepare(running: readonly SequenceGroup[]): Promise<void> {
    this.drafted.clear()
    this.proposed.clear()
    if (this.drafter === null) return
    const decoding = running.flatMap((group) => group.withStatus(SequenceStatus.Running).map((seq) => ({group, seq})))
    const requests = this.paysAt(decoding.length) ? decoding.map(({group, seq}) => ({group, seq, k: this.budget(group, seq, decoding.length)})).filter((request) => request.k > 0) : []
    this.drafted = await this.drafter.propose(requests)
  }

  /** Whether this step's batch is small enough for speculation to pay (global back-off). */
  paysAt(numDecodeSeqs: number): boolean {
    return !this.config.adaptive || numDecodeSeqs <= this.config.maxBatchSize
  }

  /**
   * Draft tokens for a sequence about to decode one token in a step with `numDecodeSeqs` decoding sequences, or [].
   * Never proposes past max_tokens (the step also yields one token of its own), so reserving KV policies already hold the room.
   */
  propose(group: SequenceGroup, seq: Sequence, numDecodeSeqs: number): number[] {
    if (this.drafter === null) {
      const k = this.budget(group, seq, numDecodeSeqs)
      return k === 0 ? [] : proposeNgram(seq.tokenIds, this.config.ngramMin, this.config.ngramMax, k)
    }
    const proposal = this.drafted.get(seq)
    if (proposal === undefined) return []
    this.drafted.delete(seq)
    if (proposal.distributions !== null) this.proposed.set(seq, proposal.distributions)
    return proposal.tokenIds
  }

  /** The draft distributions q of the tokens proposed to `seq` this step; null for point-mass proposals (n-gram, greedy drafts). */
  draftDistributions(seq: Sequence): Float32Array[] | null {
    return this.proposed.get(seq) ?? null
  }

  /** Frees draft state of a group's sequences (finished, aborted or failed). */
  forgetGroup(group: SequenceGroup): void {
    for (const seq of group.sequences) this.drafter?.release(seq)
  }

  /** Tokens the sequence may be proposed now (0: none), after the per-sequence back-off (back-off.ts). */
  private budget(group: SequenceGroup, seq: Sequence, numDecodeSeqs: number): number {
    if (group.params.useBeamSearch || seq.status !== SequenceStatus.Running) return 0
    // A grammar's or bad_words' mask depends on the tokens before it, so drafts would be checked against the wrong one.
    if (group.params.guided !== null || group.params.badWords.length > 0) return 0
    if (seq.numUncomputedTokens !== 1 || seq.outputLength === 0) return 0
    const room = group.params.maxTokens - seq.outputLength - 1
    if (!this.config.adaptive) return Math.max(0, Math.min(this.config.numSpeculativeTokens, room))
    const hindsight = this.drafter === null ? (k: number) => ngramInHindsight(seq.tokenIds, this.config.ngramMin, this.config.ngramMax, k) : null
    return Math.max(0, Math.min(this.backOffOf(seq).budget(numDecodeSeqs, hindsight), room))
  }

  /** Records a verified proposal, rolls the draft back to what was accepted, and updates the sequence's back-off. */
  record(group: SequenceGroup, seq: Sequence, numProposed: number, numAccepted: number): void {
    this.rollBack(seq)
    group.specDecode ??= emptySpecCounts()
    for (const target of [group.specDecode, this.totals]) {
      target.numDrafts++
      target.numDraftTokens += numProposed
      target.numAcceptedTokens += numAccepted
    }
    if (this.config.adaptive) this.backOffOf(seq).recordVerified(numProposed, numAccepted)
  }

  private backOffOf(seq: Sequence): SequenceBackOff {
    let state = this.backOff.get(seq)
    if (state === undefined) this.backOff.set(seq, (state = new SequenceBackOff(this.config.numSpeculativeTokens)))
    return state
  }

  /** After verification: the draft's KV of rejected tokens goes now, not at the next proposal. */
  private rollBack(seq: Sequence): void {
    this.proposed.delete(seq)
    this.drafter?.rollBack(seq)
  }
}
