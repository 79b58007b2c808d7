// Decides after each new token whether a sequence stops (EOS, stop token, stop string, max_tokens) and what text it shows.
//
// Order (vLLM's StopChecker): nothing stops before min_tokens; then EOS (unless ignore_eos); then stop_token_ids; then
// stop strings; then max_tokens. EOS and stop tokens also drop their own text unless include_stop_str_in_output.
// Stop strings may span token boundaries: the search covers the new text plus the stop string's length before it.
// When several stop strings match, the earliest in the text wins (vLLM takes the first in the list).
import type {IncrementalDetokenizer} from './detokenizer.js'
import {OutputText} from './output-text.js'
import type {SamplingParams} from './sampling-params.js'

export interface StopCheckInput {
  params: SamplingParams
  /** The token just appended. */
  tokenId: number
  eosTokenIds: readonly number[]
  /** Output tokens including the new one. */
  outputLength: number
  /** The detokenized output so far, the new delta included; only its last characters are read. */
  text: OutputText
  /** The text the new token added (may be '' while a character is incomplete). */
  delta: string
}

export interface StopVerdict {
  finished: 'stop' | 'length' | null
  /** The matched stop string or stop token id; null for EOS, length or not finished. */
  stopReason: string | number | null
  /**
   * How many characters of the text to show now. Finished: the final text's length (cut before a stop string, or
   * after it with include_stop_str_in_output). Not finished: the text minus any tail that could still become a stop
   * string, so a stream never shows text that a later token would take back.
   */
  textLength: number
}

export function checkStop(input: StopCheckInput): StopVerdict {
  const {params, tokenId, outputLength, text, delta} = input
  const keepStopText = params.includeStopStrInOutput
  const running = (): StopVerdict => ({finished: null, stopReason: null, textLength: keepStopText ? text.length : text.length - stopStringHoldback(text.tail(longestStop(params.stop)), params.stop)})
  if (outputLength < params.minTokens) return running()
  const withoutDelta = keepStopText ? text.length : text.length - delta.length
  if (!params.ignoreEos && input.eosTokenIds.includes(tokenId)) return {finished: 'stop', stopReason: null, textLength: withoutDelta}
  if (params.stopTokenIds.includes(tokenId)) return {finished: 'stop', stopReason: tokenId, textLength: withoutDelta}
  const stopped = stopStringVerdict(text, delta.length, params)
  if (stopped !== null) return stopped
  if (outputLength >= params.maxTokens) return {finished: 'length', stopReason: null, textLength: text.length}
  return running()
}

/** checkStop, plus: a grammar ends at its stop token, even with ignore_eos (the grammar allows nothing after it). */
export function sequenceVerdict(input: StopCheckInput): StopVerdict {
  const verdict = checkStop(input)
  if (verdict.finished === null && input.params.guided !== null && input.eosTokenIds.includes(input.tokenId)) {
    verdict.finished = 'stop'
    verdict.stopReason = input.tokenId
  }
  return verdict
}

/** sequenceVerdict of a request without stop strings: token ids alone decide, no text is read. */
export function tokenVerdict(params: SamplingParams, eosTokenIds: readonly number[], tokenId: number, outputLength: number): StopVerdict {
  return sequenceVerdict({params, tokenId, eosTokenIds, outputLength, text: OutputText.whole(), delta: ''})
}

/** Whether `tokenId` ends the sequence and leaves its own text out: EOS or a stop token id, as sequenceVerdict decides. */
export function endsWithoutText(params: SamplingParams, eosTokenIds: readonly number[], tokenId: number, outputLength: number): boolean {
  if (params.includeStopStrInOutput) return false
  const eos = eosTokenIds.includes(tokenId)
  if (eos && params.guided !== null) return true
  return outputLength >= params.minTokens && ((eos && !params.ignoreEos) || params.stopTokenIds.includes(tokenId))
}

/**
 * Detokenizes one more output token (`outputLength` counts it) into the detokenizer's text and decides whether the
 * sequence stops there; the verdict's textLength says how much of that text to show.
 */
export function detokenizeAndCheck(
  params: SamplingParams,
  eosTokenIds: readonly number[],
  detokenizer: Pick<IncrementalDetokenizer, 'push' | 'flush' | 'output'>,
  tokenId: number,
  outputLength: number,
): StopVerdict {
  // A token that ends the sequence without its text is never detokenized (as vLLM V1): pushed, its text would come
  // out together with the bytes held for an incomplete character before it, and the cut would drop both.
  const delta = endsWithoutText(params, eosTokenIds, tokenId, outputLength) ? '' : detokenizer.push([tokenId])
  const verdict = sequenceVerdict({params, tokenId, eosTokenIds, outputLength, text: detokenizer.output, delta})
  // Finished by length or EOS: bytes held back for an incomplete character belong to the returned ids, so they join
  // the text (as U+FFFD if never completed), unless a stop string ends in them. A stop string or stop token already
  // fixed the text's end. (Such a verdict shows the whole text: EOS that ends a sequence is never detokenized.)
  if (verdict.finished === 'length' || (verdict.finished !== null && verdict.stopReason === null)) {
    const held = detokenizer.flush()
    return stopStringVerdict(detokenizer.output, held.length, params) ?? {...verdict, textLength: detokenizer.output.length}
  }
  return verdict
}

/** The sequence ends at a stop string that ends in the last `newLength` characters of `text`; null when none does. */
function stopStringVerdict(text: OutputText, newLength: number, params: Pick<SamplingParams, 'stop' | 'includeStopStrInOutput'>): StopVerdict | null {
  if (newLength === 0 || params.stop.length === 0) return null
  // The search reads the new text and, before it, the longest stop string's length (its start, and the character
  // before that start to tell whether a match would split a UTF-16 pair).
  const window = text.tail(newLength + longestStop(params.stop))
  const match = findStopString(window, newLength, params.stop)
  if (match === null) return null
  const index = text.length - window.length + match.index
  return {finished: 'stop', stopReason: match.stop, textLength: params.includeStopStrInOutput ? index + match.stop.length : index}
}

/** The length of the longest stop string. */
export function longestStop(stop: readonly string[]): number {
  let longest = 0
  for (const candidate of stop) longest = Math.max(longest, candidate.length)
  return longest
}

/** The earliest stop string that ends inside the new text (the last `newLength` characters). */
export function findStopString(text: string, newLength: number, stop: readonly string[]): {stop: string; index: number} | null {
  let best: {stop: string; index: number} | null = null
  for (const candidate of stop) {
    let index = text.indexOf(candidate, Math.max(0, text.length - newLength - candidate.length + 1))
    // A stop string holding a lone surrogate may match half of a character; such a match would cut the character in two.
    while (index >= 0 && (splitsCharacter(text, index) || splitsCharacter(text, index + candidate.length))) index = text.indexOf(candidate, index + 1)
    if (index >= 0 && (best === null || index < best.index)) best = {stop: candidate, index}
  }
  return best
}

/** Whether cutting `text` at `index` separates the two UTF-16 halves of one character. */
function splitsCharacter(text: string, index: number): boolean {
  if (index <= 0 || index >= text.length) return false
  const before = text.charCodeAt(index - 1)
  const after = text.charCodeAt(index)
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff
}

/** How many trailing characters of `text` could be the start of a stop string, and so must not be streamed yet. */
export function stopStringHoldback(text: string, stop: readonly string[]): number {
  let longest = 0
  for (const candidate of stop) {
    for (let length = Math.min(candidate.length - 1, text.length); length > longest; length--) {
      if (text.endsWith(candidate.slice(0, length)) && !splitsCharacter(text, text.length - length)) {
        longest = length
        break
      }
    }
  }
  return longest
}
