// Turns each row of logits into one sampled token: penalties, suppression, greedy or temperature/top-k/top-p/min-p sampling, logprobs.
//
// Order (vLLM V1's): allowed-token mask, logit_bias, then repetition penalty, then frequency/presence penalties, then
// suppression (min_tokens, bad words) -> argmax when greedy (temperature below 1e-5) -> else divide by temperature ->
// min-p -> top-k (keeping ties of the k-th) -> top-p (over what min-p and top-k kept, renormalized) -> draw one token
// with the Philox uniform of (seed, stream, output position) (philox.ts), so a draw never depends on the batch.
// A broken model's NaN logits are never drawn and +Inf ones share the mass (finiteRow): every row gives a vocabulary id.
// Reported logprobs are those of the RAW logits (log_softmax with no penalty and temperature 1), as vLLM reports
// them; beam search and cumulative logprobs use the same numbers.
//
// Speed: max, argmax and log-sum-exp of every sampled row come from one native call per step (rowStatsOf), so greedy
// rows and raw logprobs cost no JS pass over the vocabulary. The engine's logits row is edited in place for penalties
// and suppression and restored before returning (only the few touched entries are saved), so nothing vocab-sized is
// copied; an edited row gets its own native stats call. Filters find their cut with a radix select over the weights
// (weight-cutoff.ts) instead of sorting the vocabulary. Scratch buffers are reused.
//
// The engine samples most rows in the backend (native/cpu/sampler.cpp, native-sampling.ts decides which); this file
// is the reference those samplers are tested against and samples the rows that need their logits in JS.
import {isGreedy, type SamplingParams} from './sampling-params.js'
import type {TokenLogprobs} from './sequence.js'
import {sampleUniform} from './philox.js'
import {fastExp} from './fast-exp.js'
import {rowStatsOf, statsAt, tokenLogprobsOfRow, type RowStats} from './logprobs.js'
import {KEEP_ALL, WeightCutFinder, shorterCut, type WeightCut} from './weight-cutoff.js'
import {firstAllowed, maskRowInto} from './guided/token-mask.js'

export {logprobsOfTokens, promptTokenLogprobs, topLogprobsOfRow} from './logprobs.js'

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

/** Vocab-sized scratch reused across calls; grown on demand. */
class SamplerScratch {
  weights = new Float32Array(0)
  masked = new Float32Array(0)
  /** A NaN/Inf row made drawable (finiteRow). */
  finite = new Float32Array(0)
  weightBits = new Int32Array(0)
  kept = new Int32Array(0)
  /** seenStamp[t] === stamp marks token t as already saved during the current row. */
  seenStamp = new Int32Array(0)
  /** penalizedStamp[t] === stamp marks token t as already given the repetition penalty in the current row. */
  penalizedStamp = new Int32Array(0)
  stamp = 0
  outputCounts = new Int32Array(0)
  savedIds: number[] = []
  savedValues: number[] = []
  readonly cutFinder = new WeightCutFinder()

  ensure(vocabSize: number): void {
    if (this.weights.length === vocabSize) return
    this.weights = new Float32Array(vocabSize)
    this.masked = new Float32Array(vocabSize)
    this.finite = new Float32Array(vocabSize)
    this.weightBits = new Int32Array(this.weights.buffer)
    this.kept = new Int32Array(vocabSize)
    this.seenStamp = new Int32Array(vocabSize)
    this.penalizedStamp = new Int32Array(vocabSize)
    this.outputCounts = new Int32Array(vocabSize)
    this.stamp = 0
  }

  beginRow(): void {
    this.savedIds.length = 0
    this.savedValues.length = 0
    if (++this.stamp === 0x7fffffff) {
      this.seenStamp.fill(0)
      this.penalizedStamp.fill(0)
      this.stamp = 1
    }
  }
}

const scratch = new SamplerScratch()

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
  // Raw (unedited) stats of every row the requests read, in one native call: the span is the whole batch when
  // decoding; rows inside it that no request reads (prompt logprob rows) are rare.
  const rawStats = rowStatsOf(logits, firstRow, lastRow - firstRow + 1, vocabSize)
  return requests.map((request) =>
    sampleRow(logits.subarray(request.row * vocabSize, (request.row + 1) * vocabSize), request, statsAt(rawStats, request.row - firstRow)),
  )
}

function sampleRow(row: Float32Array, request: SampleRequest, raw: RowStats): SampleResult {
  const {params} = request
  const working = request.allowedMask ? scratch.masked : row
  const edited = editRow(row, working, request, raw)
  const {values, stats} = finiteRow(working, edited)
  const tokenId =
    stats.max === -Infinity
      ? noTokenLeft(request)
      : isGreedy(params)
        ? stats.argmax
        : drawToken(values, params, stats.max, sampleUniform(request.seed, request.stream, request.tokenIds.length - request.promptLength))
  restoreEdits(working)
  return {
    tokenId,
    logprob: row[tokenId]! - raw.logSumExp,
    topLogprobs: params.logprobs === null ? null : tokenLogprobsOfRow(row, tokenId, params.logprobs, raw.logSumExp),
  }
}

/**
 * Writes the mask and the edits (bias, penalties, suppression) into `working` (the row itself when there is no mask)
 * and returns the stats of the row as edited. Suppression (min_tokens, bad words) that would leave no token is undone:
 * the mask (a grammar, allowed_token_ids) and the model's logits then choose, as a grammar's output must stay valid.
 */
function editRow(row: Float32Array, working: Float32Array, request: SampleRequest, raw: RowStats): RowStats {
  const mask = request.allowedMask ?? null
  scratch.beginRow()
  if (mask !== null) maskRowInto(row, mask, working)
  // Penalties and suppression can move the max anywhere (the raw best token is often in the history), so an edited
  // row's max and argmax come from a native pass over the row as edited.
  const edited = applyPenaltiesAndSuppression(working, request, true) || mask !== null
  const stats = edited ? statsAt(rowStatsOf(working, 0, 1, working.length), 0) : raw
  if (stats.max !== -Infinity || request.suppressTokenIds.length === 0) return stats
  restoreEdits(working)
  scratch.beginRow()
  applyPenaltiesAndSuppression(working, request, false)
  return statsAt(rowStatsOf(working, 0, 1, working.length), 0)
}

/**
 * A broken model's row made drawable: NaN logits count as -Infinity (never drawn), and when some logits are +Infinity
 * they share all the mass (the limit of softmax: each gets weight 1, the rest 0). Other rows pass through untouched.
 */
function finiteRow(working: Float32Array, stats: RowStats): {values: Float32Array; stats: RowStats} {
  const infinite = stats.max === Infinity
  if (!infinite && !Number.isNaN(stats.logSumExp)) return {values: working, stats}
  const values = scratch.finite
  for (let i = 0; i < working.length; i++) {
    const value = working[i]!
    values[i] = infinite ? (value === Infinity ? 0 : -Infinity) : Number.isNaN(value) ? -Infinity : value
  }
  return {values, stats: {max: infinite ? 0 : stats.max, argmax: stats.argmax, logSumExp: Number.NaN}}
}

/** Every token is -Infinity or NaN even without suppression: the mask's first token, else token 0 (still a vocabulary id). */
function noTokenLeft(request: SampleRequest): number {
  return request.allowedMask ? Math.max(firstAllowed(request.allowedMask, scratch.finite.length), 0) : 0
}

function saveOnce(row: Float32Array, tokenId: number): boolean {
  if (tokenId < 0 || tokenId >= row.length) return false
  if (scratch.seenStamp[tokenId] !== scratch.stamp) {
    scratch.seenStamp[tokenId] = scratch.stamp
    scratch.savedIds.push(tokenId)
    scratch.savedValues.push(row[tokenId]!)
  }
  return true
}

/** Edits the row in place (saving what it overwrites); returns whether anything changed. */
function applyPenaltiesAndSuppression(row: Float32Array, request: SampleRequest, suppress: boolean): boolean {
  const {repetitionPenalty, frequencyPenalty, presencePenalty, logitBias} = request.params
  if (logitBias !== null) for (const tokenId in logitBias) if (saveOnce(row, Number(tokenId))) row[Number(tokenId)] += logitBias[tokenId]!
  if (repetitionPenalty !== 1) {
    // HF/vLLM: shrink positive logits, grow negative ones, once per distinct token of prompt + output.
    const penalize = (tokenId: number) => {
      if (scratch.penalizedStamp[tokenId] === scratch.stamp || !saveOnce(row, tokenId)) return
      scratch.penalizedStamp[tokenId] = scratch.stamp
      const value = row[tokenId]!
      row[tokenId] = value > 0 ? value / repetitionPenalty : value * repetitionPenalty
    }
    for (const tokenId of request.tokenIds) penalize(tokenId)
  }
  if (frequencyPenalty !== 0 || presencePenalty !== 0) {
    const counts = scratch.outputCounts
    const {tokenIds, promptLength} = request
    for (let i = promptLength; i < tokenIds.length; i++) if (tokenIds[i]! >= 0 && tokenIds[i]! < row.length) counts[tokenIds[i]!]!++
    for (let i = promptLength; i < tokenIds.length; i++) {
      const tokenId = tokenIds[i]!
      const count = tokenId >= 0 && tokenId < row.length ? counts[tokenId]! : 0
      if (count === 0) continue // out of range, or already penalized (counts are cleared as they are used)
      saveOnce(row, tokenId)
      row[tokenId] = row[tokenId]! - frequencyPenalty * count - presencePenalty
      counts[tokenId] = 0
    }
  }
  if (suppress) for (const tokenId of request.suppressTokenIds) if (saveOnce(row, tokenId)) row[tokenId] = -Infinity
  return scratch.savedIds.length > 0
}

/** A copy of one row with logit_bias added, for beam search (which ranks rows without the sampler). */
export function biasedRow(logits: Float32Array, row: number, vocabSize: number, logitBias: Readonly<Record<number, number>>): Float32Array {
  const copy = logits.slice(row * vocabSize, (row + 1) * vocabSize)
  for (const tokenId in logitBias) if (Number(tokenId) < vocabSize) copy[Number(tokenId)] += logitBias[tokenId]!
  return copy
}

function restoreEdits(row: Float32Array): void {
  for (let i = 0; i < scratch.savedIds.length; i++) row[scratch.savedIds[i]!] = scratch.savedValues[i]!
}

/** Temperature, top-k, top-p, min-p, then one draw (`uniform` in [0, 1)) from what is left; `max` is the row's (as edited) largest logit. */
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
  const row = logits.subarray(request.row * vocabSize, (request.row + 1) * vocabSize)
  const working = request.allowedMask ? scratch.masked : row
  const {values, stats} = finiteRow(working, editRow(row, working, request, statsAt(rowStatsOf(row, 0, 1, vocabSize), 0)))
  const out = new Float32Array(vocabSize)
  const {params} = request
  if (isGreedy(params) || stats.max === -Infinity) {
    out[stats.max === -Infinity ? noTokenLeft(request) : stats.argmax] = 1
    restoreEdits(working)
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
  restoreEdits(working)
  return out
}
