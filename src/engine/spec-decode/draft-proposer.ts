// Draft-model proposer: mirrors each speculating sequence in the draft's own paged KV pool and decodes K tokens ahead.
//
// A mirror is a draft-side Sequence holding the target's tokens plus the tokens it drafted. Before proposing it is
// synced: rolled back to the longest prefix it shares with the target (the accepted tokens), then given the target's
// new tokens (the prompt on first use, then the correction or bonus token), which one catch-up step computes while
// sampling the first draft token. K - 1 single-token steps follow. Every step batches all speculating sequences in
// ONE native call of the draft model. Mirrors of sequences that finish, abort or leave the running queue (preempted,
// swapped) are freed; a fork gets its own mirror, rebuilt from the draft's prefix cache.
import type {BlockCopy} from '../block-manager.js'
import {DrawPurpose, sampleUniform} from '../philox.js'
import {sampleRows, samplingDistribution, type SampleRequest} from '../sampler.js'
import {isGreedy, minTokensSuppressed} from '../sampling-params.js'
import type {ScheduledSequence, SchedulerOutput} from '../scheduler.js'
import {Sequence, SequenceGroup, SequenceStatus} from '../sequence.js'
import type {DraftModel} from './draft-model.js'
import {drawFrom} from './rejection-sampler.js'

export interface DraftRequest {
  group: SequenceGroup
  seq: Sequence
  /** Tokens to propose. */
  k: number
}

export interface DraftProposal {
  tokenIds: number[]
  /** Each draft token's distribution q (the request's sampling settings applied to the draft's logits); null when greedy. */
  distributions: Float32Array[] | null
}

interface Mirror {
  group: SequenceGroup
  seq: Sequence
  /** The target's stream (its index in its group): draft tokens take its Draft draws, position by position. */
  stream: number
}

interface Drafting {
  mirror: Mirror
  target: Sequence
  k: number
  proposal: DraftProposal
}

export class DraftProposer {
  private readonly mirrors = new Map<Sequence, Mirror>()

  constructor(
    readonly draft: DraftModel,
    private readonly eosTokenIds: readonly number[],
    private readonly maxNumBatchedTokens: number,
  ) {}

  /** Proposals for the requests that could get a mirror (the draft pool is modest: others get none this step). */
  async propose(requests: readonly DraftRequest[]): Promise<Map<Sequence, DraftProposal>> {
    const wanted = new Set(requests.map((request) => request.seq))
    for (const target of [...this.mirrors.keys()]) if (target.status !== SequenceStatus.Running) this.release(target)
    const drafting: Drafting[] = []
    const copies: BlockCopy[] = []
    for (const {group, seq, k} of requests) {
      if (seq.length + k - 1 > this.draft.maxModelLen) continue
      const mirror = this.sync(group, seq, k - 1, wanted, copies)
      if (mirror !== null) drafting.push({mirror, target: seq, k, proposal: {tokenIds: [], distributions: isGreedy(group.params) ? null : []}})
    }
    await this.catchUp(drafting, copies)
    let decoding = drafting.filter((entry) => entry.proposal.tokenIds.length < entry.k)
    while (decoding.length > 0) {
      await this.forward(decoding.map((entry) => ({entry, numNewTokens: 1})), [])
      decoding = decoding.filter((entry) => entry.proposal.tokenIds.length < entry.k)
    }
    return new Map(drafting.map((entry) => [entry.target, entry.proposal]))
  }

  /** Rolls the mirror back to what the target verified (called after each verification, so rejected slots free now). */
  rollBack(target: Sequence): void {
    const mirror = this.mirrors.get(target)
    if (mirror === undefined) return
    const tokens = mirror.seq.tokenIds
    const limit = Math.min(tokens.length, target.length)
    let common = 0
    while (common < limit && tokens[common] === target.tokenIds[common]) common++
    tokens.length = common
    mirror.seq.numComputedTokens = Math.min(mirror.seq.numComputedTokens, common)
    this.draft.blockManager.trimSlots(mirror.seq)
  }

  /** Frees the mirror of a finished, aborted, preempted or discarded sequence. */
  release(target: Sequence): void {
    const mirror = this.mirrors.get(target)
    if (mirror === undefined) return
    this.draft.blockManager.free(mirror.seq)
    this.mirrors.delete(target)
  }

  get numMirrors(): number {
    return this.mirrors.size
  }

  close(): void {
    for (const target of [...this.mirrors.keys()]) this.release(target)
    this.draft.native.close()
  }

  /**
   * The target's mirror, rolled back and extended to the target's tokens, with slots for `lookahead` draft tokens past
   * them; null when the draft pool has no room even after freeing mirrors of sequences not drafting this step.
   */
  private sync(group: SequenceGroup, target: Sequence, lookahead: number, wanted: ReadonlySet<Sequence>, copies: BlockCopy[]): Mirror | null {
    const {blockManager} = this.draft
    let mirror = this.mirrors.get(target)
    if (mirror !== undefined) {
      this.rollBack(target)
      mirror.seq.tokenIds.push(...target.tokenIds.slice(mirror.seq.length))
    } else {
      const draftGroup = new SequenceGroup(group.requestId, null, target.tokenIds, group.params, group.times.arrival)
      draftGroup.sequences = [new Sequence(target.tokenIds, target.promptLength)]
      if (!this.makeRoom(() => blockManager.canAllocate(draftGroup) === 'ok', wanted)) return null
      blockManager.allocate(draftGroup)
      const seq = draftGroup.sequences[0]!
      seq.status = SequenceStatus.Running
      mirror = {group: draftGroup, seq, stream: group.sequences.indexOf(target)}
      this.mirrors.set(target, mirror)
    }
    // The last token is always computed again: its row gives the first draft token.
    mirror.seq.numComputedTokens = Math.min(mirror.seq.numComputedTokens, target.length - 1)
    blockManager.markComputed(mirror.seq)
    const draftGroup = mirror.group
    if (!this.makeRoom(() => blockManager.canAppendSlots(draftGroup, () => lookahead), wanted)) {
      this.release(target)
      return null
    }
    copies.push(...blockManager.appendSlots(mirror.seq, lookahead))
    return mirror
  }

  /** Frees idle mirrors (of sequences not drafting this step) until `fits` holds; whether it does. */
  private makeRoom(fits: () => boolean, wanted: ReadonlySet<Sequence>): boolean {
    if (fits()) return true
    for (const target of [...this.mirrors.keys()]) {
      if (wanted.has(target)) continue
      this.release(target)
      if (fits()) return true
    }
    return false
  }

  /** Computes each mirror's new tokens (chunked by the token budget) and samples its first draft token. */
  private async catchUp(drafting: Drafting[], copies: BlockCopy[]): Promise<void> {
    let pending = drafting
    while (pending.length > 0) {
      let budget = this.maxNumBatchedTokens
      const batch: Array<{entry: Drafting; numNewTokens: number}> = []
      for (const entry of pending) {
        if (budget <= 0) break
        const numNewTokens = Math.min(entry.mirror.seq.numUncomputedTokens, budget)
        budget -= numNewTokens
        batch.push({entry, numNewTokens})
      }
      await this.forward(batch, copies.splice(0))
      pending = pending.filter((entry) => entry.proposal.tokenIds.length === 0)
    }
  }

  /** One native step of the draft model; a row that reaches its mirror's end yields the next draft token. */
  private async forward(batch: ReadonlyArray<{entry: Drafting; numNewTokens: number}>, blockCopies: BlockCopy[]): Promise<void> {
    if (batch.length === 0) return
    const scheduled: ScheduledSequence[] = batch.map(({entry, numNewTokens}) => ({
      group: entry.mirror.group,
      seq: entry.mirror.seq,
      numNewTokens,
      start: entry.mirror.seq.numComputedTokens,
      samples: entry.mirror.seq.numComputedTokens + numNewTokens === entry.mirror.seq.length,
      draftTokenIds: [],
      pendingSample: -1,
    }))
    const output: SchedulerOutput = {scheduled, blockCopies, swapOut: [], swapIn: [], swappedOut: [], rejected: [], numPreempted: 0}
    const {logits, rows} = await this.draft.runner.run(output)
    batch.forEach(({entry, numNewTokens}, i) => {
      const {seq} = entry.mirror
      seq.numComputedTokens += numNewTokens
      if (rows[i]!.sampleRow >= 0) this.sampleDraftToken(entry, logits, rows[i]!.sampleRow)
    })
  }

  private sampleDraftToken(entry: Drafting, logits: Float32Array, row: number): void {
    const {mirror, proposal} = entry
    const {seq, group, stream} = mirror
    const {params} = group
    const seed = params.seed ?? 0
    const suppress = minTokensSuppressed(params, seq.outputLength, this.eosTokenIds)
    const request: SampleRequest = {row, params, tokenIds: seq.tokenIds, promptLength: seq.promptLength, seed, stream, suppressTokenIds: suppress}
    let tokenId: number
    if (proposal.distributions === null) {
      tokenId = sampleRows(logits, this.draft.vocabSize, [request])[0]!.tokenId
    } else {
      const q = samplingDistribution(logits, this.draft.vocabSize, request)
      // The mirror shares the target's prompt length, so its output length is the target position this token takes.
      tokenId = drawFrom(q, sampleUniform(seed, stream, seq.outputLength, DrawPurpose.Draft))
      proposal.distributions.push(q)
    }
    proposal.tokenIds.push(tokenId)
    seq.tokenIds.push(tokenId)
  }
}
