// Per-sequence constraint state: a grammar matcher per guided sequence, allowed_token_ids masks and bad-word bans per request.
//
// A matcher lives as long as its sequence: preemption (swap or recompute) keeps the sequence's tokens, so its matcher
// stays where it was. A sequence that has no matcher yet (the first sample, or a best_of fork) gets a fresh one that
// replays the tokens it already has, so forks never share state.
import type {Tokenizer} from '../model/tokenizer.js'
import type {Sequence, SequenceGroup} from '../sequence.js'
import {badWordTokenSequences, bannedNextTokens} from './bad-words.js'
import type {GrammarCompiler} from './grammar-compiler.js'
import {bitmaskOf, intersectMasks} from './token-mask.js'
import type {XgGrammarMatcher} from './xgrammar.js'

export type AcceptVerdict = 'continue' | 'grammar_complete' | 'rejected'

export class SequenceGuides {
  private readonly matchers = new Map<number, XgGrammarMatcher>()
  private readonly allowedMasks = new WeakMap<SequenceGroup, Int32Array>()
  private readonly badWordSequences = new WeakMap<SequenceGroup, number[][]>()

  constructor(
    private readonly compiler: GrammarCompiler,
    private readonly tokenizer: Tokenizer,
    private readonly vocabSize: number,
  ) {}

  static needsMask(group: SequenceGroup): boolean {
    return group.params.guided !== null || group.params.allowedTokenIds !== null
  }

  /** The allowed-token mask of each sequence about to sample (null = unconstrained), in order. */
  async masksFor(targets: ReadonlyArray<{group: SequenceGroup; seq: Sequence}>): Promise<(Int32Array | null)[]> {
    return Promise.all(targets.map(({group, seq}) => (SequenceGuides.needsMask(group) ? this.maskOf(group, seq) : null)))
  }

  /** Tokens that would finish a bad word now. */
  bannedTokens(group: SequenceGroup, seq: Sequence): number[] {
    if (group.params.badWords.length === 0) return []
    let sequences = this.badWordSequences.get(group)
    if (!sequences) this.badWordSequences.set(group, (sequences = badWordTokenSequences(this.tokenizer, group.params.badWords)))
    return bannedNextTokens(sequences, seq.outputTokenIds)
  }

  /** Advances the sequence's matcher past its newest token. */
  accept(seq: Sequence): AcceptVerdict {
    const matcher = this.matchers.get(seq.seqId)
    if (!matcher) return 'continue'
    if (!matcher.acceptToken(seq.lastTokenId)) return 'rejected'
    return matcher.isTerminated() ? 'grammar_complete' : 'continue'
  }

  forget(seqId: number): void {
    this.matchers.get(seqId)?.dispose()
    this.matchers.delete(seqId)
  }

  private async maskOf(group: SequenceGroup, seq: Sequence): Promise<Int32Array> {
    const {guided, allowedTokenIds} = group.params
    let allowed: Int32Array | undefined
    if (allowedTokenIds !== null) {
      allowed = this.allowedMasks.get(group)
      if (!allowed) this.allowedMasks.set(group, (allowed = bitmaskOf(allowedTokenIds, this.vocabSize)))
    }
    if (guided === null) return allowed!
    let matcher = this.matchers.get(seq.seqId)
    if (!matcher) {
      matcher = await this.compiler.newMatcher(guided)
      for (const tokenId of seq.outputTokenIds) matcher.acceptToken(tokenId)
      this.matchers.set(seq.seqId, matcher)
    }
    const grammarMask = await matcher.getNextTokenBitmask()
    return allowed ? intersectMasks(grammarMask, allowed) : grammarMask
  }
}
