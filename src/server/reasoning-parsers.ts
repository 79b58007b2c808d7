// vLLM's --reasoning-parser names: which chats have their thinking split out of the reply, and the whole-reply split.
//
// Both families think inside <think>...</think>, and follow vLLM's current rules:
// - deepseek_r1 (DeepSeek-R1 and its distills, QwQ): R1's template puts <think> in the prompt, so text up to
//   </think> is reasoning whether or not the output opens with the tag; no </think> at all: all reasoning
//   (the thinking was cut short, by max_tokens say).
// - qwen3: the same split (Qwen3 writes <think> itself; Qwen3.5 and the -Thinking templates put it in the prompt),
//   except with chat_template_kwargs enable_thinking: false the template closes an empty thinking block in the
//   prompt, and the whole output is content.
import {InvalidRequestError} from '../engine/errors.js'
import type {TokenizerLike} from './engine-like.js'
import {type ReasoningTags, ReasoningSplitter} from './reasoning-deltas.js'

export const REASONING_PARSERS = ['deepseek_r1', 'qwen3'] as const
export type ReasoningParserName = (typeof REASONING_PARSERS)[number]

const THINK_TAGS: ReasoningTags = {start: '<think>', end: '</think>'}

/** The tags to split this request's reply at; null when the reply is plain content (no parser, or thinking off). */
export function reasoningTagsFor(parser: ReasoningParserName | null, chatTemplateKwargs: Record<string, unknown> | undefined): ReasoningTags | null {
  if (parser === null) return null
  if (parser === 'qwen3' && chatTemplateKwargs?.enable_thinking === false) return null
  return THINK_TAGS
}

/** The message fields of a whole reply: vLLM's `reasoning` and its older name `reasoning_content` (null when empty), and the content. */
export function splitReasoning(text: string, tags: ReasoningTags): {reasoning: string | null; content: string} {
  const {reasoning, content} = new ReasoningSplitter(tags).push(text, true)
  return {reasoning: reasoning === '' ? null : reasoning, content}
}

/**
 * How many of a reply's tokens are its reasoning (vLLM's usage.completion_tokens_details.reasoning_tokens): the tokens
 * whose text lies wholly between the start tag (or the output's start) and the end tag (or its end). Found by a binary
 * search over decoded prefixes, as tags may span tokens; O(log n) decodes.
 */
export function reasoningTokenCount(tokenizer: TokenizerLike, tokenIds: readonly number[], text: string, tags: ReasoningTags, skipSpecialTokens: boolean): number {
  const splitter = new ReasoningSplitter(tags)
  const {reasoning, content} = splitter.push(text, true)
  const end = text.length - content.length - (splitter.reasoningEnded ? tags.end.length : 0)
  const tokensWithin = (chars: number) => {
    // The most leading tokens whose text fits in `chars` characters.
    let low = 0
    let high = tokenIds.length
    while (low < high) {
      const middle = Math.ceil((low + high) / 2)
      if (tokenizer.decode(tokenIds.slice(0, middle), {skipSpecialTokens}).length <= chars) low = middle
      else high = middle - 1
    }
    return low
  }
  return reasoning === '' ? 0 : tokensWithin(end) - tokensWithin(end - reasoning.length)
}

/** The reasoning fields as a reply carries them: both names, as vLLM's clients read one or the other. */
export function reasoningFields(reasoning: string | null): {reasoning: string | null; reasoning_content: string | null} {
  return {reasoning, reasoning_content: reasoning}
}

/**
 * Whether a tag is a special token of this tokenizer, which skip_special_tokens would drop from the text before the
 * split could see it (DeepSeek-R1's and Qwen3's tokenizers keep them as plain added tokens; others may not).
 */
export function tagsAreSpecialTokens(tokenizer: TokenizerLike, tags: ReasoningTags): boolean {
  return [tags.start, tags.end].some((tag) => {
    const ids = tokenizer.encode(tag, {addSpecialTokens: false})
    return ids.length === 1 && tokenizer.decode(ids, {skipSpecialTokens: true}) === '' && tokenizer.decode(ids, {skipSpecialTokens: false}) === tag
  })
}

/**
 * A grammar (response_format, structured_outputs, forced tools) holds the answer, not the thinking: as vLLM, it applies
 * from the token after the end tag, so the tag must be one token of the vocabulary (vLLM's parsers ask the same).
 * Null when the request has no grammar.
 */
export function grammarStartTokenId(tokenizer: TokenizerLike, tags: ReasoningTags, guidedParam: string | undefined, parser: ReasoningParserName): number | null {
  if (guidedParam === undefined) return null
  const ids = tokenizer.encode(tags.end, {addSpecialTokens: false})
  if (ids.length === 1) return ids[0]!
  throw new InvalidRequestError(
    `'${guidedParam}' with the server's --reasoning-parser ${parser} applies once the reasoning ends, at its ${tags.end} token, but this model's vocabulary has no such token (it spells the tag in ${ids.length}); send the request without it, or use a server without --reasoning-parser`,
    {param: guidedParam},
  )
}
