// A sampled row's edits, written in place and undone after the draw: the allowed-token mask, logit_bias, repetition
// then frequency/presence penalties, suppression (min_tokens, bad words; undone when it would leave no token), and a
// broken model's NaN/+Inf logits made drawable. Only touched entries are saved, so nothing vocab-sized is copied.
import {firstAllowed, maskRowInto} from './guided/token-mask.js'
import {rowStatsOf, statsAt, type RowStats} from './logprobs.js'
import type {SampleRequest} from './sampler.js'

export class RowEditor {
  private masked = new Float32Array(0)
  private finite = new Float32Array(0)
  /** seenStamp[t] === stamp marks token t as already saved during the current row. */
  private seenStamp = new Int32Array(0)
  /** penalizedStamp[t] === stamp marks token t as already given the repetition penalty in the current row. */
  private penalizedStamp = new Int32Array(0)
  private stamp = 0
  private outputCounts = new Int32Array(0)
  private readonly savedIds: number[] = []
  private readonly savedValues: number[] = []

  /** Vocab-sized scratch, grown on demand. */
  ensure(vocabSize: number): void {
    if (this.masked.length === vocabSize) return
    this.masked = new Float32Array(vocabSize)
    this.finite = new Float32Array(vocabSize)
    this.seenStamp = new Int32Array(vocabSize)
    this.penalizedStamp = new Int32Array(vocabSize)
    this.outputCounts = new Int32Array(vocabSize)
    this.stamp = 0
  }

  /**
   * Writes the mask and the edits into `working` (the row itself when there is no mask) and returns it with the stats
   * of the row as edited. Suppression (min_tokens, bad words) that would leave no token is undone: the mask (a
   * grammar, allowed_token_ids) and the model's logits then choose, as a grammar's output must stay valid.
   */
  edit(row: Float32Array, request: SampleRequest, raw: RowStats): {working: Float32Array; stats: RowStats} {
    const mask = request.allowedMask ?? null
    const working = mask === null ? row : this.masked
    this.beginRow()
    if (mask !== null) maskRowInto(row, mask, working)
    // Penalties and suppression can move the max anywhere (the raw best token is often in the history), so an edited
    // row's max and argmax come from a native pass over the row as edited.
    const edited = this.applyEdits(working, request, true) || mask !== null
    const stats = edited ? statsAt(rowStatsOf(working, 0, 1, working.length), 0) : raw
    if (stats.max !== -Infinity || request.suppressTokenIds.length === 0) return {working, stats}
    this.restore(working)
    this.beginRow()
    this.applyEdits(working, request, false)
    return {working, stats: statsAt(rowStatsOf(working, 0, 1, working.length), 0)}
  }

  /**
   * A broken model's row made drawable: NaN logits count as -Infinity (never drawn), and when some logits are
   * +Infinity they share all the mass (the limit of softmax: each gets weight 1, the rest 0). Other rows pass through.
   */
  drawable(working: Float32Array, stats: RowStats): {values: Float32Array; stats: RowStats} {
    const infinite = stats.max === Infinity
    if (!infinite && !Number.isNaN(stats.logSumExp)) return {values: working, stats}
    const values = this.finite
    for (let i = 0; i < working.length; i++) {
      const value = working[i]!
      values[i] = infinite ? (value === Infinity ? 0 : -Infinity) : Number.isNaN(value) ? -Infinity : value
    }
    return {values, stats: {max: infinite ? 0 : stats.max, argmax: stats.argmax, logSumExp: Number.NaN}}
  }

  /** Every token is -Infinity or NaN even without suppression: the mask's first token, else token 0 (still a vocabulary id). */
  noTokenLeft(request: SampleRequest): number {
    return request.allowedMask ? Math.max(firstAllowed(request.allowedMask, this.finite.length), 0) : 0
  }

  /** Puts back what the edits overwrote. */
  restore(row: Float32Array): void {
    for (let i = 0; i < this.savedIds.length; i++) row[this.savedIds[i]!] = this.savedValues[i]!
  }

  private beginRow(): void {
    this.savedIds.length = 0
    this.savedValues.length = 0
    if (++this.stamp === 0x7fffffff) {
      this.seenStamp.fill(0)
      this.penalizedStamp.fill(0)
      this.stamp = 1
    }
  }

  private saveOnce(row: Float32Array, tokenId: number): boolean {
    if (tokenId < 0 || tokenId >= row.length) return false
    if (this.seenStamp[tokenId] !== this.stamp) {
      this.seenStamp[tokenId] = this.stamp
      this.savedIds.push(tokenId)
      this.savedValues.push(row[tokenId]!)
    }
    return true
  }

  /** Edits the row in place (saving what it overwrites); returns whether anything changed. */
  private applyEdits(row: Float32Array, request: SampleRequest, suppress: boolean): boolean {
    const {repetitionPenalty, frequencyPenalty, presencePenalty, logitBias} = request.params
    if (logitBias !== null) {
      const {ids, values} = logitBias
      for (let i = 0; i < ids.length; i++) if (this.saveOnce(row, ids[i]!)) row[ids[i]!] += values[i]!
    }
    if (repetitionPenalty !== 1) {
      // HF/vLLM: shrink positive logits, grow negative ones, once per distinct token of prompt + output.
      for (const tokenId of request.tokenIds) {
        if (this.penalizedStamp[tokenId] === this.stamp || !this.saveOnce(row, tokenId)) continue
        this.penalizedStamp[tokenId] = this.stamp
        const value = row[tokenId]!
        row[tokenId] = value > 0 ? value / repetitionPenalty : value * repetitionPenalty
      }
    }
    if (frequencyPenalty !== 0 || presencePenalty !== 0) {
      const counts = this.outputCounts
      const {tokenIds, promptLength} = request
      for (let i = promptLength; i < tokenIds.length; i++) if (tokenIds[i]! >= 0 && tokenIds[i]! < row.length) counts[tokenIds[i]!]!++
      for (let i = promptLength; i < tokenIds.length; i++) {
        const tokenId = tokenIds[i]!
        const count = tokenId >= 0 && tokenId < row.length ? counts[tokenId]! : 0
        if (count === 0) continue // out of range, or already penalized (counts are cleared as they are used)
        this.saveOnce(row, tokenId)
        row[tokenId] = row[tokenId]! - frequencyPenalty * count - presencePenalty
        counts[tokenId] = 0
      }
    }
    if (suppress) for (const tokenId of request.suppressTokenIds) if (this.saveOnce(row, tokenId)) row[tokenId] = -Infinity
    return this.savedIds.length > 0
  }
}
