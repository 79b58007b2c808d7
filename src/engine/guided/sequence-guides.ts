// Per-sequence constraint state: grammar masks from the worker's matchers, allowed_token_ids masks, bad-word bans.
//
// A matcher (in the grammar worker, keyed by sequence id) lives as long as its sequence; each step sends it the
// tokens the sequence took since the last step. Preemption (swap or recompute) keeps a sequence's tokens, so its
// matcher stays where it was. A sequence without a matcher yet (first sample, or a best_of fork) gets a fresh one
// that replays every token it already has, so forks never share state.
import type {Tokenizer} from '../model/tokenizer.js'
import type {Sequence, SequenceGroup} from '../sequence.js'
import {badWordTokenSequences, bannedNextTokens} from './bad-words.js'
import type {GrammarService} from './grammar-service.js'
import {guidedKey} from './guided-spec.js'
import {bitmaskOf, intersectMasks} from './token-mask.js'

type Target = {group: SequenceGroup; seq: Sequence}

export class SequenceGuides {
  /** Output tokens of each guided sequence that its matcher has already taken. */
  private readonly synced = new Map<number, number>()
  private readonly allowedMasks = new WeakMap<SequenceGroup, Int32Array>()
  private readonly badWordSequences = new WeakMap<SequenceGroup, number[][]>()

  constructor(
    private readonly grammars: GrammarService,
    private readonly tokenizer: Tokenizer,
    private readonly vocabSize: number,
    private readonly eosTokenIds: readonly number[],
  ) {}

  /** The allowed-token mask of each sequence about to sample (null = unconstrained), in order; one worker call. */
  async masksFor(targets: readonly Target[]): Promise<(Int32Array | null)[]> {
    const guided = targets.filter(({group}) => group.params.guided !== null)
    const grammarMasks = await this.grammars.step(
      guided.map(({group, seq}) => {
        const sent = this.synced.get(seq.seqId) ?? 0
        this.synced.set(seq.seqId, seq.outputLength)
        return {matcherId: seq.seqId, key: guidedKey(group.params.guided!), accept: seq.outputTokenIds.slice(sent)}
      }),
    )
    let next = 0
    return targets.map(({group}) => {
      // A sequence that left its grammar (it cannot while its masks are applied) may only end.
      const grammarMask = group.params.guided === null ? null : (grammarMasks[next++] ?? bitmaskOf(this.eosTokenIds, this.vocabSize))
      const allowed = this.allowedMaskOf(group)
      if (grammarMask === null || allowed === null) return grammarMask ?? allowed
      return intersectMasks(grammarMask, allowed)
    })
  }

  /** Tokens that would finish a bad word now. */
  bannedTokens(group: SequenceGroup, seq: Sequence): number[] {
    if (group.params.badWords.length === 0) return []
    let sequences = this.badWordSequences.get(group)
    if (!sequences) this.badWordSequences.set(group, (sequences = badWordTokenSequences(this.tokenizer, group.params.badWords)))
    return bannedNextTokens(sequences, seq.outputTokenIds)
  }

  forget(seqId: number): void {
    if (this.synced.delete(seqId)) this.grammars.forget([seqId])
  }

  private allowedMaskOf(group: SequenceGroup): Int32Array | null {
    const ids = group.params.allowedTokenIds
    if (ids === null) return null
    let mask = this.allowedMasks.get(group)
    if (!mask) this.allowedMasks.set(group, (mask = bitmaskOf(ids, this.vocabSize)))
    return mask
  }
}
