// One step of beam search for one request, as pure logic: rank candidates, keep finished hypotheses, decide when to stop.
//
// Semantics follow Hugging Face's BeamSearchScorer (which vLLM's beam search also followed):
// - the candidates of all live beams are ranked together by cumulative logprob, and the best
//   max(2, 1 + endingTokenCount) x width are walked (transformers 5.18's beams_to_keep: enough that width beams can
//   continue even when every token id that ends a beam ranks within them);
// - a candidate that ends its beam (HF: an EOS; here also a stop token or stop string, as vLLM's beams stopped:
//   `endsBeam` decides) becomes a finished hypothesis only if it ranks within the first `width` candidates, and is
//   kept if it is among the best `width` hypotheses by score; other candidates continue until `width` beams are chosen;
// - score = cumulativeLogprob / length ** lengthPenalty, with length = OUTPUT tokens including the EOS (HF's
//   generated_len convention; vLLM counted the prompt too). Hypothesis token ids include the ending token;
// - done when `width` hypotheses are finished and either earlyStopping is true, or (HF's heuristic for
//   early_stopping=False) the best live beam's cumulative logprob scored at the current length cannot beat the worst
//   finished score ("never": at maxTokens, when lengthPenalty > 0); or when maxTokens is reached, in which case the
//   live beams within the first `width` ranks become hypotheses too (HF: every candidate then ends).
// Ties rank by the order of the beams in the state, then by token id, so the result is deterministic.
// Where transformers (5.18 `_beam_search`) differs, on purpose: it always runs width beams, so when fewer than width
// candidates of a step continue it fills the rest with ended ones at score - 1e9 that run on past their end (and at
// the first step with the prompt's width - 1 copies at -1e9); such a filler that ends within the first width ranks is
// a hypothesis (~ -1e9 / length^penalty) that takes a slot, may stop the search (early_stopping true) and is returned.
// A filler ranks there only when a step has fewer than width finite candidates (live beams x (vocabulary - suppressed
// tokens) < width). We continue with fewer beams and return real hypotheses only (scripts/beam-reference-hf.py's
// vocabulary-3 cases); when every candidate walked ends, both stop (transformers: no valid continuation).
import {bestFirstIndices} from './top-k.js'

export interface BeamHypothesis {
  /** The live beam this hypothesis extends by its last token. */
  parentSeqId: number
  tokenIds: number[]
  cumulativeLogprob: number
  score: number
}

export interface BeamState {
  beams: Array<{seqId: number; tokenIds: readonly number[] /* output tokens */; cumulativeLogprob: number}>
  finished: BeamHypothesis[]
}

/** One live beam's best next tokens (log_softmax, no temperature), best first. */
export interface BeamCandidates {
  seqId: number
  tokenIds: number[]
  logprobs: number[]
  /** The beam has candidates past these (default: none): a walk that reaches the last of these asks for more (needsMore). */
  more?: boolean
}

export interface BeamSearchOptions {
  beamWidth: number
  lengthPenalty: number
  earlyStopping: boolean | 'never'
  /** Whether the beam `seqId` ends with `tokenId` appended (EOS, a stop token or a stop string). */
  endsBeam: (seqId: number, tokenId: number) => boolean
  /** How many distinct token ids end every beam (EOS ids, stop_token_ids): sizes the candidates walked per step. */
  endingTokenCount: number
  /** Output tokens at which every live beam is finished. */
  maxTokens: number
  /** The prompt's length: informational, since scores use output lengths only (see the file header). */
  promptLength?: number
}

export interface BeamStepResult {
  /** The live beams for the next step (at most width); empty when done. */
  next: Array<{parentSeqId: number; tokenId: number; cumulativeLogprob: number}>
  /** At most width finished hypotheses, in the order they were found. */
  finished: BeamHypothesis[]
  done: boolean
  /**
   * The beam whose listed candidates ran out while the walk went on (stop strings ended them): nothing was decided;
   * list more of its candidates and step again.
   */
  needsMore?: number
}

/** Candidates walked per step, and so the most any one beam can contribute: transformers' beams_to_keep. */
export function beamCandidateCount(beamWidth: number, endingTokenCount: number): number {
  return Math.max(2, 1 + endingTokenCount) * beamWidth
}

export function beamScore(cumulativeLogprob: number, outputLength: number, lengthPenalty: number): number {
  return cumulativeLogprob / outputLength ** lengthPenalty
}

/** HF's BeamHypotheses.add: keep the new hypothesis while fewer than width are held or it beats the worst, then drop the worst. */
function addHypothesis(finished: BeamHypothesis[], hypothesis: BeamHypothesis, beamWidth: number): void {
  if (finished.length >= beamWidth && !(hypothesis.score > worstScore(finished))) return
  finished.push(hypothesis)
  if (finished.length > beamWidth) {
    let worst = 0
    for (let i = 1; i < finished.length; i++) if (finished[i]!.score < finished[worst]!.score) worst = i
    finished.splice(worst, 1)
  }
}

function worstScore(finished: readonly BeamHypothesis[]): number {
  return Math.min(...finished.map((hypothesis) => hypothesis.score))
}

export function beamSearchStep(state: BeamState, candidates: readonly BeamCandidates[], opts: BeamSearchOptions): BeamStepResult {
  const {beamWidth, lengthPenalty, endsBeam} = opts
  const beamIndexById = new Map(state.beams.map((beam, index) => [beam.seqId, index]))
  if (candidates.length !== state.beams.length)
    throw new Error(`beam search: ${state.beams.length} live beams but candidates for ${candidates.length}`)
  // Every (beam, token) candidate in flat arrays.
  const total = candidates.reduce((sum, entry) => sum + entry.tokenIds.length, 0)
  const scores = new Float64Array(total)
  const order = new Float64Array(total)
  const beamOf = new Int32Array(total)
  const tokenOf = new Int32Array(total)
  // The index of each beam's last listed candidate, where that beam has more than it listed.
  const lastListed = new Set<number>()
  let at = 0
  for (const entry of candidates) {
    const beamIndex = beamIndexById.get(entry.seqId)
    if (beamIndex === undefined) throw new Error(`beam search: candidates for sequence ${entry.seqId}, which is not a live beam`)
    const beam = state.beams[beamIndex]!
    entry.tokenIds.forEach((tokenId, j) => {
      scores[at] = beam.cumulativeLogprob + entry.logprobs[j]!
      // Ties go to the earlier beam, then the lower token id.
      order[at] = beamIndex * 2 ** 32 + tokenId
      beamOf[at] = beamIndex
      tokenOf[at++] = tokenId
    })
    if (entry.more && entry.tokenIds.length > 0) lastListed.add(at - 1)
  }
  // Walked best first, lazily: the walk usually ends after about width candidates, and never passes beamCandidateCount.
  const limit = beamCandidateCount(beamWidth, opts.endingTokenCount)

  const outputLength = 1 + Math.max(...state.beams.map((beam) => beam.tokenIds.length))
  const finished = [...state.finished]
  const next: BeamStepResult['next'] = []
  const nextRanks: number[] = []
  let rank = -1
  // A beam whose last listed candidate was walked: its next one, unlisted, may rank before the walk's next.
  let wantsMore: number | undefined
  for (const i of bestFirstIndices(scores, order)) {
    if (++rank === limit || wantsMore !== undefined) break
    const candidate = {beamIndex: beamOf[i]!, tokenId: tokenOf[i]!, cumulativeLogprob: scores[i]!}
    const beam = state.beams[candidate.beamIndex]!
    if (lastListed.has(i)) wantsMore = beam.seqId
    if (endsBeam(beam.seqId, candidate.tokenId)) {
      if (rank >= beamWidth) continue
      const tokenIds = [...beam.tokenIds, candidate.tokenId]
      const score = beamScore(candidate.cumulativeLogprob, tokenIds.length, lengthPenalty)
      addHypothesis(finished, {parentSeqId: beam.seqId, tokenIds, cumulativeLogprob: candidate.cumulativeLogprob, score}, beamWidth)
    } else {
      next.push({parentSeqId: beam.seqId, tokenId: candidate.tokenId, cumulativeLogprob: candidate.cumulativeLogprob})
      nextRanks.push(rank)
    }
    if (next.length === beamWidth) break
  }
  if (wantsMore !== undefined && next.length < beamWidth && rank < limit) return {next: [], finished: state.finished, done: false, needsMore: wantsMore}

  if (outputLength >= opts.maxTokens) {
    const byId = new Map(state.beams.map((beam) => [beam.seqId, beam]))
    for (const [i, choice] of next.entries()) {
      if (nextRanks[i]! >= beamWidth) continue
      const tokenIds = [...byId.get(choice.parentSeqId)!.tokenIds, choice.tokenId]
      const score = beamScore(choice.cumulativeLogprob, tokenIds.length, lengthPenalty)
      addHypothesis(finished, {parentSeqId: choice.parentSeqId, tokenIds, cumulativeLogprob: choice.cumulativeLogprob, score}, beamWidth)
    }
    return {next: [], finished, done: true}
  }
  if (next.length === 0 || isDone(finished, next[0]!.cumulativeLogprob, outputLength, opts)) return {next: [], finished, done: true}
  return {next, finished, done: false}
}

/**
 * HF's stopping rule (generate's _check_early_stop_heuristic): with width hypotheses held, early_stopping true stops;
 * false stops once the best live beam, scored at its current length, cannot beat the worst hypothesis; "never" scores
 * it at max_tokens instead when the length penalty is positive (longer may still win).
 */
function isDone(finished: readonly BeamHypothesis[], bestLiveLogprob: number, outputLength: number, opts: BeamSearchOptions): boolean {
  if (finished.length < opts.beamWidth) return false
  if (opts.earlyStopping === true) return true
  const length = opts.earlyStopping === 'never' && opts.lengthPenalty > 0 ? opts.maxTokens : outputLength
  return worstScore(finished) >= beamScore(bestLiveLogprob, length, opts.lengthPenalty)
}

/** The final outputs: the best n hypotheses by score (ties keep the order they were found in). */
export function bestHypotheses(finished: readonly BeamHypothesis[], n: number): BeamHypothesis[] {
  return [...finished].sort((a, b) => b.score - a.score).slice(0, n)
}
