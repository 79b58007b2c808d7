// Fair share of the sequence slots: while requests wait, the one holding the most slots over its share gives some up,
// so no single request (n = --max-num-seqs, a wide beam search) holds the engine while others queue behind it.
//
// How a request gives slots up. Parallel samples (n, best_of) are independent: its running sample furthest ahead
// (the newest among equals) is preempted by recompute, one at a time, until the head of the queue fits; yielded samples
// come back furthest behind first once slots free up, and only up to the request's share while others wait. So under
// a stream of arrivals each sample falls behind about once and all end together, instead of one sample falling behind
// at every arrival (scripts/bench-fair-share.ts). Recompute rather than swap: a sample's prompt blocks stay held by its
// siblings and its own full blocks stay in the prefix cache when freed, so coming back mostly re-runs its last,
// partial block (docs/PERFORMANCE.md); a swap copies every block out and back. Forking lazily at admission would not
// help a request that arrives after the big one runs. A sample keeps its tokens and its draws are keyed by
// (seed, sample, position), so its output is unchanged.
// Beam search ranks all beams together each step, so a subset cannot advance alone and a narrower width would change
// the result: a beam search is one unit that yields whole (recompute, re-queued right behind the request it yields
// to), and at most once per BEAM_STEPS_BETWEEN_YIELDS of its own steps, so arrivals cannot starve it either.
// The reserving policies (contiguous, orca-*) model systems that reserve at admission: no fair share there.
import {SequenceStatus, type Sequence, type SequenceGroup} from './sequence.js'

/** Steps a beam search runs after (re)admission before it yields again: it progresses between arrivals. */
export const BEAM_STEPS_BETWEEN_YIELDS = 16

export class FairShare {
  /** The scheduler's step when each beam search was last admitted. */
  private readonly admittedAt = new WeakMap<SequenceGroup, number>()

  constructor(private readonly maxNumSeqs: number) {}

  /** Slots per request while some wait: --max-num-seqs over every request queued or running, at least one. */
  share(numRequests: number): number {
    return Math.max(1, Math.floor(this.maxNumSeqs / Math.max(1, numRequests)))
  }

  /** The running sample to give up: the one furthest ahead of the parallel-sampling request furthest over its share; null when none is over. */
  surplusSample(running: readonly SequenceGroup[], share: number): {group: SequenceGroup; seq: Sequence} | null {
    let best: {group: SequenceGroup; seqs: Sequence[]} | null = null
    for (const group of running) {
      if (group.params.useBeamSearch) continue
      const seqs = group.withStatus(SequenceStatus.Running)
      if (seqs.length > share && seqs.length > (best?.seqs.length ?? 0)) best = {group, seqs}
    }
    if (best === null) return null
    const seq = best.seqs.reduce((ahead, seq) => (seq.outputLength >= ahead.outputLength ? seq : ahead))
    return {group: best.group, seq}
  }

  /** A beam search over its share that has run its steps since it last came in; null when none may yield. */
  beamToYield(running: readonly SequenceGroup[], share: number, step: number): SequenceGroup | null {
    for (const group of running) {
      if (!group.params.useBeamSearch || group.withStatus(SequenceStatus.Running).length <= share) continue
      if (step - (this.admittedAt.get(group) ?? -Infinity) >= BEAM_STEPS_BETWEEN_YIELDS) return group
    }
    return null
  }

  admitted(group: SequenceGroup, step: number): void {
    if (group.params.useBeamSearch) this.admittedAt.set(group, step)
  }

  /** How many of a running request's yielded samples may come back: up to its share while others wait, else any. */
  mayReturn(group: SequenceGroup, share: number, othersWait: boolean): number {
    const yielded = group.withStatus(SequenceStatus.Waiting).length
    return othersWait ? Math.min(yielded, Math.max(0, share - group.withStatus(SequenceStatus.Running).length)) : yielded
  }
}
