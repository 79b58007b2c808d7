// Decides, once per step, which sequences run and how many tokens each computes; preempts when KV blocks run out.
import type {BlockCopy, BlockManager, BlockMapping} from './block-manager.js'
import type {EngineConfig} from './config.js'
import {ContextLengthError, InvalidRequestError} from './errors.js'
import {FairShare} from './fair-share.js'
import {SequenceStatus, type Sequence, type SequenceGroup} from './sequence.js'
import type {Speculator} from './spec-decode/speculator.js'

/** One sequence's share of a step: tokens [seq.numComputedTokens, + numNewTokens) run through the model. */
export interface ScheduledSequence {
  group: SequenceGroup
  seq: Sequence
  numNewTokens: number
  /** The first position computed: seq.numComputedTokens when scheduled. */
  start: number
  /** The step reaches the end of the sequence, so its last row's logits are sampled. */
  samples: boolean
  /** Proposed tokens computed after the sequence's last token, to be verified (speculative decoding); else empty. */
  draftTokenIds: number[]
  /** Index of this entry's sample among the step's backend samples when a pending token holds its place (async scheduling); else -1. */
  pendingSample: number
}

export interface SchedulerOutput {
  scheduled: ScheduledSequence[]
  blockCopies: BlockCopy[]
  swapOut: BlockMapping[]
  swapIn: BlockMapping[]
  /** The groups whose blocks swapOut moves: if the step fails, their host copies may never have been written. */
  swappedOut: SequenceGroup[]
  /** Groups that can never be scheduled (see unschedulable), each with the error that finishes it. */
  rejected: Array<{group: SequenceGroup; error: InvalidRequestError}>
  numPreempted: number
}

export class Scheduler {
  readonly waiting: SequenceGroup[] = []
  readonly running: SequenceGroup[] = []
  readonly swapped: SequenceGroup[] = []
  numPreemptions = 0
  /** Copies owed by forks made while processing the last step's outputs; applied before the next forward. */
  private pendingCopies: BlockCopy[] = []
  /** Null when off (EngineConfig.fairShare false) or under a reserving policy. */
  private readonly fairShare: FairShare | null
  private numSteps = 0

  /**
   * @param swapIsCheap the swap pool lives in the same memory as the KV pool (CPU backend), so a swap is a
   * memcpy, far cheaper than recomputing a prefill; on a GPU it crosses PCIe.
   */
  constructor(
    private readonly config: EngineConfig,
    private readonly blockManager: BlockManager,
    private readonly swapIsCheap = false,
    private readonly speculator: Speculator | null = null,
  ) {
    this.fairShare = config.fairShare !== false && config.policy === 'paged' ? new FairShare(config.maxNumSeqs) : null
  }

  get hasWork(): boolean {
    return this.waiting.length + this.running.length + this.swapped.length > 0
  }

  add(group: SequenceGroup): void {
    this.waiting.push(group)
  }

  /** Forking happens during output processing; its block copies ride along with the next step. */
  addBlockCopies(copies: readonly BlockCopy[]): void {
    this.pendingCopies.push(...copies)
  }

  /** Removes a group from whichever queue holds it; the caller frees its blocks. */
  remove(group: SequenceGroup): void {
    for (const queue of [this.waiting, this.running, this.swapped]) {
      const index = queue.indexOf(group)
      if (index >= 0) queue.splice(index, 1)
    }
  }

  schedule(now: number): SchedulerOutput {
    const output: SchedulerOutput = {scheduled: [], blockCopies: this.pendingCopies, swapOut: [], swapIn: [], swappedOut: [], rejected: [], numPreempted: 0}
    this.pendingCopies = []
    // Sliding windows: blocks no coming query can see go back to the pool before anything is counted.
    this.blockManager.releaseBehindWindows(this.running)
    let tokenBudget = this.config.maxNumBatchedTokens
    let seqBudget = this.config.maxNumSeqs
    // Static batching (FasterTransformer-style) admits a new batch only once the previous one has drained.
    const mayAdmit = this.config.policy !== 'contiguous' || (this.running.length === 0 && this.swapped.length === 0)
    const step = this.numSteps++
    // 0. The request at the head of the queue gets room from whoever holds more than its share (fair-share.ts).
    this.makeRoomForHead(output, step)

    // 1. Running groups in arrival order; make room by preempting samples over their share, then from the back.
    const drafts = this.proposeDrafts()
    for (let i = 0; i < this.running.length && tokenBudget > 0; ) {
      const group = this.running[i]!
      if (group.withStatus(SequenceStatus.Running).length > seqBudget) break
      let fits = this.blockManager.canAppendSlots(group, (seq) => drafts.get(seq)?.length ?? 0)
      // Drafts are optional: drop them before preempting anyone for their room.
      if (!fits && group.withStatus(SequenceStatus.Running).some((seq) => drafts.delete(seq))) fits = this.blockManager.canAppendSlots(group)
      while (!fits && this.yieldSurplusSample(output)) fits = this.blockManager.canAppendSlots(group)
      while (!fits && this.running.length - 1 > i) {
        this.preempt(this.running[this.running.length - 1]!, output)
        fits = this.blockManager.canAppendSlots(group)
      }
      if (!fits) {
        this.preempt(group, output)
        break
      }
      // Yielding may have taken samples of this very group.
      const seqs = group.withStatus(SequenceStatus.Running)
      tokenBudget -= this.scheduleSequences(group, seqs, tokenBudget, output, true, drafts)
      seqBudget -= seqs.length
      i++
    }

    // 2. Swapped groups come back before new ones, but not in a step that had to preempt.
    while (output.numPreempted === 0 && this.swapped.length > 0 && tokenBudget > 0) {
      const group = this.swapped[0]!
      const seqs = group.withStatus(SequenceStatus.Swapped)
      // Alone, a group comes back without the headroom kept for others' growth: its blocks plus that headroom may
      // exceed the pool, and it would wait forever.
      if (seqs.length > seqBudget || !this.blockManager.canSwapIn(group, this.running.length === 0)) break
      this.swapped.shift()
      output.swapIn.push(...this.blockManager.swapIn(group))
      for (const seq of seqs) seq.status = SequenceStatus.Running
      this.running.push(group)
      this.fairShare?.admitted(group, step)
      tokenBudget -= this.scheduleSequences(group, seqs, tokenBudget, output, true)
      seqBudget -= seqs.length
    }

    // 2b. Samples that yielded their slots come back, furthest behind first: up to their request's share while others wait.
    for (const group of this.running) {
      // Not in a step that had to preempt: they would take back the room just made.
      if (this.fairShare === null || output.numPreempted > 0 || seqBudget <= 0 || tokenBudget <= 0) break
      const back = this.returningSamples(group, seqBudget)
      if (back.length === 0) continue
      this.blockManager.allocate(group, back)
      for (const seq of back) seq.status = SequenceStatus.Running
      tokenBudget -= this.scheduleSequences(group, back, tokenBudget, output, false)
      seqBudget -= back.length
    }

    // 3. Waiting groups, first come first served: the head blocks the queue until it fits.
    while (mayAdmit && this.swapped.length === 0 && this.waiting.length > 0 && tokenBudget > 0) {
      const group = this.waiting[0]!
      const waiting = group.withStatus(SequenceStatus.Waiting)
      // Parallel samples may come in part (the rest return in 2b); beams only whole.
      const seqs = this.fairShare !== null && !group.params.useBeamSearch ? waiting.slice(0, seqBudget) : waiting
      if (seqs.length === 0 || seqs.length > seqBudget) break
      // A preempted group re-queued here may have outgrown a limit it passed at admission.
      const error = this.unschedulable(group)
      if (error !== null) {
        this.waiting.shift()
        output.rejected.push({group, error})
        continue
      }
      const status = this.blockManager.canAllocate(group, this.running.length === 0, seqs)
      if (status === 'later') break
      // Without chunking a prompt must fit the budget whole (a recompute is chunked: mayChunk).
      if (seqs.some((seq) => !this.mayChunk(seq) && seq.numUncomputedTokens > tokenBudget)) break
      this.waiting.shift()
      this.blockManager.allocate(group, seqs)
      this.fairShare?.admitted(group, step)
      if (group.times.firstScheduled === null) {
        group.times.firstScheduled = now
        // allocate() set the prompt's computed tokens to its prefix-cache hits; a re-admission after a recompute
        // preemption finds the request's own blocks, which are not hits (vLLM counts the first scheduling only).
        group.numCachedTokens = seqs[0]!.numComputedTokens
      }
      for (const seq of seqs) seq.status = SequenceStatus.Running
      this.running.push(group)
      // allocate() already covered the whole prompt: no slots to append.
      tokenBudget -= this.scheduleSequences(group, seqs, tokenBudget, output, false)
      seqBudget -= seqs.length
    }
    return output
  }

  /**
   * The error for a group this scheduler could never run, even alone in an empty engine, or null: more
   * sequences than --max-num-seqs, more beams than --max-num-batched-tokens (they decode in one step), a prompt over --max-num-batched-tokens without chunked prefill, or a KV
   * need beyond the pool under the policy. Checked at admission and again when a group waits for re-admission.
   */
  unschedulable(group: SequenceGroup): InvalidRequestError | null {
    const {n, bestOf, useBeamSearch} = group.params
    if (bestOf > this.config.maxNumSeqs) {
      const what = useBeamSearch ? `beam width ${bestOf}` : n === bestOf ? `n ${n}` : `best_of ${bestOf}`
      return new InvalidRequestError(`${what} exceeds --max-num-seqs ${this.config.maxNumSeqs}: its sequences could never run in one step`, {
        param: n === bestOf ? 'n' : 'best_of',
      })
    }
    if (useBeamSearch && bestOf > this.config.maxNumBatchedTokens) {
      return new InvalidRequestError(
        `beam width ${bestOf} exceeds --max-num-batched-tokens ${this.config.maxNumBatchedTokens}: its beams could never decode in one step`,
        {param: 'best_of'},
      )
    }
    const wholePrompts = group.withStatus(SequenceStatus.Waiting).filter((seq) => !this.mayChunk(seq))
    const longest = Math.max(...wholePrompts.map((seq) => seq.numUncomputedTokens), 0)
    if (longest > this.config.maxNumBatchedTokens) {
      return new ContextLengthError(
        `the prompt needs ${longest} tokens in one step but --max-num-batched-tokens is ${this.config.maxNumBatchedTokens} and chunked prefill is off`,
        'prompt',
      )
    }
    const kv = this.blockManager.neverFits(group)
    return kv === null ? null : new ContextLengthError(`${kv}; raise the KV cache size or lower max_tokens`, 'max_tokens')
  }

  /** Slots per request while others wait (fair-share.ts). */
  private get share(): number {
    return this.fairShare!.share(this.running.length + this.swapped.length + this.waiting.length)
  }

  /**
   * Preempts samples over their request's share (then a beam search over its share, whole) until the running
   * samples fit --max-num-seqs (forks of a best_of request may overflow it) and the head of the queue (a swapped group
   * first, as in step 2) has its slots and blocks; a no-op when fair share is off.
   */
  private makeRoomForHead(output: SchedulerOutput, step: number): void {
    if (this.fairShare === null) return
    const head = this.swapped[0] ?? this.waiting[0]
    const swappedHead = head !== undefined && head === this.swapped[0]
    const queued = head?.withStatus(swappedHead ? SequenceStatus.Swapped : SequenceStatus.Waiting) ?? []
    // A waiting parallel-sampling request is admitted in part: it needs its share, not all its samples.
    const wanted = swappedHead || head?.params.useBeamSearch ? queued : queued.slice(0, this.share)
    const fits = () => {
      const used = this.running.reduce((sum, group) => sum + group.withStatus(SequenceStatus.Running).length, 0)
      if (used + wanted.length > this.config.maxNumSeqs) return false
      const alone = this.running.length === 0
      if (head === undefined) return true
      return swappedHead ? this.blockManager.canSwapIn(head, alone) : this.blockManager.canAllocate(head, alone, wanted) !== 'later'
    }
    while (!fits()) {
      if (this.yieldSurplusSample(output)) continue
      const beam = this.fairShare.beamToYield(this.running, this.share, step)
      if (beam === null) return
      // Recompute, so it can wait right behind the request it yields to (a swapped group would come back first).
      this.preempt(beam, output, 'recompute')
      this.waiting.splice(this.waiting.indexOf(beam), 1)
      this.waiting.splice(swappedHead ? 0 : 1, 0, beam)
    }
  }

  /** Preempts (recompute) the running sample furthest ahead of the request furthest over its share; false when none is over. */
  private yieldSurplusSample(output: SchedulerOutput): boolean {
    if (this.fairShare === null) return false
    const surplus = this.fairShare.surplusSample(this.running, this.share)
    if (surplus === null) return false
    const {seq} = surplus
    output.numPreempted++
    this.numPreemptions++
    output.scheduled = output.scheduled.filter((entry) => entry.seq !== seq)
    this.blockManager.free(seq)
    seq.resetForRecompute()
    return true
  }

  /** The yielded samples of a running group that come back now: as many as its share, the slots and the blocks allow. */
  private returningSamples(group: SequenceGroup, seqBudget: number): Sequence[] {
    const othersWait = this.waiting.length + this.swapped.length > 0
    let count = Math.min(this.fairShare!.mayReturn(group, this.share, othersWait), seqBudget)
    // Furthest behind first, so the request's samples end together (fair-share.ts).
    const yielded = group.withStatus(SequenceStatus.Waiting).sort((a, b) => a.outputLength - b.outputLength)
    // With no sample running anywhere, no headroom is kept for others' growth (as canAllocate's alone).
    const alone = this.running.every((other) => other.withStatus(SequenceStatus.Running).length === 0)
    while (count > 0 && this.blockManager.canAllocate(group, alone, yielded.slice(0, count)) !== 'ok') count = Math.floor(count / 2)
    return yielded.slice(0, count)
  }

  /** Draft tokens per running decode sequence, when speculation is on and the batch is small enough to pay. */
  private proposeDrafts(): Map<Sequence, number[]> {
    const drafts = new Map<Sequence, number[]>()
    if (this.speculator === null) return drafts
    const decoding = this.running.flatMap((group) => group.withStatus(SequenceStatus.Running).map((seq) => ({group, seq})))
    if (!this.speculator.paysAt(decoding.length)) return drafts
    for (const {group, seq} of decoding) {
      const draft = this.speculator.propose(group, seq, decoding.length)
      if (draft.length > 0) drafts.set(seq, draft)
    }
    return drafts
  }

  /** Adds the group's sequences to the step within the token budget; returns the tokens they take. */
  private scheduleSequences(
    group: SequenceGroup,
    seqs: Sequence[],
    tokenBudget: number,
    output: SchedulerOutput,
    appendSlots: boolean,
    drafts: ReadonlyMap<Sequence, number[]> = new Map(),
  ): number {
    let used = 0
    // Beam search ranks every live beam's candidates at once: its beams sample in the same step or none does (each
    // holds back its last token until all of them fit).
    const lockstep = group.params.useBeamSearch && seqs.reduce((sum, seq) => sum + seq.numUncomputedTokens, 0) > tokenBudget
    for (const seq of seqs) {
      const numNewTokens = lockstep ? Math.min(this.chunk(seq, tokenBudget - used), seq.numUncomputedTokens - 1) : this.chunk(seq, tokenBudget - used)
      if (numNewTokens === 0) continue
      const samples = seq.numComputedTokens + numNewTokens === seq.length
      // Drafts ride after the last token, as far as the budget allows.
      const draftTokenIds = samples ? (drafts.get(seq) ?? []).slice(0, Math.max(0, tokenBudget - used - numNewTokens)) : []
      if (appendSlots) output.blockCopies.push(...this.blockManager.appendSlots(seq, draftTokenIds.length))
      output.scheduled.push({group, seq, numNewTokens: numNewTokens + draftTokenIds.length, start: seq.numComputedTokens, samples, draftTokenIds, pendingSample: -1})
      used += numNewTokens + draftTokenIds.length
    }
    return used
  }

  /** Tokens of `seq` to compute this step: all that are left, or a chunk when the budget is short. */
  private chunk(seq: Sequence, tokenBudget: number): number {
    const left = seq.numUncomputedTokens
    if (left <= tokenBudget) return left
    return this.mayChunk(seq) ? tokenBudget : 0
  }

  /**
   * Whether seq may be computed over several steps. Without chunked prefill a prompt runs whole, but a sequence
   * recomputed after preemption (prompt + output) may have outgrown the step budget: it is chunked, since refusing it
   * would fail a request for having been preempted.
   */
  private mayChunk(seq: Sequence): boolean {
    return this.config.enableChunkedPrefill || seq.outputLength > 0
  }

  /**
   * Frees a running group's KV memory. Recompute drops the cache and re-queues the group at the front;
   * swap moves its blocks to host memory. By default groups of several sequences (n > 1, beams) swap,
   * because recomputing them would prefill each sequence separately, and so does everything when swapping
   * is a plain memory copy (CPU). A full swap pool falls back to recompute.
   */
  private preempt(group: SequenceGroup, output: SchedulerOutput, forced?: 'recompute'): void {
    const index = this.running.indexOf(group)
    this.running.splice(index, 1)
    output.numPreempted++
    this.numPreemptions++
    // A group preempted in the same step it was scheduled must not keep its entries.
    output.scheduled = output.scheduled.filter((entry) => entry.group !== group)
    const seqs = group.withStatus(SequenceStatus.Running)
    const mode = forced ?? (this.config.preemptionMode === 'auto' ? (seqs.length > 1 || this.swapIsCheap ? 'swap' : 'recompute') : this.config.preemptionMode)
    if (mode === 'swap' && this.blockManager.canSwapOut(group)) {
      output.swapOut.push(...this.blockManager.swapOut(group))
      output.swappedOut.push(group)
      for (const seq of seqs) seq.status = SequenceStatus.Swapped
      this.swapped.push(group)
      return
    }
    for (const seq of seqs) {
      this.blockManager.free(seq)
      seq.resetForRecompute()
    }
    this.waiting.unshift(group)
  }
}
