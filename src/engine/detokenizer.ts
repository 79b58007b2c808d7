// Incremental detokenization for streaming: turns each new batch of output tokens into the text it adds.
//
// Decoding one token alone is wrong in two ways, so a small window is decoded instead (vLLM's scheme):
// - SentencePiece decoders strip the leading space of a decode, so the first output token is decoded after a few
//   prompt tokens of context, and a token always after the tokens before it;
// - byte-fallback tokens (<0xF0><0x9F>...) and byte-level BPE pieces carry parts of one UTF-8 character; while the
//   window's text ends in U+FFFD the character is incomplete and the text is held back until it completes;
//   when the sequence finishes, flush() releases what is still held (U+FFFD for a character that never completed),
//   so the final text is what decoding the returned ids gives;
// - clean_up_tokenization_spaces would take back a space already sent (" ," -> ","), so windows decode without it, as
//   vLLM's incremental detokenizer does.
// The delta is the text of [prefixOffset, end) minus the text of [prefixOffset, readOffset), the part already sent.
// Ids that decode to nothing (special tokens when they are skipped, ids the tokenizer lacks) never enter the window: a
// decode drops them anyway, and a long run of them (ignore_eos generating EOS) would otherwise grow the window that
// every step decodes.
import type {Tokenizer} from './model/tokenizer.js'
import {OutputText} from './output-text.js'

/** Prompt tokens decoded before the first output token (vLLM uses 5): enough for the decoder to see mid-text spacing. */
const CONTEXT_TOKENS = 5
const REPLACEMENT_CHARACTER = '\uFFFD'

export class IncrementalDetokenizer {
  /** The decode window: tokens from the start of the previously emitted piece on; older tokens are dropped. */
  private window: number[]
  private prefixOffset = 0
  private readOffset: number
  /** All output text emitted so far (`opts.text`: a caller's text, e.g. a tail-only one). */
  private emitted: OutputText

  constructor(
    private readonly tokenizer: Pick<Tokenizer, 'decode' | 'specialTokenIds' | 'hasToken'>,
    promptTokenIds: readonly number[],
    private readonly opts: {skipSpecialTokens: boolean; text?: OutputText},
  ) {
    this.emitted = opts.text ?? OutputText.whole()
    this.window = promptTokenIds.slice(-CONTEXT_TOKENS)
    // A prompt (given as ids) may end inside a character; output bytes completing it would be sliced off the text of a
    // context that shows U+FFFD, leaving half of a UTF-16 pair. Such bytes stay out of the context: the output's own
    // bytes then decode on their own, as the output ids do.
    const decode = (ids: number[]) => this.tokenizer.decode(ids, {skipSpecialTokens: this.opts.skipSpecialTokens, cleanUpSpaces: false})
    while (this.window.length > 0 && decode(this.window).endsWith(REPLACEMENT_CHARACTER)) this.window.pop()
    this.readOffset = this.window.length
  }

  /** Appends tokens and returns the text they complete ('' while a character is still incomplete). */
  push(tokenIds: readonly number[]): string {
    const before = this.window.length
    for (const id of tokenIds) if (!this.decodesToNothing(id)) this.window.push(id)
    return this.window.length === before ? '' : this.emit(false)
  }

  private decodesToNothing(id: number): boolean {
    return (this.opts.skipSpecialTokens && this.tokenizer.specialTokenIds.has(id)) || !this.tokenizer.hasToken(id)
  }

  /** Releases the text still held back at the end of a sequence, incomplete characters as U+FFFD; '' if none. */
  flush(): string {
    return this.emit(true)
  }

  private emit(final: boolean): string {
    const decode = (ids: number[]) => this.tokenizer.decode(ids, {skipSpecialTokens: this.opts.skipSpecialTokens, cleanUpSpaces: false})
    const sentText = decode(this.window.slice(this.prefixOffset, this.readOffset))
    const fullText = decode(this.window.slice(this.prefixOffset))
    if (fullText.length <= sentText.length || (!final && fullText.endsWith(REPLACEMENT_CHARACTER))) return ''
    const delta = fullText.slice(sentText.length)
    this.emitted.append(delta)
    // The emitted piece becomes the next context; tokens before it are no longer needed.
    this.window = this.window.slice(this.readOffset)
    this.prefixOffset = 0
    this.readOffset = this.window.length
    return delta
  }

  /** An independent copy in the same state (a beam forks, or a candidate token is tried without committing it). */
  clone(): IncrementalDetokenizer {
    const copy = Object.create(IncrementalDetokenizer.prototype) as IncrementalDetokenizer
    Object.assign(copy, this)
    copy.window = [...this.window]
    copy.emitted = this.emitted.clone()
    return copy
  }

  /** All output text emitted so far, in pieces: stop checks read its end. */
  get output(): OutputText {
    return this.emitted
  }

  /** All output text emitted so far, as one string. */
  get text(): string {
    return this.emitted.toString()
  }
}
