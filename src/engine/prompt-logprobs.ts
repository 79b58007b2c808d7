// Prompt logprobs (echo / prompt_logprobs): which rows of a step are ranked, and their answers recorded in the groups.
// The rows are ranked inside the native step right after the LM head (native/cpu/prompt_ranking.cpp: a bounded chunk of
// rows at a time; log-softmax, the top N and the rank over the whole vocabulary), so no prompt row's logits reach JS and
// a long prompt does not stall the event loop. test/support/prompt-logprobs-reference.ts is the JS reference the
// answers equal bit for bit.
import type {PromptLogprobArrays, PromptRowsAsked} from './native.js'
import type {Sequence, SequenceGroup, TokenLogprobs} from './sequence.js'

/** The prompt rows one step ranks (rows of its batch) and where each answer goes; `entry` is the scheduled entry's index. */
export class PromptLogprobRows {
  private readonly groups: Array<{entry: number; group: SequenceGroup}> = []
  private readonly targets: Array<{entry: number; group: SequenceGroup; position: number}> = []
  private readonly rows: number[] = []
  private readonly tokenIds: number[] = []
  private readonly topNs: number[] = []

  /** An entry computing `count` tokens from `start` at batch row `firstRow`: the row at offset i predicts prompt position start + i + 1 (none past the prompt). */
  add(entry: number, group: SequenceGroup, seq: Sequence, start: number, firstRow: number, count: number): void {
    const topN = group.params.promptLogprobs ?? 0
    this.groups.push({entry, group})
    for (let offset = 0; offset < count && start + offset + 1 < seq.promptLength; offset++) {
      const position = start + offset + 1
      this.targets.push({entry, group, position})
      this.rows.push(firstRow + offset)
      this.tokenIds.push(seq.tokenIds[position]!)
      this.topNs.push(topN)
    }
  }

  get isEmpty(): boolean {
    return this.groups.length === 0
  }

  /** What the step is asked to rank. */
  asked(): PromptRowsAsked {
    return {rows: Int32Array.from(this.rows), tokenIds: Int32Array.from(this.tokenIds), topNs: Int32Array.from(this.topNs)}
  }

  /** Records the step's answers in their groups, for the entries `live` keeps (not those finished while the step ran). */
  record(ranked: PromptLogprobArrays, live: (entry: number) => boolean): void {
    for (const {entry, group} of this.groups) {
      if (!live(entry)) continue
      group.promptLogprobs ??= [null]
      group.promptLogprobRanks ??= [null]
    }
    this.targets.forEach(({entry, group, position}, i) => {
      if (!live(entry)) return
      group.promptLogprobs![position] = tokenLogprobsAt(ranked, i)
      group.promptLogprobRanks![position] = ranked.ranks[i]!
    })
  }
}

/** Entry i's top logprobs, best first, then the actual token's when it is not among them (as sampled logprobs). */
function tokenLogprobsAt(ranked: PromptLogprobArrays, i: number): TokenLogprobs {
  const result: TokenLogprobs = new Map()
  const base = i * ranked.topStride
  for (let j = 0; j < ranked.topCounts[i]!; j++) result.set(ranked.topIds[base + j]!, ranked.topLogprobs[base + j]!)
  return result
}
