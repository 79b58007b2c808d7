// Prompt logprobs (echo / prompt_logprobs) of a step's prompt rows: ranked in the native addon on a worker thread
// (native/cpu/prompt_logprobs.cpp: log-softmax, the top N and the rank over the whole vocabulary), so a long prompt
// does not stall the event loop; only the small answers are turned into the groups' TokenLogprobs here.
// test/support/prompt-logprobs-reference.ts is the JS reference the native results equal bit for bit.
import {availableParallelism} from 'node:os'
import {nativeOps, type PromptLogprobArrays} from './native.js'
import type {Sequence, SequenceGroup, TokenLogprobs} from './sequence.js'

/**
 * Threads to rank with: the engine's compute threads (the user's --threads; 0 or unknown: all cores), one core fewer
 * than the machine has at most, so the event loop keeps one to serve other streams meanwhile.
 */
export function rankingThreads(computeThreads: number): number {
  const spare = availableParallelism() - 1
  return Math.max(1, computeThreads > 0 ? Math.min(computeThreads, spare) : spare)
}

export class PromptLogprobRows {
  private readonly targets: Array<{group: SequenceGroup; position: number}> = []
  private readonly rows: number[] = []
  private readonly tokenIds: number[] = []
  private readonly topNs: number[] = []

  /** A scheduled entry's prompt rows: the row at offset i predicts prompt position start + i + 1 (none past the prompt). */
  add(group: SequenceGroup, seq: Sequence, start: number, promptRows: readonly number[]): void {
    const topN = group.params.promptLogprobs ?? 0
    group.promptLogprobs ??= [null]
    group.promptLogprobRanks ??= [null]
    promptRows.forEach((row, offset) => {
      const position = start + offset + 1
      if (position >= seq.promptLength) return
      this.targets.push({group, position})
      this.rows.push(row)
      this.tokenIds.push(seq.tokenIds[position]!)
      this.topNs.push(topN)
    })
  }

  /** Ranks the rows added on `threads` threads and records them in their groups; nothing may write `logits` until this settles. */
  async record(logits: Float32Array, vocabSize: number, threads: number): Promise<void> {
    if (this.rows.length === 0) return
    const asked = {rows: Int32Array.from(this.rows), tokenIds: Int32Array.from(this.tokenIds), topNs: Int32Array.from(this.topNs)}
    const ranked = await nativeOps().promptLogprobs(logits, vocabSize, asked, threads)
    this.targets.forEach(({group, position}, i) => {
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
