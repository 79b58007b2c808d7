// A deliberately simple beam search to check the engine's against: recomputes every score from the model, ranks the whole vocabulary, no forking.
//
// Same semantics as src/engine/beam-search.ts (Hugging Face's BeamSearchScorer), written independently:
// - every step ranks ALL (beam, token) pairs by cumulative logprob, recomputed from scratch by summing the model's
//   logprobs along each beam, and walks the best max(2, 1 + E) x width, E = the distinct EOS and stop token ids
//   (transformers' beams_to_keep, counting every eos_token_id);
// - an EOS or stop token pair (or one whose output `endsAt` says ends: a stop string) within the first width ranks
//   becomes a hypothesis, scored logprob / outputLength ** lengthPenalty with the ending token counted; at most width hypotheses are held (a new one replaces the worst when it scores higher);
// - stop when width hypotheses exist and earlyStopping is true, or when the worst hypothesis score >= the best live
//   beam's cumulative logprob scored at the current length (at maxTokens for "never" with a positive length penalty);
//   at maxTokens the live beams within the first width ranks become hypotheses.
// transformers' generate(num_beams=...) gives the same beams on bigram models (scripts/beam-reference-hf.py, develop time),
// except where it returns -1e9 fillers (a step with fewer than width finite candidates: src/engine/beam-search.ts).

export interface ReferenceBeamSearchOptions {
  beamWidth: number
  /** Hypotheses returned, best first. */
  n: number
  lengthPenalty: number
  earlyStopping: boolean | 'never'
  eosTokenIds: readonly number[]
  /** Token ids that end a beam as EOS does (vLLM's stop_token_ids, transformers' further eos_token_ids). */
  stopTokenIds?: readonly number[]
  /** Whether an output ends with its last token for another reason (a stop string in its text). */
  endsAt?: (output: number[]) => boolean
  maxTokens: number
}

export interface ReferenceHypothesis {
  tokenIds: number[]
  cumulativeLogprob: number
  score: number
}

/**
 * `model(tokens)` = log-probabilities of the next token after `tokens` (prompt + output so far). Calls are memoized
 * by token sequence (a slow reference model is asked once per distinct prefix); every sum is still recomputed.
 */
export function referenceBeamSearch(
  model: (tokens: number[]) => Float64Array,
  promptTokenIds: readonly number[],
  opts: ReferenceBeamSearchOptions,
): ReferenceHypothesis[] {
  const width = opts.beamWidth
  const endingTokenIds = new Set([...opts.eosTokenIds, ...(opts.stopTokenIds ?? [])])
  const walked = Math.max(2, 1 + endingTokenIds.size) * width
  const memo = new Map<string, Float64Array>()
  const nextLogprobs = (tokens: number[]): Float64Array => {
    const key = tokens.join(',')
    let logprobs = memo.get(key)
    if (logprobs === undefined) memo.set(key, (logprobs = model(tokens)))
    return logprobs
  }
  const sumLogprobs = (output: number[]): number => {
    let total = 0
    for (let i = 0; i < output.length; i++) total += nextLogprobs([...promptTokenIds, ...output.slice(0, i)])[output[i]!]!
    return total
  }
  const scoreOf = (output: number[]) => sumLogprobs(output) / output.length ** opts.lengthPenalty
  let hypotheses: number[][] = []
  let beams: number[][] = [[]]

  for (let length = 1; length <= opts.maxTokens; length++) {
    const pairs: Array<{beam: number; token: number; logprob: number}> = []
    beams.forEach((output, beam) => {
      const logprobs = nextLogprobs([...promptTokenIds, ...output])
      const base = sumLogprobs(output)
      logprobs.forEach((logprob, token) => pairs.push({beam, token, logprob: base + logprob}))
    })
    pairs.sort((a, b) => b.logprob - a.logprob || a.beam - b.beam || a.token - b.token)

    const nextBeams: Array<{output: number[]; rank: number; logprob: number}> = []
    for (let rank = 0; rank < Math.min(walked, pairs.length) && nextBeams.length < width; rank++) {
      const pair = pairs[rank]!
      const output = [...beams[pair.beam]!, pair.token]
      if (!endingTokenIds.has(pair.token) && !(opts.endsAt?.(output) ?? false)) nextBeams.push({output, rank, logprob: pair.logprob})
      else if (rank < width) hypotheses = keepBest([...hypotheses, output], scoreOf, width)
    }
    // At the last length every pair within the first width ranks is finished (HF's max-length stopping criterion).
    if (length === opts.maxTokens) {
      for (const {output, rank} of nextBeams) if (rank < width) hypotheses = keepBest([...hypotheses, output], scoreOf, width)
      break
    }
    if (nextBeams.length === 0) break
    if (hypotheses.length === width) {
      if (opts.earlyStopping === true) break
      // The best live beam's score at the current length, or at maxTokens under "never" with a positive penalty.
      const hypotheticalLength = opts.earlyStopping === 'never' && opts.lengthPenalty > 0 ? opts.maxTokens : length
      if (Math.min(...hypotheses.map(scoreOf)) >= nextBeams[0]!.logprob / hypotheticalLength ** opts.lengthPenalty) break
    }
    beams = nextBeams.map((beam) => beam.output)
  }

  return hypotheses
    .map((tokenIds) => ({tokenIds, cumulativeLogprob: sumLogprobs(tokenIds), score: scoreOf(tokenIds)}))
    .sort((a, b) => b.score - a.score)
    .slice(0, opts.n)
}

/**
 * Keeps the best `width` of a list whose last element is new: the newcomer enters only if the list had room or it
 * scores strictly above the worst held; an existing hypothesis tied for worst leaves in the order it arrived.
 */
function keepBest(list: number[][], scoreOf: (output: number[]) => number, width: number): number[][] {
  if (list.length <= width) return list
  const held = list.slice(0, -1)
  const newcomer = list[list.length - 1]!
  const scores = held.map(scoreOf)
  const worst = Math.min(...scores)
  if (!(scoreOf(newcomer) > worst)) return held
  const worstIndex = scores.indexOf(worst)
  return [...held.slice(0, worstIndex), ...held.slice(worstIndex + 1), newcomer]
}
