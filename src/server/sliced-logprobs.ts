// The logprobs shapes of logprobs-format.ts built a slice of positions at a time (ReplySlicer), for replies whose
// logprobs run to thousands of positions: the same entries, with the event loop given back between slices.
import type {TokenLogprobs} from '../engine/sequence.js'
import type {TokenizerLike} from './engine-like.js'
import {type ChatTokenLogprob, chatLogprobs, type CompletionLogprobs, completionLogprobs, promptLogprobsField, type PromptTokenLogprob, type TokenNamer} from './logprobs-format.js'
import type {ReplySlicer} from './reply-slices.js'

export async function completionLogprobsInSlices(
  slicer: ReplySlicer,
  name: TokenNamer,
  textOf: TokenNamer,
  tokenIds: readonly number[],
  tokenLogprobs: readonly (TokenLogprobs | null)[],
  topCount: number,
  startOffset: number,
): Promise<CompletionLogprobs> {
  const result: CompletionLogprobs = {tokens: [], token_logprobs: [], top_logprobs: [], text_offset: []}
  let offset = startOffset
  await slicer.inRanges(tokenIds.length, topCount + 1, (start, end) => {
    const ids = tokenIds.slice(start, end)
    const part = completionLogprobs(name, textOf, ids, tokenLogprobs.slice(start, end), topCount, offset)
    for (const id of ids) offset += textOf(id).length
    result.tokens.push(...part.tokens)
    result.token_logprobs.push(...part.token_logprobs)
    result.top_logprobs.push(...part.top_logprobs)
    result.text_offset.push(...part.text_offset)
    return []
  })
  return result
}

export async function chatLogprobsInSlices(
  slicer: ReplySlicer,
  tokenizer: TokenizerLike,
  name: TokenNamer,
  tokenIds: readonly number[],
  tokenLogprobs: readonly TokenLogprobs[],
  topCount: number,
): Promise<{content: ChatTokenLogprob[]}> {
  const build = (start: number, end: number) => chatLogprobs(tokenizer, name, tokenIds.slice(start, end), tokenLogprobs.slice(start, end), topCount).content
  return {content: await slicer.inRanges(tokenIds.length, topCount + 1, build)}
}

export async function promptLogprobsInSlices(
  slicer: ReplySlicer,
  decoded: TokenNamer,
  tokenIds: readonly number[],
  promptLogprobs: readonly (TokenLogprobs | null)[],
  ranks: readonly (number | null)[],
  topCount: number,
): Promise<(Record<string, PromptTokenLogprob> | null)[]> {
  const build = (start: number, end: number) => promptLogprobsField(decoded, tokenIds.slice(start, end), promptLogprobs.slice(start, end), ranks.slice(start, end), topCount)
  return slicer.inRanges(tokenIds.length, topCount + 1, build)
}
