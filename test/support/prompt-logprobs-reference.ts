// The JS reference for prompt logprobs (the engine ranks them in native/cpu/prompt_logprobs.cpp): the same float ops,
// so the native results must equal these bit for bit.
import {rowStatsOf, tokenLogprobsOfRow} from '../../src/engine/logprobs.js'
import type {TokenLogprobs} from '../../src/engine/sequence.js'

function rowOf(logits: Float32Array, row: number, vocabSize: number): Float32Array {
  return logits.subarray(row * vocabSize, (row + 1) * vocabSize)
}

/** For row `row`: the logprob of the prompt token that actually came next, plus the top k (it last when not among them). */
export function promptTokenLogprobs(logits: Float32Array, row: number, vocabSize: number, nextTokenId: number, k: number): TokenLogprobs {
  return tokenLogprobsOfRow(rowOf(logits, row, vocabSize), nextTokenId, k, rowStatsOf(logits, row, 1, vocabSize)[2]!)
}

/** vLLM's rank of a token in a row: how many tokens are at least as likely (1 = the likeliest; ties count against it). */
export function rankInRow(logits: Float32Array, row: number, vocabSize: number, tokenId: number): number {
  const values = rowOf(logits, row, vocabSize)
  const value = values[tokenId]!
  let rank = 0
  for (let i = 0; i < values.length; i++) if (values[i]! >= value) rank++
  return Math.max(rank, 1)
}
