// Turns each row of logits into one sampled token: penalties, suppression, greedy or temperature/top-k/top-p/min-p sampling, logprobs.
//
// Order (vLLM V1's): allowed-token mask, logit_bias, then repetition penalty, then frequency/presence penalties, then
// suppression (min_tokens, bad words) -> argmax when greedy (temperature 0; makeSamplingParams raises
// any positive one below 0.01 to 0.01, as vLLM) -> else divide by temperature ->
// min-p -> top-k (keeping ties of the k-th) -> top-p (over what min-p and top-k kept, renormalized) -> draw one token
// with the Philox uniform of (seed, stream, output position) (philox.ts), so a draw never depends on the batch.
// A broken model's NaN logits are never drawn and +Inf ones share the mass (row-edits.ts): every row gives a vocabulary id.
// Reported logprobs are those of the RAW logits (log_softmax with no penalty and temperature 1), as vLLM reports
// them; beam search and cumulative logprobs use the same numbers.
//
// Speed: max, argmax and log-sum-exp of every sampled row come from one native call per step (rowStatsOf), so greedy
// rows and raw logprobs cost no JS pass over the vocabulary. The engine's logits row is edited in place for penalties
// and suppression and restored before returning (row-edits.ts), so nothing vocab-sized is copied. Filters find their
// cut with a radix select over the weights (weight-cutoff.ts) instead of sorting the vocabulary. Scratch is reused.
//
// The engine samples most rows in the backend (native/cpu/sampler.cpp, native-sampling.ts decides which); this file
// is the reference those samplers are tested against and samples the rows that need their logits in JS.
import {isGreedy, type SamplingParams} from './sampling-params.js'
import type {TokenLogprobs} from './sequence.js'
import {sampleUniform} from './philox.js'
import {fastExp} from './fast-exp.js'
import {rowStatsOf, statsAt, tokenLogprobsOfRow, topValuesOf, type RowStats} from './logprobs.js'
import {KEEP_ALL, WeightCutFinder, shorterCut, type WeightCut} from './weight-cutoff.js'
import {RowEditor} from './row-edits.js'

export {logprobsOfTokens} from './logprobs.js'

export interface SampleRequest {
  /** Which row of the logits array this sample reads; several requests may share a row (best_of forks). */
  row: number
  params: SamplingParams
  /**
   * The sequence's prompt then output tokens (read, never copied: a sequence's own array) and where the output starts.
   * Presence/frequency penalties count OUTPUT tokens only (OpenAI); repetition_penalty covers prompt + output (vLLM/HF).
   */
  tokenIds: readonly number[]
  promptLength: number
  /** Request seed and sequence index within the request: a non-greedy sample draws sampleUniform(seed, stream, output length). */
  seed: number
  stream: number
  /** Tokens that must not be sampled now (EOS and stop_token_ids while min_tokens is not reached, bad-word endings). */
  suppressTokenIds: readonly number[]
  /** Bitmask of the tokens that may be sampled (bit t of word t >> 5); absent or null = all. */
  allowedMask?: Int32Array | null
}

export interface SampleResult {
  tokenId: number
  /** Raw log_softmax of the chosen token (see the file header). */
  logprob: number
  /** When params.logprobs !== null: the top params.logprobs tokens by raw logprob plus the chosen one. */
  topLogprobs: TokenLogprobs | null
}

/** Vocab-sized scratch of the draw reused across calls; grown on demand. */
class DrawScratch {
  weights = new Float32Array(0)
  weightBits = new Int32Array(0)
  kept = new Int32Array(0)
  readonly cutFinder = new WeightCutFinder()

  ensure(vocabSize: number): void {
    if (this.weights.length === vocabSize) return
    this.weights = new Float32Array(vocabSize)
    this.weightBits = new Int32Array(this.weights.buffer)
    this.kept = new Int32Array(vocabSize)
  }
}

const scratch = new DrawScratch()
const editor = new RowEditor()

/** Samples one token per request from its row of `logits` (rows of `vocabSize`). The array is left as it was given. */
export function sampleRows(logits: Float32Array, vocabSize: number, requests: readonly SampleRequest[]): SampleResult[] {
  const numRows = Math.floor(logits.length / vocabSize)
  if (requests.length === 0) return []
  let firstRow = numRows
  let lastRow = -1
  for (const {row} of requests) {
    if (!(row >= 0 && row < numRows)) throw new RangeError(`row ${row} is outside the ${numRows} rows of logits`)
    firstRow = Math.min(firstRow, row)
    lastRow = Math.max(lastRow, row)
  }
  scratch.ensure(vocabSize)
  editor.ensure(vocabSize)
  // Raw (unedited) stats of every row the requests read, in one native call: the span is the whole batch when
  // decoding; rows inside it that no request reads (prompt logprob rows) are rare.
  const rawStats = rowStatsOf(logits, firstRow, lastRow - firstRow + 1, vocabSize)
  return requests.map((request) =>
    sampleRow(logits.subarray(request.row * vocabSize, (request.row + 1) * vocabSize), request, statsAt(rawStats, request.row - firstRow)),
  )
}

function sampleRow(row: Float32Array, request: SampleRequest, raw: RowStats): SampleResult {
  const {params} = request
  const {working, stats: edited} = editor.edit(row, request, raw)
  const {values, stats} = editor.drawable(working, edited)
  const tokenId =
    stats.max === -Infinity
      ? editor.noTokenLeft(request)
      : isGreedy(params)
        ? stats.argmax
        : drawToken(values, params, stats.max, sampleUniform(request.seed, request.stream, request.tokenIds.length - request.promptLength))
  editor.restore(working)
  return {
    tokenId,
    logprob: row[tokenId]! - raw.logSumExp,
    topLogprobs: params.logprobs === null ? null : tokenLogprobsOfRow(row, tokenId, params.logprobs, raw.logSumExp),
  }
}

/**
 * The k best tokens of a row as the sampler edits it (logit_bias, penalties, suppression), by log_softmax with no
 * temperature, best first: beam search ranks its candidates by these and reports them as its logprobs (vLLM's beam
 * search ranked the processed logprobs; its beams' cumulative logprobs are their sums). The row is left as it was.
 */
export function editedTopLogprobs(logits: Float32Array, vocabSize: number, request: SampleRequest, k: number): {tokenIds: number[]; logprobs: number[]} {
  editor.ensure(vocabSize)
  const row = logits.subarray(request.row * vocabSize, (request.row + 1) * vocabSize)
  const {working, stats} = editor.edit(row, request, statsAt(rowStatsOf(row, 0, 1, vocabSize), 0))
  const top = topValuesOf(working, k)
  editor.restore(working)
  return {tokenIds: top.tokenIds, logprobs: top.values.map((value) => value - stats.logSumExp)}
}

/** Temperature, min-p, top-k, top-p, then one draw (`uniform` in [0, 1)) from what is left; `max` is the row's (as edited) largest logit. */
function drawToken(row: Float32Array, params: SamplingParams, max: number, uniform: number): number {
  const {cut, totalWeight} = filteredWeights(row, params, max)
  return cut === KEEP_ALL
    ? drawFromWeights(scratch.weights, totalWeight, uniform)
    : drawFromCut(scratch.weights, scratch.weightBits, cut, uniform)
}

/** Fills scratch.weights with softmax(row / temperature) relative to the best token; returns the min-p/top-k/top-p cut. */
function filteredWeights(row: Float32Array, params: SamplingParams, max: number): {cut: WeightCut; totalWeight: number} {
  const {weights, weightBits} = scratch
  const inverseTemperature = 1 / params.temperature
  // Weights relative to the best token (which gets exactly 1): the same ratios as softmax(row / temperature).
  let totalWeight = 0
  for (let i = 0; i < row.length; i++) {
    const weight = fastExp((row[i]! - max) * inverseTemperature)
    weights[i] = weight
    totalWeight += weight
  }
  // vLLM's order: min-p (relative to the best token, whose weight is 1), then top-k, then top-p over what they kept.
  let cut: WeightCut = KEEP_ALL
  if (params.minP > 0) cut = scratch.cutFinder.atLeast(weights, weightBits, params.minP)
  if (params.topK > 0 && params.topK < row.length) cut = shorterCut(cut, scratch.cutFinder.topCount(weights, weightBits, params.topK))
  if (params.topP < 1) {
    const massBeforeTopP = cut === KEEP_ALL ? totalWeight : cut.keptMass
    cut = shorterCut(cut, scratch.cutFinder.topMass(weights, weightBits, params.topP * massBeforeTopP))
  }
  return {cut, totalWeight}
}

/** One draw from unnormalized weights summing to `totalWeight` (`uniform` in [0, 1)). */
export function drawFromWeights(weights: Float32Array, totalWeight: number, uniform: number): number {
  const target = uniform * totalWeight
  let cumulative = 0
  let last = 0
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] === 0) continue
    cumulative += weights[i]!
    last = i
    if (cumulative > target) return i
  }
  return last // rounding left the target a hair above the sum
}

function drawFromCut(weights: Float32Array, weightBits: Int32Array, cut: WeightCut, uniform: number): number {
  const kept = scratch.kept
  let numKept = 0
  let keptWeight = 0
  let tiesSeen = 0
  for (let i = 0; i < weights.length; i++) {
    const bits = weightBits[i]!
    const inCut = bits > cut.thresholdBits || (bits === cut.thresholdBits && tiesSeen++ < cut.tieTake)
    if (inCut && weights[i]! > 0) {
      kept[numKept++] = i
      keptWeight += weights[i]!
    }
  }
  const target = uniform * keptWeight
  let cumulative = 0
  for (let k = 0; k < numKept; k++) {
    cumulative += weights[kept[k]!]!
    if (cumulative > target) return kept[k]!
  }
  return kept[numKept - 1]!
}

/**
 * The distribution sampleRows draws this request's token from, normalized (speculative rejection sampling compares the
 * target's and the draft's): the same mask, penalties, suppression, temperature, top-k, top-p and min-p; greedy is a
 * point mass on the argmax. The kept set is drawFromCut's, with every weight kept instead of one drawn.
 */
export function samplingDistribution(logits: Float32Array, vocabSize: number, request: SampleRequest): Float32Array {
  scratch.ensure(vocabSize)
  editor.ensure(vocabSize)
  const row = logits.subarray(request.row * vocabSize, (request.row + 1) * vocabSize)
  const {working, stats: edited} = editor.edit(row, request, statsAt(rowStatsOf(row, 0, 1, vocabSize), 0))
  const {values, stats} = editor.drawable(working, edited)
  const out = new Float32Array(vocabSize)
  const {params} = request
  if (isGreedy(params) || stats.max === -Infinity) {
    out[stats.max === -Infinity ? editor.noTokenLeft(request) : stats.argmax] = 1
    editor.restore(working)
    return out
  }
  const {cut} = filteredWeights(values, params, stats.max)
  const {weights, weightBits} = scratch
  let total = 0
  let tiesSeen = 0
  for (let i = 0; i < vocabSize; i++) {
    const bits = weightBits[i]!
    const inCut = cut === KEEP_ALL || bits > cut.thresholdBits || (bits === cut.thresholdBits && tiesSeen++ < cut.tieTake)
    if (inCut && weights[i]! > 0) {
      out[i] = weights[i]!
      total += weights[i]!
    }
  }
  for (let i = 0; i < vocabSize; i++) out[i] = out[i]! / total
  editor.restore(working)
  return out
}
