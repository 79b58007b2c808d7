// Streaming: the engine's text and tokens are cumulative, so each chunk sends only what a choice gained since the last one.
import {outputLogprobsFrom, outputTextFrom, outputTextLength, outputTokenCount, outputTokenIdsFrom} from '../engine/request-output.js'
import type {TokenLogprobs} from '../engine/sequence.js'
import type {CompletionOutput} from './engine-like.js'

export interface ChoiceDelta {
  text: string
  tokenIds: number[]
  logprobs: TokenLogprobs[]
  /** True for the first chunk of this choice (chat sends the role there, echo the prompt). */
  isFirst: boolean
  finishReason: CompletionOutput['finishReason']
  stopReason: CompletionOutput['stopReason']
}

interface Sent {
  textLength: number
  tokenCount: number
  finished: boolean
}

export class ChoiceDeltas {
  private readonly sent = new Map<number, Sent>()

  /** What `output` adds to choice `choiceIndex`; null when there is nothing new to send. */
  next(choiceIndex: number, output: CompletionOutput): ChoiceDelta | null {
    const sent = this.sent.get(choiceIndex)
    if (sent?.finished) return null
    const textLength = sent?.textLength ?? 0
    const tokenCount = sent?.tokenCount ?? 0
    // Only what is new is read: a long output's chunks cost what they add, not the whole text.
    // Text only grows; if the engine ever trimmed it (a stop string found late) the trimmed part is already sent.
    const length = outputTextLength(output)
    const text = length > textLength ? outputTextFrom(output, textLength) : ''
    const tokenIds = outputTokenIdsFrom(output, tokenCount)
    const finished = output.finishReason !== null
    if (sent && text === '' && tokenIds.length === 0 && !finished) return null
    this.sent.set(choiceIndex, {textLength: Math.max(textLength, length), tokenCount: outputTokenCount(output), finished})
    return {
      text,
      tokenIds,
      logprobs: outputLogprobsFrom(output, tokenCount),
      isFirst: sent === undefined,
      finishReason: output.finishReason,
      stopReason: output.stopReason,
    }
  }
}
