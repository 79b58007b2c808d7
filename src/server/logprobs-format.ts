// Turns the engine's per-token logprob maps into OpenAI's two logprobs shapes (legacy completions and chat) and vLLM's prompt_logprobs.
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

/** vLLM's Logprob as prompt_logprobs report it (rank 1 = likeliest; null only where no rank is known). */
export interface PromptTokenLogprob {
  logprob: number
  rank: number | null
  decoded_token: string
}

/** How a token is named in logprobs: its text, or 'token_id:<id>' (vLLM's return_tokens_as_token_ids). */
export type TokenNamer = (tokenId: number) => string

// ignoreBOM: a token that is U+FEFF keeps it (by default the decoder drops a leading BOM).
const utf8 = new TextDecoder('utf-8', {ignoreBOM: true})

/**
 * A token's text is the text it adds to the reply, its bytes decoded (half a UTF-8 character is U+FFFD), so the tokens
 * of a reply join into its text and a chat token's `bytes` spell it. Decoding the id alone would drop a SentencePiece
 * token's leading space ("▁to" -> "to"), since a decoder strips the space that starts a text.
 */
export function tokenNamer(tokenizer: TokenizerLike, asIds: boolean): TokenNamer {
  return asIds ? (tokenId) => `token_id:${tokenId}` : tokenText(tokenizer)
}

/** The text a token adds to the reply: what text_offset counts, however the token is named. */
export function tokenText(tokenizer: TokenizerLike): TokenNamer {
  return cachedById((tokenId) => utf8.decode(tokenizer.tokenBytes(tokenId)))
}

/** prompt_logprobs' decoded_token: the id decoded alone, special tokens kept. */
export function decodedToken(tokenizer: TokenizerLike): TokenNamer {
  return cachedById((tokenId) => tokenizer.decode([tokenId], {skipSpecialTokens: false}))
}

/** A namer that works out each id once (a reply names the same top tokens at most positions); bounded by the vocabulary. */
function cachedById(name: TokenNamer): TokenNamer {
  const names = new Map<number, string>()
  return (tokenId) => {
    let text = names.get(tokenId)
    if (text === undefined) names.set(tokenId, (text = name(tokenId)))
    return text
  }
}

/** vLLM reports a logprob below -9999 (a -inf logit) as -9999.0: JSON has no -Infinity (it would print null). NaN (a broken model) too. */
export function reportedLogprob(logprob: number): number {
  return logprob >= -9999 ? logprob : -9999
}

/** Best first, at most `limit`. */
function ranked(logprobs: TokenLogprobs, limit: number): [number, number][] {
  return [...logprobs.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit)
}

/**
 * Legacy shape. `tokenLogprobs[i]` is null where the engine has none (the first prompt token); `startOffset` is where
 * the first token's text starts, and each offset moves on by the token's text (`textOf`), so text_offset points into
 * the text even when tokens are named by id. As vLLM, each position's top_logprobs holds the `topCount` likeliest
 * tokens and the chosen one (so logprobs: 0 gives the chosen token alone).
 */
export function completionLogprobs(
  name: TokenNamer,
  textOf: TokenNamer,
  tokenIds: readonly number[],
  tokenLogprobs: readonly (TokenLogprobs | null)[],
  topCount: number,
  startOffset: number,
): CompletionLogprobs {
  const result: CompletionLogprobs = {tokens: [], token_logprobs: [], top_logprobs: [], text_offset: []}
  let offset = startOffset
  tokenIds.forEach((tokenId, position) => {
    const text = name(tokenId)
    const logprobs = tokenLogprobs[position] ?? null
    result.tokens.push(text)
    result.text_offset.push(offset)
    offset += textOf(tokenId).length
    const logprob = logprobs?.get(tokenId)
    result.token_logprobs.push(logprob === undefined ? null : reportedLogprob(logprob))
    if (logprobs === null) return result.top_logprobs.push(null)
    const top = ranked(logprobs, topCount)
    if (logprob !== undefined && !top.some(([id]) => id === tokenId)) top.push([tokenId, logprob])
    // Several ids can decode to the same text; keep the likelier one under that key.
    result.top_logprobs.push(Object.fromEntries(top.sort((a, b) => a[1] - b[1]).map(([id, value]) => [name(id), reportedLogprob(value)])))
  })
  return result
}

/** Two spans of the legacy shape as one (echo: the prompt's, then the completion's). */
export function concatLogprobs(first: CompletionLogprobs, second: CompletionLogprobs): CompletionLogprobs {
  return {
    tokens: [...first.tokens, ...second.tokens],
    token_logprobs: [...first.token_logprobs, ...second.token_logprobs],
    top_logprobs: [...first.top_logprobs, ...second.top_logprobs],
    text_offset: [...first.text_offset, ...second.text_offset],
  }
}

export function chatLogprobs(
  tokenizer: TokenizerLike,
  name: TokenNamer,
  tokenIds: readonly number[],
  tokenLogprobs: readonly TokenLogprobs[],
  topCount: number,
): {content: ChatTokenLogprob[]} {
  const entry = (tokenId: number, logprob: number) => {
    const token = name(tokenId)
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

/**
 * vLLM's prompt_logprobs: per prompt position null (the first) or {"<token id>": {logprob, rank, decoded_token}} for the
 * prompt's token and the top k. The top k rank 1..k; the prompt token has the rank the engine counted over its row
 * (`ranks`), or its place in the top k where no count came with it, else null. `decoded` names a token (decodedToken).
 */
export function promptLogprobsField(
  decoded: TokenNamer,
  tokenIds: readonly number[],
  promptLogprobs: readonly (TokenLogprobs | null)[],
  ranks: readonly (number | null)[],
  topCount: number,
): (Record<string, PromptTokenLogprob> | null)[] {
  return tokenIds.map((tokenId, position) => {
    const logprobs = promptLogprobs[position] ?? null
    if (logprobs === null) return null
    const top = ranked(logprobs, topCount)
    const field: Record<string, PromptTokenLogprob> = {}
    const add = (id: number, logprob: number, rank: number | null) =>
      (field[id] = {logprob: reportedLogprob(logprob), rank, decoded_token: decoded(id)})
    const ownRank = top.findIndex(([id]) => id === tokenId)
    add(tokenId, logprobs.get(tokenId) ?? -Infinity, ranks[position] ?? (ownRank >= 0 ? ownRank + 1 : null))
    top.forEach(([id, logprob], index) => add(id, logprob, index + 1))
    return field
  })
}
