// The engine's side of beam search: each live beam's candidates from its processed row, the stop rules applied to
// candidates, the forks and discards beamSearchStep asks for, and the returned beams' texts and logprobs.
//
// As vLLM's beam search (v0.1-0.5): a beam's row gets the sampler's edits before ranking (logit_bias, repetition /
// frequency / presence penalties over that beam's own tokens, EOS and stop_token_ids suppressed until min_tokens), and a
// candidate that ends its beam (EOS unless ignore_eos, a stop token, a stop string in the beam's text with it) becomes
// a finished hypothesis whose text is cut as a sampled sequence's would be. Reported logprobs are those the beams rank
// by, so a beam's cumulative logprob is the sum of its tokens' logprobs.
import {beamCandidateCount, beamSearchStep, bestHypotheses, type BeamCandidates, type BeamHypothesis, type BeamState} from './beam-search.js'
import type {BlockManager} from './block-manager.js'
import {IncrementalDetokenizer} from './detokenizer.js'
import type {Tokenizer} from './model/tokenizer.js'
import {OutputText} from './output-text.js'
import type {CompletionOutput} from './request-output.js'
import {minTokensSuppressed, type SamplingParams} from './sampling-params.js'
import {editedTopLogprobs} from './sampler.js'
import type {Scheduler} from './scheduler.js'
import {detokenizeAndCheck, longestStop, tokenVerdict, type StopVerdict} from './stop-checker.js'
import {SequenceStatus, type Sequence, type SequenceGroup, type TokenLogprobs} from './sequence.js'

/** One live beam's best tokens this step (processed logprobs, best first): its candidates and its top logprobs. */
interface RankedRow {
  tokenIds: number[]
  logprobs: number[]
  /** The row's best k, when the walk needs more of them than were ranked (the step's logits are held until stepAll). */
  rank: (k: number) => {tokenIds: number[]; logprobs: number[]}
}

export class BeamProcessor {
  private readonly states = new Map<SequenceGroup, BeamState>()
  private readonly rows = new Map<SequenceGroup, Map<number, RankedRow>>()
  /** Each live beam's text so far, kept only for requests with stop strings (candidates are tried on a copy). */
  private readonly detokenizers = new Map<number, IncrementalDetokenizer>()
  /** The per-token logprobs of each finished hypothesis, when the request asked for logprobs. */
  private readonly hypothesisLogprobs = new WeakMap<BeamHypothesis, TokenLogprobs[]>()
  /** endingTokenCount per request: its params do not change during the search. */
  private readonly endingCounts = new WeakMap<SamplingParams, number>()

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly blockManager: BlockManager,
    private readonly scheduler: Scheduler,
    private readonly vocabSize: number,
    private readonly eosTokenIds: readonly number[],
    /** Where the returned beams go once the search is done (the output processor's final outputs). */
    private readonly finalOutputs: Map<SequenceGroup, CompletionOutput[]>,
  ) {}

  /** Ranks one live beam's row; the row is read now (it is edited in place and restored) and stepped in stepAll. */
  addRow(group: SequenceGroup, seq: Sequence, logits: Float32Array, row: number): void {
    const {params} = group
    const request = {
      row,
      params,
      tokenIds: seq.tokenIds,
      promptLength: seq.promptLength,
      seed: 0,
      stream: 0,
      suppressTokenIds: minTokensSuppressed(params, seq.outputLength, this.eosTokenIds),
    }
    const rank = (k: number) => editedTopLogprobs(logits, this.vocabSize, request, k)
    const rows = this.rows.get(group) ?? new Map<number, RankedRow>()
    rows.set(seq.seqId, {...rank(Math.max(this.candidateCount(params), params.logprobs ?? 0)), rank})
    this.rows.set(group, rows)
  }

  /** One beam search step for every group with rows this step. */
  stepAll(now: number): void {
    for (const [group, rows] of this.rows) {
      group.times.firstToken ??= now
      this.step(group, rows)
    }
    this.rows.clear()
  }

  forgetGroup(group: SequenceGroup): void {
    for (const seq of group.sequences) this.detokenizers.delete(seq.seqId)
    this.states.delete(group)
    this.rows.delete(group)
  }

  private step(group: SequenceGroup, rows: Map<number, RankedRow>): void {
    const {params} = group
    const live = group.withStatus(SequenceStatus.Running)
    const byId = new Map(live.map((seq) => [seq.seqId, seq]))
    const state = this.states.get(group) ?? {beams: [], finished: []}
    state.beams = live.map((seq) => ({seqId: seq.seqId, tokenIds: seq.outputTokenIds, cumulativeLogprob: seq.cumulativeLogprob}))
    const perBeam = this.candidateCount(params)
    const candidates = new Map(live.map((seq) => {
      const ranked = rows.get(seq.seqId)
      // The scheduler runs a request's beams in the same step (they rank together); anything else is a bug.
      if (ranked === undefined) throw new Error(`beam search: live beam ${seq.seqId} has no row this step`)
      return [seq.seqId, this.listedCandidates(seq.seqId, ranked, perBeam, params)] as const
    }))
    const options = {
      beamWidth: params.bestOf,
      lengthPenalty: params.lengthPenalty,
      earlyStopping: params.earlyStopping,
      endsBeam: (seqId: number, tokenId: number) => this.endsBeam(group, byId.get(seqId)!, tokenId),
      endingTokenCount: this.endingTokenCount(params),
      maxTokens: params.maxTokens,
      promptLength: group.promptLength,
    }
    let result = beamSearchStep(state, [...candidates.values()], options)
    // Stop strings ended more of a beam's candidates than it listed: list twice as many and walk again.
    while (result.needsMore !== undefined) {
      const count = 2 * candidates.get(result.needsMore)!.tokenIds.length
      const ranked = rows.get(result.needsMore)!
      Object.assign(ranked, ranked.rank(Math.max(count, params.logprobs ?? 0)))
      candidates.set(result.needsMore, this.listedCandidates(result.needsMore, ranked, count, params))
      result = beamSearchStep(state, [...candidates.values()], options)
    }
    if (params.logprobs !== null)
      for (const hypothesis of result.finished)
        if (!this.hypothesisLogprobs.has(hypothesis)) {
          const parent = byId.get(hypothesis.parentSeqId)!
          const last = hypothesis.tokenIds[hypothesis.tokenIds.length - 1]!
          this.hypothesisLogprobs.set(hypothesis, [...parent.outputLogprobs, this.tokenLogprobs(group, rows.get(parent.seqId)!, last)])
        }
    state.finished = result.finished
    this.states.set(group, state)

    // Discard dead beams first: under reserving policies their runs are what the forks below take.
    const byParent = new Map<number, typeof result.next>()
    for (const choice of result.next) byParent.set(choice.parentSeqId, [...(byParent.get(choice.parentSeqId) ?? []), choice])
    const parents = live.filter((seq) => {
      const keep = byParent.has(seq.seqId) && !result.done
      if (!keep) this.discard(group, seq)
      return keep
    })
    // Fork every chosen parent once per extra child BEFORE appending, so children start from the parent's tokens.
    const survivors: Array<{seq: Sequence; parent: Sequence; tokenId: number}> = []
    for (const seq of parents) {
      const choices = byParent.get(seq.seqId)!
      for (const choice of choices.slice(1)) {
        const child = seq.fork()
        group.sequences.push(child)
        this.scheduler.addBlockCopies(this.blockManager.fork(seq, child))
        const detokenizer = this.detokenizers.get(seq.seqId)
        if (detokenizer) this.detokenizers.set(child.seqId, detokenizer.clone())
        survivors.push({seq: child, parent: seq, tokenId: choice.tokenId})
      }
      survivors.push({seq, parent: seq, tokenId: choices[0]!.tokenId})
    }
    for (const {seq, parent, tokenId} of survivors) {
      const ranked = rows.get(parent.seqId)!
      const logprob = ranked.logprobs[ranked.tokenIds.indexOf(tokenId)]!
      seq.appendToken(tokenId, logprob, params.logprobs === null ? undefined : this.tokenLogprobs(group, ranked, tokenId))
      const detokenizer = this.detokenizers.get(seq.seqId)
      if (detokenizer) detokenizeAndCheck(params, this.eosTokenIds, detokenizer, tokenId, seq.outputLength)
    }
    if (result.done) this.finish(group, result.finished)
  }

  /**
   * How many distinct token ids end every beam: EOS (unless ignore_eos) and stop_token_ids alike, since vLLM folds a model's
   * extra EOS ids into stop_token_ids and transformers counts every eos_token_id when sizing its candidates. Stop
   * strings are not token ids (transformers' stop_strings do not widen the candidates either). Constant over the
   * search, as transformers' count is, even while min_tokens holds these back.
   */
  private endingTokenCount(params: SamplingParams): number {
    // Asked for every beam's row each step: counted once per request (up to 1,024 stop ids).
    let count = this.endingCounts.get(params)
    if (count === undefined) {
      count = new Set([...(params.ignoreEos ? [] : this.eosTokenIds), ...params.stopTokenIds]).size
      this.endingCounts.set(params, count)
    }
    return count
  }

  /**
   * Candidates first taken from each beam's row: 2 x width, transformers' whole walk with one EOS id. The walk stops at
   * width continuing candidates, so it reads past a beam's first 2 x width only where more than width of them end (many
   * stop ids or stop strings ranking high): then it asks for more of that beam (needsMore) and the row is ranked further.
   * Ranking each row only as deep as the walk goes keeps width 128 with 1,000 stop_token_ids from ranking 1,256 of
   * every beam's tokens each step.
   */
  private candidateCount(params: SamplingParams): number {
    return Math.min(beamCandidateCount(params.bestOf, this.endingTokenCount(params)), 2 * params.bestOf)
  }

  /**
   * A beam's first `count` candidates from its ranked row, without suppressed tokens (-Infinity: never candidates, even
   * when the vocabulary is smaller than the count); `more` while the walk might read past them (beamCandidateCount).
   */
  private listedCandidates(seqId: number, ranked: RankedRow, count: number, params: SamplingParams): BeamCandidates {
    const keep = ranked.logprobs.slice(0, count).filter((logprob) => logprob > -Infinity).length
    const more = keep === count && count < Math.min(this.vocabSize, beamCandidateCount(params.bestOf, this.endingTokenCount(params)))
    return {seqId, tokenIds: ranked.tokenIds.slice(0, keep), logprobs: ranked.logprobs.slice(0, keep), more}
  }

  /** Whether `tokenId` ends the beam `seq`: the stop checker's verdict on it, without committing it. */
  private endsBeam(group: SequenceGroup, seq: Sequence, tokenId: number): boolean {
    const {params} = group
    const outputLength = seq.outputLength + 1
    if (params.stop.length === 0)
      return tokenVerdict(params, this.eosTokenIds, tokenId, outputLength).finished === 'stop'
    let detokenizer = this.detokenizers.get(seq.seqId)
    if (!detokenizer) {
      // First asked at the prompt; forks clone their parent's. Tokens it lacks (none, normally) are caught up.
      // Only stop strings read its text, and only its end: it keeps the tail, so trying a candidate on a copy is cheap.
      detokenizer = this.newDetokenizer(group, OutputText.tailOnly(longestStop(params.stop) + 1))
      seq.outputTokenIds.forEach((id, i) => detokenizeAndCheck(params, this.eosTokenIds, detokenizer!, id, i + 1))
      this.detokenizers.set(seq.seqId, detokenizer)
    }
    return detokenizeAndCheck(params, this.eosTokenIds, detokenizer.clone(), tokenId, outputLength).finished === 'stop'
  }

  /** The top params.logprobs tokens of a beam's ranked row plus the chosen one, as a sampled token's are reported. */
  private tokenLogprobs(group: SequenceGroup, ranked: RankedRow, tokenId: number): TokenLogprobs {
    const entries = new Map<number, number>()
    for (let i = 0; i < (group.params.logprobs ?? 0); i++) entries.set(ranked.tokenIds[i]!, ranked.logprobs[i]!)
    if (!entries.has(tokenId)) entries.set(tokenId, ranked.logprobs[ranked.tokenIds.indexOf(tokenId)]!)
    return entries
  }

  private newDetokenizer(group: SequenceGroup, text = OutputText.whole()): IncrementalDetokenizer {
    // Decoded after the prompt, as a sampled output's text is: alone, a SentencePiece decode drops the leading space.
    return new IncrementalDetokenizer(this.tokenizer, group.promptTokenIds, {skipSpecialTokens: group.params.skipSpecialTokens, text})
  }

  private discard(group: SequenceGroup, seq: Sequence): void {
    seq.status = SequenceStatus.FinishedAborted
    this.blockManager.free(seq)
    this.detokenizers.delete(seq.seqId)
    group.sequences = group.sequences.filter((other) => other !== seq)
  }

  /** The best n hypotheses become the request's outputs: each text replayed through the stop checker, as sampled. */
  private finish(group: SequenceGroup, finished: readonly BeamHypothesis[]): void {
    const {params} = group
    this.finalOutputs.set(
      group,
      bestHypotheses(finished, params.n).map((hypothesis, index) => {
        const detokenizer = this.newDetokenizer(group)
        let verdict: StopVerdict = {finished: null, stopReason: null, textLength: 0}
        hypothesis.tokenIds.forEach((tokenId, i) => (verdict = detokenizeAndCheck(params, this.eosTokenIds, detokenizer, tokenId, i + 1)))
        if (verdict.finished === null) throw new Error(`beam search: a returned beam of ${hypothesis.tokenIds.length} tokens has not stopped`)
        return {
          index,
          text: detokenizer.output.prefix(verdict.textLength),
          tokenIds: hypothesis.tokenIds,
          cumulativeLogprob: hypothesis.cumulativeLogprob,
          logprobs: params.logprobs === null ? null : this.hypothesisLogprobs.get(hypothesis)!,
          finishReason: verdict.finished,
          stopReason: verdict.stopReason,
        }
      }),
    )
  }
}
