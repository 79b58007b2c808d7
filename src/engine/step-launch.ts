// What queuing a step does to its sequences at once: their tokens count as computed, and under async scheduling each
// backend sample gets a pending token in its sequence, so the next step can be scheduled and queued behind this one
// before its result is back (the backend resolves the pending ids in order; see NativeModel.step).
import type {SamplingPlan} from './native-sampling.js'
import type {ScheduledSequence} from './scheduler.js'
import type {Sequence, SequenceGroup} from './sequence.js'

/**
 * Marks the step's tokens computed (draft tokens count once accepted). With `holdPlaces`, gives every backend sample
 * a pending token, except a sequence's last one by max_tokens (it ends when the result is back). Returns whether the
 * next step may be scheduled before this one's result: not when JS decides a token (beams, grammars, drafts, prompt
 * logprobs) or a sample forks its request (best_of), since the next step depends on what that decides.
 */
export function markQueued(scheduled: readonly ScheduledSequence[], plan: SamplingPlan | null, holdPlaces: boolean): boolean {
  let nextMayQueue = holdPlaces
  scheduled.forEach((entry, i) => {
    const {group, seq} = entry
    seq.numComputedTokens += entry.numNewTokens - entry.draftTokenIds.length
    if (!holdPlaces || !entry.samples) return
    const sample = plan?.firstSample[i] ?? -1
    if (sample < 0 || group.forksOnSample(seq)) {
      nextMayQueue = false
      return
    }
    if (samplesLastToken(entry)) return
    seq.appendPending(sample)
    entry.pendingSample = sample
  })
  return nextMayQueue
}

/**
 * Groups whose every live sequence samples its last token (by max_tokens) in this step: once the step runs they are
 * done with their KV, so async scheduling hands their blocks back before scheduling the next step, which can admit
 * in their place (the backend runs this step before any later one that reuses the blocks).
 */
export function groupsEndingIn(scheduled: readonly ScheduledSequence[]): SequenceGroup[] {
  const ending = new Set<Sequence>()
  for (const entry of scheduled) if (entry.samples && entry.pendingSample < 0 && samplesLastToken(entry)) ending.add(entry.seq)
  const groups = new Set(scheduled.map((entry) => entry.group))
  return [...groups].filter((group) => group.unfinished.every((seq) => ending.has(seq)))
}

/** The entry's sample (if it samples) is its sequence's last by max_tokens. */
function samplesLastToken({group, seq}: ScheduledSequence): boolean {
  return seq.outputLength + 1 >= group.params.maxTokens
}
