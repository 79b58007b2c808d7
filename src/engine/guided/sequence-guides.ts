// Per-sequence constraint state: grammar masks from the workers' matchers, allowed_token_ids masks, bad-word bans.
//
// A matcher (in a grammar worker, keyed by sequence id) lives as long as its sequence; each step sends it the
// tokens the sequence took since the last step, as soon as the step is scheduled (prefetch), and the output processor
// takes the masks after the forward pass (masksFor). Preemption (swap or recompute) keeps a sequence's tokens, so its
// matcher stays where it was. A sequence without a matcher yet (first sample, or a best_of fork) gets a fresh one
// that replays every token it already has, so forks never share state. With guidedAfterTokenId the output is free
// text until that token (the reasoning's end): the matcher starts at the token after it.
import type {Tokenizer} from '../model/tokenizer.js'
import type {Sequence, SequenceGroup} from '../sequence.js'
import {badWordTokenSequences, bannedNextTokens} from './bad-words.js'
import {InvalidRequestError} from '../errors.js'
import type {GrammarService, StepRequest} from './grammar-service.js'
import {grammarRefOf} from './guided-spec.js'
import {bitmaskOf, intersectMasks} from './token-mask.js'

type Target = {group: SequenceGroup; seq: Sequence}

export class SequenceGuides {
  /** Output tokens of each guided sequence that its matcher has already taken. */
  private readonly synced = new Map<number, number>()
  /** The grammar step started for this step's samplers before the forward pass, by sequence id. */
  private prefetched: {seqIds: number[]; masks: Promise<(Int32Array | null)[]>} | null = null
  private readonly allowedMasks = new WeakMap<SequenceGroup, Int32Array>()
  private readonly badWordSequences = new WeakMap<SequenceGroup, number[][]>()
  /** Groups whose grammar went over the mask budget: the engine fails them after this step. */
  private failures = new Map<SequenceGroup, Error>()

  constructor(
    private readonly grammars: GrammarService,
    private readonly tokenizer: Tokenizer,
    private readonly vocabSize: number,
    private readonly eosTokenIds: readonly number[],
  ) {}

  /**
   * Starts the grammar step of the guided sequences that will sample this step (known once it is scheduled), so the
   * worker computes their masks while the forward pass runs; masksFor takes them.
   */
  prefetch(targets: readonly Target[]): void {
    const guided = targets.filter(isConstrainedNow)
    this.prefetched = null
    if (guided.length === 0) return
    const masks = this.grammars.step(guided.map((target) => this.stepRequestOf(target)))
    // Awaited by masksFor; a step abandoned (its forward pass failed) must not become an unhandled rejection.
    masks.catch(() => {})
    this.prefetched = {seqIds: guided.map(({seq}) => seq.seqId), masks}
  }

  /** The allowed-token mask of each sequence about to sample (null = unconstrained), in order. */
  async masksFor(targets: readonly Target[]): Promise<(Int32Array | null)[]> {
    const grammarMasks = new Map<number, Int32Array | null>()
    const prefetched = this.prefetched
    this.prefetched = null
    const prefetchedMasks = prefetched && (await prefetched.masks.catch((error: unknown) => this.replayIfLost(error, prefetched.seqIds)))
    if (prefetchedMasks) prefetchedMasks.forEach((mask, i) => grammarMasks.set(prefetched!.seqIds[i]!, mask))
    // A sequence whose step overran and stopped its worker would stop the next one too: it only ends (and fails).
    for (const {group, seq} of targets) if (!grammarMasks.has(seq.seqId) && this.grammars.takeOverBudget(seq.seqId)) this.fail(group, seq, grammarMasks)
    // Sequences not prefetched (best_of samples forked in this step, or whose worker was lost) take one more worker call.
    // Found once per step: whether each sequence's grammar applies yet (guidedAfterTokenId scans its output).
    const constrained = targets.map(isConstrainedNow)
    const missing = targets.filter((target, i) => constrained[i] && !grammarMasks.has(target.seq.seqId))
    if (missing.length > 0) {
      const step = () => this.grammars.step(missing.map((target) => this.stepRequestOf(target)))
      const fresh = (await step().catch((error: unknown) => this.replayIfLost(error, missing.map(({seq}) => seq.seqId)))) ?? (await step())
      missing.forEach(({seq}, i) => grammarMasks.set(seq.seqId, fresh[i]!))
    }
    for (const {group, seq} of targets) if (this.grammars.takeOverBudget(seq.seqId)) this.fail(group, seq, grammarMasks)
    return targets.map(({group, seq}, i) => {
      // A sequence that left its grammar (it cannot while its masks are applied) may only end.
      const grammarMask = !constrained[i] ? null : (grammarMasks.get(seq.seqId) ?? bitmaskOf(this.eosTokenIds, this.vocabSize))
      const allowed = this.allowedMaskOf(group)
      if (grammarMask === null || allowed === null) return grammarMask ?? allowed
      return intersectMasks(grammarMask, allowed)
    }).map((mask, i) => {
      // A guided mask that leaves no token (a grammar with no way on from here, e.g. into a $ref cycle; or
      // allowed_token_ids sharing none with it): the sequence can only end. Empty, the sampler would take a token outside it.
      if (mask === null || !constrained[i] || mask.some((word) => word !== 0)) return mask
      return bitmaskOf(this.eosTokenIds, this.vocabSize)
    })
  }

  /** Records the group's failure; a sequence without a mask gets one that allows EOS alone (it is failed after the step). */
  private fail(group: SequenceGroup, seq: Sequence, grammarMasks: Map<number, Int32Array | null>): void {
    if (!this.failures.has(group)) this.failures.set(group, overBudgetError(group))
    if (!grammarMasks.has(seq.seqId)) grammarMasks.set(seq.seqId, bitmaskOf(this.eosTokenIds, this.vocabSize))
  }

  /** The groups to fail now, each with its error (a grammar over the mask budget), and forgets them. */
  takeFailures(): Array<{group: SequenceGroup; error: Error}> {
    const failures = [...this.failures].map(([group, error]) => ({group, error}))
    this.failures = new Map()
    return failures
  }

  /**
   * A step fails when a worker is lost under it: a compile past its time limit stops the worker it shares (the
   * compile's own request gets the error), a trap corrupts one. Its sequences lost their matchers: null asks for one
   * more step, in which they replay their tokens into a fresh worker. Any other failure is rethrown.
   */
  private replayIfLost(error: unknown, seqIds: readonly number[]): null {
    if (seqIds.every((seqId) => this.grammars.hasMatcher(seqId))) throw error
    return null
  }

  /** The tokens the sequence's matcher has not taken yet (all since the grammar's start for a new matcher), and its grammar. */
  private stepRequestOf(target: Target): StepRequest {
    const {group, seq} = target
    const start = grammarStart(target)!
    const sent = this.grammars.hasMatcher(seq.seqId) ? (this.synced.get(seq.seqId) ?? start) : start
    this.synced.set(seq.seqId, seq.outputLength)
    return {matcherId: seq.seqId, grammar: grammarRefOf(group.params.guided!), accept: seq.outputTokenIdsFrom(sent)}
  }

  /** Tokens that would finish a bad word now. */
  bannedTokens(group: SequenceGroup, seq: Sequence): number[] {
    if (group.params.badWords.length === 0) return []
    let sequences = this.badWordSequences.get(group)
    // Tokenized here (on the engine's thread) only when nothing did it before: serve's tokenizer workers do.
    if (!sequences) this.badWordSequences.set(group, (sequences = group.params.badWordTokenIds ?? badWordTokenSequences(this.tokenizer, group.params.badWords)))
    // Only the last tokens can begin a bad word that the next token would finish.
    const longest = Math.max(...sequences.map((sequence) => sequence.length))
    return bannedNextTokens(sequences, seq.outputTokenIdsFrom(Math.max(0, seq.resolvedLength - seq.promptLength - (longest - 1))))
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

/** How far each sequence's output was searched for guidedAfterTokenId, and where it was found (-1: not yet). */
const afterTokenSearch = new WeakMap<Sequence, {searched: number; at: number}>()

/**
 * Where the sequence's grammar starts in its output: at once, or after the first guidedAfterTokenId; null: not yet.
 * Each call searches only the tokens that came since the last (output tokens never change once known).
 */
function grammarStart({group, seq}: Target): number | null {
  const after = group.params.guidedAfterTokenId
  if (after === null) return 0
  let search = afterTokenSearch.get(seq)
  if (search === undefined) afterTokenSearch.set(seq, (search = {searched: 0, at: -1}))
  const known = seq.resolvedLength - seq.promptLength
  for (; search.at < 0 && search.searched < known; search.searched++) if (seq.tokenIds[seq.promptLength + search.searched] === after) search.at = search.searched
  return search.at < 0 ? null : search.at + 1
}

/** Whether the sequence's next token is held to a grammar. */
function isConstrainedNow(target: Target): boolean {
  return target.group.params.guided !== null && grammarStart(target) !== null
}

function overBudgetError(group: SequenceGroup): InvalidRequestError {
  const {param} = group.params.guided!
  return new InvalidRequestError(
    `the '${param}' constraint became too slow to enforce (its token masks went over their time budget, growing ` +
      'dearer with each token), so the request was stopped rather than stall every other; simplify it (an ambiguous ' +
      'pattern such as (a*)* is the usual cause)',
    {param, code: 'grammar_too_slow'},
  )
}
