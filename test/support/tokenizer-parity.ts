// Compares our tokenizer and streaming detokenizer with Hugging Face's answers for one text (a parity case).
import {IncrementalDetokenizer} from '../../src/engine/detokenizer.js'
import type {Tokenizer} from '../../src/engine/model/tokenizer.js'

/** What transformers gives for one text: ids with and without special tokens, and the decode of `ids` both ways. */
export interface ParityCase {
  text: string
  ids: number[]
  plainIds: number[]
  decoded: string
  decodedSkip: string
}

export interface ParityMismatch {
  check: 'encode' | 'encode-plain' | 'decode' | 'decode-skip' | 'stream' | 'stream-skip' | 'stream-after-prompt'
  text: string
  expected: unknown
  actual: unknown
}

const sameIds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((id, i) => id === b[i])

/** Feeds `ids` one at a time after `prompt` and returns the concatenated deltas, the flush included. */
export function streamText(tokenizer: Tokenizer, prompt: readonly number[], ids: readonly number[], skipSpecialTokens: boolean): string {
  const detokenizer = new IncrementalDetokenizer(tokenizer, prompt, {skipSpecialTokens})
  let text = ''
  for (const id of ids) text += detokenizer.push([id])
  return text + detokenizer.flush()
}

/** Every way our answer differs from transformers' for this case (empty when they agree). */
export function parityMismatches(tokenizer: Tokenizer, c: ParityCase): ParityMismatch[] {
  const found: ParityMismatch[] = []
  const expect = (check: ParityMismatch['check'], expected: unknown, actual: unknown, same: boolean) => {
    if (!same) found.push({check, text: c.text, expected, actual})
  }
  const ids = tokenizer.encode(c.text)
  expect('encode', c.ids, ids, sameIds(ids, c.ids))
  const plainIds = tokenizer.encode(c.text, {addSpecialTokens: false})
  expect('encode-plain', c.plainIds, plainIds, sameIds(plainIds, c.plainIds))
  const decoded = tokenizer.decode(c.ids)
  expect('decode', c.decoded, decoded, decoded === c.decoded)
  const decodedSkip = tokenizer.decode(c.ids, {skipSpecialTokens: true})
  expect('decode-skip', c.decodedSkip, decodedSkip, decodedSkip === c.decodedSkip)
  // A whole sequence streamed from an empty prompt reads as its full decode.
  const streamed = streamText(tokenizer, [], c.ids, false)
  expect('stream', c.decoded, streamed, streamed === c.decoded)
  const streamedSkip = streamText(tokenizer, [], c.ids, true)
  expect('stream-skip', c.decodedSkip, streamedSkip, streamedSkip === c.decodedSkip)
  // After a prompt (the first half), the output's text is what the full decode adds to the prompt's, where the
  // prompt's text is a prefix of it that does not end inside a character.
  const half = c.ids.length >> 1
  const promptText = tokenizer.decode(c.ids.slice(0, half), {skipSpecialTokens: true})
  if (half > 0 && c.decodedSkip.startsWith(promptText) && !promptText.endsWith('\ufffd')) {
    const expected = c.decodedSkip.slice(promptText.length)
    const actual = streamText(tokenizer, c.ids.slice(0, half), c.ids.slice(half), true)
    expect('stream-after-prompt', expected, actual, actual === expected)
  }
  return found
}
