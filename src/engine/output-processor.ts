// After a step: sample tokens, fork samples and beams, check stop conditions, free finished sequences.
//
// Text is made apart from the stop decision when it can be: a request without stop strings stops on token ids alone
// (EOS, stop_token_ids, max_tokens), so its new tokens are detokenized only when the engine publishes them, which it
// does while the next step runs (catchUpText). A request with stop strings is detokenized token by token, here.
import {BeamProcessor} from './beam-processor.js'
import type {BlockManager} from './block-manager.js'
import type {SequenceGuides} from './guided/sequence-guides.js'
import {IncrementalDetokenizer} from './detokenizer.js'
import type {Tokenizer} from './model/tokenizer.js'
import type {LogitsRows, RunResult} from './model-runner.js'
import {chosenTokenLogprobs} from './logprobs.js'
import {minTokensSuppressed} from './sampling-params.js'
import {DrawPurpose, sampleUniform} from './philox.js'
import {planBackendSampling, sampledResult, type NativeSampledArrays, type SamplingPlan} from './native-sampling.js'
import type {CompletionOutput} from './request-output.js'
import {sampleRows, samplingDistribution, type SampleRequest, type SampleResult} from './sampler.js'
import type {ScheduledSequence, Scheduler} from './scheduler.js'
import {detokenizeAndCheck, tokenVerdict, type StopVerdict} from './stop-checker.js'
import {SequenceStatus, isFinished, type Sequence, type SequenceGroup} from './sequence.js'
import type {Speculator} from './spec-decode/speculator.js'
import {verifyByRejection} from './spec-decode/rejection-sampler.js'
import {verifyDraft} from './spec-decode/verify.js'

/** Per-sequence state that lives outside the sequence's data: its random stream (index in its group) and its detokenizer. */
interface SequenceState {
  stream: number
  detokenizer: IncrementalDetokenizer
  /** Tokens of the sequence (prompt included) whose text is in seq.text. */
  textTokens: number
}

export class OutputProcessor {
  private readonly states = new Map<number, SequenceState>()
  /** Final outputs of groups whose result is not their live sequences (best_of > n, beam search). */
  readonly finalOutputs = new Map<SequenceGroup, CompletionOutput[]>()
  private readonly beams: BeamProcessor

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly blockManager: BlockManager,
    private readonly scheduler: Scheduler,
    private readonly vocabSize: number,
    private readonly eosTokenIds: readonly number[],
    private readonly guides: SequenceGuides,
    private readonly speculator: Speculator | null = null,
  ) {
    this.beams = new BeamProcessor(tokenizer, blockManager, scheduler, vocabSize, eosTokenIds, this.finalOutputs)
  }

  /** Before the forward pass: starts the grammar masks of the sequences that will sample, to compute alongside it. */
  prefetchMasks(scheduled: readonly ScheduledSequence[]): void {
    this.guides.prefetch(scheduled.filter((entry) => entry.samples && entry.draftTokenIds.length === 0 && !entry.group.params.useBeamSearch))
  }

  /** After a step: guided groups to fail, each alone (their grammar went over its mask budget: SequenceGuides). */
  takeGuideFailures(): Array<{group: SequenceGroup; error: Error}> {
    return this.guides.takeFailures()
  }


  /** Before a step: what the backend samples (native-sampling.ts); a best_of request's first sample is planned as its forks. */
  planSampling(scheduled: readonly ScheduledSequence[], rows: readonly LogitsRows[]): SamplingPlan | null {
    return planBackendSampling(scheduled, rows, (group, seq, row) =>
      group.forksOnSample(seq)
        ? Array.from({length: group.params.bestOf}, (_, stream) => this.sampleRequest(group, seq, row, stream))
        : [this.sampleRequest(group, seq, row)],
    )
  }

  /**
   * Applies one step: `logits` holds the rows JS reads (all without a plan), `backend` the backend's samples,
   * `promptLogprobs` the prompt rows the step ranked. Returns the groups that changed.
   */
  async process(
    scheduled: readonly ScheduledSequence[],
    rows: readonly LogitsRows[],
    logits: Float32Array,
    now: number,
    backend: {plan: SamplingPlan; sampled: NativeSampledArrays} | null = null,
    promptLogprobs: RunResult['promptLogprobs'] = null,
  ): Promise<Set<SequenceGroup>> {
    const touched = new Set<SequenceGroup>()
    const sampleRequests: SampleRequest[] = []
    const sampleTargets: Array<{group: SequenceGroup; seq: Sequence}> = []
    const backendResults: Array<{group: SequenceGroup; seq: Sequence; pending: boolean; result: SampleResult}> = []
    // Finished or aborted while the step was in flight (async scheduling): its rows are void.
    promptLogprobs?.rows.record(promptLogprobs.ranked, (i) => !isFinished(scheduled[i]!.seq.status))

    scheduled.forEach((entry, i) => {
      const {group, seq} = entry
      // Finished or aborted while the step was in flight (async scheduling): its row is void.
      if (isFinished(seq.status)) return
      const row = rows[i]!
      if (entry.draftTokenIds.length > 0) {
        touched.add(group)
        this.verifyDrafts(group, seq, entry.draftTokenIds, [row.sampleRow, ...row.draftRows], logits)
        return
      }
      // Only what this step wrote: under async scheduling the step queued behind it counts as computed, and may fail.
      this.blockManager.markComputed(seq, entry.start + entry.numNewTokens)
      if (!entry.samples) return
      touched.add(group)
      if (group.params.useBeamSearch) {
        this.beams.addRow(group, seq, logits, row.sampleRow)
        return
      }
      // The first sample of a best_of > 1 request forks the prompt into its samples; they share its blocks.
      const targets = group.forksOnSample(seq) ? this.forkSamples(group, seq) : [seq]
      const first = backend?.plan.firstSample[i] ?? -1
      if (first >= 0) {
        targets.forEach((seq, k) =>
          backendResults.push({group, seq, pending: entry.pendingSample >= 0, result: sampledResult(backend!.sampled, first + k, backend!.plan.arrays.topStride, group.params)}),
        )
        return
      }
      for (const target of targets) {
        sampleRequests.push(this.sampleRequest(group, target, row.sampleRow))
        sampleTargets.push({group, seq: target})
      }
    })

    // Guided sequences' masks come from the grammar workers, started by prefetchMasks before the forward pass.
    const masks = await this.guides.masksFor(sampleTargets)
    masks.forEach((mask, i) => (sampleRequests[i]!.allowedMask = mask))
    const results = sampleRows(logits, this.vocabSize, sampleRequests)
    const sampled = [...backendResults, ...results.map((result, i) => ({...sampleTargets[i]!, pending: false, result}))]
    sampled.forEach(({group, seq, pending, result}) => {
      group.times.firstToken ??= now
      if (pending) seq.resolvePending(result.tokenId, result.logprob, result.topLogprobs ?? undefined)
      else seq.appendToken(result.tokenId, result.logprob, result.topLogprobs ?? undefined)
      this.afterAppend(group, seq)
    })
    this.beams.stepAll(now)
    for (const group of touched) if (group.isFinished) this.finishGroup(group, now)
    return touched
  }

  /** Speculative decoding: appends the accepted draft tokens and one more, then rolls back the rejected slots. */
  private verifyDrafts(group: SequenceGroup, seq: Sequence, draft: readonly number[], rows: readonly number[], logits: Float32Array): void {
    const sampleAndAppend = (row: number) => {
      const [result] = sampleRows(logits, this.vocabSize, [this.sampleRequest(group, seq, row)])
      seq.appendToken(result!.tokenId, result!.logprob, result!.topLogprobs ?? undefined)
      this.afterAppend(group, seq)
      return {tokenId: result!.tokenId, finished: seq.status !== SequenceStatus.Running}
    }
    // A draft model's sampled proposal carries its distributions q; point masses (n-gram, greedy) need none.
    const draftDistributions = this.speculator?.draftDistributions(seq) ?? null
    const accepted =
      draftDistributions === null
        ? verifyDraft(draft, rows, sampleAndAppend)
        : verifyByRejection(draft, draftDistributions, rows, {
            targetDistribution: (row) => samplingDistribution(logits, this.vocabSize, this.sampleRequest(group, seq, row)),
            append: (row, tokenId) => {
              const result = chosenTokenLogprobs(logits, row, this.vocabSize, tokenId, group.params.logprobs)
              seq.appendToken(tokenId, result.logprob, result.topLogprobs ?? undefined)
              this.afterAppend(group, seq)
              return {tokenId, finished: seq.status !== SequenceStatus.Running}
            },
            sampleAndAppend,
            acceptUniform: () => sampleUniform(group.params.seed ?? 0, this.stateOf(group, seq).stream, seq.outputLength, DrawPurpose.Accept),
            residualUniform: () => sampleUniform(group.params.seed ?? 0, this.stateOf(group, seq).stream, seq.outputLength),
          })
    this.speculator?.record(group, seq, draft.length, accepted)
    if (seq.status !== SequenceStatus.Running) return // finished: its blocks are already freed
    seq.numComputedTokens += accepted
    this.blockManager.trimSlots(seq)
    this.blockManager.markComputed(seq)
  }

  /** Frees a sequence's per-sequence state (finished, aborted or discarded beam). */
  private forget(seq: Sequence): void {
    this.states.delete(seq.seqId)
    this.guides.forget(seq.seqId)
  }

  forgetGroup(group: SequenceGroup): void {
    for (const seq of group.sequences) this.forget(seq)
    this.beams.forgetGroup(group)
    this.finalOutputs.delete(group)
  }

  private stateOf(group: SequenceGroup, seq: Sequence): SequenceState {
    let state = this.states.get(seq.seqId)
    if (!state) {
      const detokenizer = new IncrementalDetokenizer(this.tokenizer, seq.tokenIds.slice(0, seq.promptLength), {skipSpecialTokens: group.params.skipSpecialTokens})
      // The text is made again from the output's first token on, into the sequence's own text.
      seq.text = detokenizer.output
      seq.shownTextLength = 0
      state = {stream: group.sequences.indexOf(seq), detokenizer, textTokens: seq.promptLength}
      this.states.set(seq.seqId, state)
    }
    return state
  }

  /** `stream` overrides the sequence's own (a fork planned before it exists). */
  private sampleRequest(group: SequenceGroup, seq: Sequence, row: number, stream?: number): SampleRequest {
    const {params} = group
    const suppress = minTokensSuppressed(params, seq.outputLength, this.eosTokenIds)
    suppress.push(...this.guides.bannedTokens(group, seq))
    return {
      row,
      params,
      tokenIds: seq.tokenIds,
      promptLength: seq.promptLength,
      // The engine gives every request a seed (its own or a derived one).
      seed: params.seed ?? 0,
      stream: stream ?? this.stateOf(group, seq).stream,
      suppressTokenIds: suppress,
    }
  }

  private forkSamples(group: SequenceGroup, parent: Sequence): Sequence[] {
    const samples = [parent]
    for (let i = 1; i < group.params.bestOf; i++) {
      const child = parent.fork()
      group.sequences.push(child)
      this.scheduler.addBlockCopies(this.blockManager.fork(parent, child))
      samples.push(child)
    }
    return samples
  }

  /** Decides whether the sequence stops at its newest known token (and frees it if so). */
  private afterAppend(group: SequenceGroup, seq: Sequence): void {
    const newest = seq.resolvedLength
    const verdict =
      group.params.stop.length > 0
        ? this.catchUpText(group, seq)
        : tokenVerdict(group.params, this.eosTokenIds, seq.tokenIds[newest - 1]!, newest - seq.promptLength)
    if (verdict.finished === null) return
    seq.status = verdict.finished === 'length' ? SequenceStatus.FinishedLength : SequenceStatus.FinishedStopped
    seq.stopReason = verdict.stopReason
    seq.dropPending()
    this.blockManager.free(seq)
  }

  /** Brings the text of every sequence of the group up to its tokens (beams are decoded whole when they end). */
  catchUpGroupText(group: SequenceGroup): void {
    if (group.params.useBeamSearch) return
    for (const seq of group.sequences) if (seq.resolvedLength > (this.states.get(seq.seqId)?.textTokens ?? seq.promptLength)) this.catchUpText(group, seq)
  }

  /** Detokenizes the known tokens not yet in seq.text, in order; returns the stop verdict of the last one. */
  private catchUpText(group: SequenceGroup, seq: Sequence): StopVerdict {
    const state = this.stateOf(group, seq)
    let verdict: StopVerdict = {finished: null, stopReason: null, textLength: seq.shownTextLength}
    while (state.textTokens < seq.resolvedLength) {
      const tokenId = seq.tokenIds[state.textTokens++]!
      verdict = detokenizeAndCheck(group.params, this.eosTokenIds, state.detokenizer, tokenId, state.textTokens - seq.promptLength)
      seq.shownTextLength = verdict.textLength
    }
    return verdict
  }

  private finishGroup(group: SequenceGroup, now: number): void {
    group.times.finished ??= now
    if (group.params.useBeamSearch || group.params.bestOf === group.params.n) return
    this.catchUpGroupText(group)
    // best_of > n: return the n samples with the highest cumulative logprob.
    const ranked = group.sequences
      .map((seq, index) => ({seq, index}))
      .sort((a, b) => b.seq.cumulativeLogprob - a.seq.cumulativeLogprob)
      .slice(0, group.params.n)
    this.finalOutputs.set(
      group,
      ranked.map(({seq}, index) => ({
        index,
        text: seq.outputText,
        tokenIds: seq.outputTokenIds,
        cumulativeLogprob: seq.cumulativeLogprob,
        logprobs: group.params.logprobs === null ? null : [...seq.outputLogprobs],
        finishReason: seq.status === SequenceStatus.FinishedLength ? 'length' : 'stop',
        stopReason: seq.stopReason,
      })),
    )
  }
}
