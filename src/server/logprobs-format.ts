// Turns the engine's per-token logprob maps into OpenAI's two logprobs shapes (legacy completions and chat).
import type {TokenLogprobs} from '../engine/sequence.js'
import type {TokenizerLike} from './engine-like.js'

export interface CompletionLogprobs {
  tokens: string[]
  token_logprobs: (number | null)[]
  top_logprobs: (Record<string, number> | null)[]
  text_offset: number[]
}

export interface ChatTokenLogprob {
  token: string
  logprob: number
  bytes: number[]
  top_logprobs: {token: string; logprob: number; bytes: number[]}[]
}

/** vLLM reports a logprob below -9999 (a -inf logit) as -9999.0: JSON has no -Infinity (it would print null). NaN (a broken model) too. */
export function reportedLogprob(logprob: number): number {
  return logprob >= -9999 ? logprob : -9999
}

function tokenText(tokenizer: TokenizerLike, tokenId: number): string {
  return tokenizer.decode([tokenId], {skipSpecialTokens: false})
}

/** Best first, at most `limit`. */
function ranked(logprobs: TokenLogprobs, limit: number): [number, number][] {
  return [...logprobs.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit)
}

/**
 * Legacy shape. `tokenLogprobs[i]` is null where the engine has none (the first prompt token);
 * `startOffset` is where the first token's text starts in the full text the client sees.
 */
export function completionLogprobs(
  tokenizer: TokenizerLike,
  tokenIds: readonly number[],
  tokenLogprobs: readonly (TokenLogprobs | null)[],
  topCount: number,
  startOffset: number,
): CompletionLogprobs {
  const result: CompletionLogprobs = {tokens: [], token_logprobs: [], top_logprobs: [], text_offset: []}
  let offset = startOffset
  tokenIds.forEach((tokenId, position) => {
    const text = tokenText(tokenizer, tokenId)
    const logprobs = tokenLogprobs[position] ?? null
    result.tokens.push(text)
    result.text_offset.push(offset)
    offset += text.length
    const logprob = logprobs?.get(tokenId)
    result.token_logprobs.push(logprob === undefined ? null : reportedLogprob(logprob))
    // Several ids can decode to the same text; keep the likelier one under that key.
    result.top_logprobs.push(
      logprobs === null
        ? null
        : Object.fromEntries(ranked(logprobs, Math.max(topCount, 1)).reverse().map(([id, logprob]) => [tokenText(tokenizer, id), reportedLogprob(logprob)])),
    )
  })
  return result
}

export function chatLogprobs(
  tokenizer: TokenizerLike,
  tokenIds: readonly number[],
  tokenLogprobs: readonly TokenLogprobs[],
  topCount: number,
): {content: ChatTokenLogprob[]} {
  const entry = (tokenId: number, logprob: number) => {
    const token = tokenText(tokenizer, tokenId)
    // The token's own bytes, as OpenAI gives them: one that is half a character still adds up to the text with its neighbours.
    return {token, logprob: reportedLogprob(logprob), bytes: [...tokenizer.tokenBytes(tokenId)]}
  }
  return {
    content: tokenIds.map((tokenId, position) => {
      const logprobs = tokenLogprobs[position]
      return {
        ...entry(tokenId, logprobs?.get(tokenId) ?? -Infinity),
        top_logprobs: logprobs ? ranked(logprobs, topCount).map(([id, logprob]) => entry(id, logprob)) : [],
      }
    }),
  }
}
