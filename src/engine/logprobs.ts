// Log-softmax helpers over rows of raw logits: per-row max/argmax/log-sum-exp (native), the top-k tokens by logprob,
// and the TokenLogprobs map.
import {nativeOps} from './native.js'
import type {TokenLogprobs} from './sequence.js'
import {topIndices} from './top-k.js'

/** One row's max, the lowest index holding it, and log(sum(exp(row))) in float64. */
export interface RowStats {
  max: number
  argmax: number
  logSumExp: number
}

/**
 * Stats of rows [firstRow, firstRow + numRows) of `logits` in one native call (a vectorized pass per row; the JS
 * exp over the vocabulary it replaces cost ~0.3 ms per 32k-logit row). Read them with statsAt.
 */
export function rowStatsOf(logits: Float32Array, firstRow: number, numRows: number, vocabSize: number): Float64Array {
  return nativeOps().rowStats(logits.subarray(firstRow * vocabSize, (firstRow + numRows) * vocabSize), numRows, vocabSize)
}

/** The stats of the index-th row of a rowStatsOf result. */
export function statsAt(stats: Float64Array, index: number): RowStats {
  return {max: stats[3 * index]!, argmax: stats[3 * index + 1]!, logSumExp: stats[3 * index + 2]!}
}

function logSumExpOfRow(logits: Float32Array, row: number, vocabSize: number): number {
  return rowStatsOf(logits, row, 1, vocabSize)[2]!
}

/** The k largest values of a row, descending, ties to the lowest id (NaN never counts). */
export function topValuesOf(row: Float32Array, k: number): {tokenIds: number[]; values: number[]} {
  const tokenIds = Array.from(topIndices(row, k))
  return {tokenIds, values: tokenIds.map((i) => row[i]!)}
}

function rowOf(logits: Float32Array, row: number, vocabSize: number): Float32Array {
  return logits.subarray(row * vocabSize, (row + 1) * vocabSize)
}

/** The logprobs of given tokens in one row (prompt logprobs of the tokens that actually came next). */
export function logprobsOfTokens(logits: Float32Array, row: number, vocabSize: number, tokenIds: readonly number[]): number[] {
  const values = rowOf(logits, row, vocabSize)
  const lse = logSumExpOfRow(logits, row, vocabSize)
  return tokenIds.map((tokenId) => values[tokenId]! - lse)
}

/**
 * The top `k` logprobs of a row of raw logits plus the logprob of `tokenId` (always present, last if not in the top k),
 * as OpenAI's logprobs report them; `lse` is the row's log-sum-exp.
 */
export function tokenLogprobsOfRow(row: Float32Array, tokenId: number, k: number, lse: number): TokenLogprobs {
  const top = topValuesOf(row, k)
  const result: TokenLogprobs = new Map()
  for (let i = 0; i < top.tokenIds.length; i++) result.set(top.tokenIds[i]!, top.values[i]! - lse)
  if (!result.has(tokenId)) result.set(tokenId, row[tokenId]! - lse)
  return result
}

/** A token chosen other than by sampling the row (an accepted draft token): its raw logprob, and the top k when asked for. */
export function chosenTokenLogprobs(logits: Float32Array, row: number, vocabSize: number, tokenId: number, k: number | null): {logprob: number; topLogprobs: TokenLogprobs | null} {
  const values = rowOf(logits, row, vocabSize)
  const lse = logSumExpOfRow(logits, row, vocabSize)
  return {logprob: values[tokenId]! - lse, topLogprobs: k === null ? null : tokenLogprobsOfRow(values, tokenId, k, lse)}
}
