// Splits a choice's text, as it streams, into reasoning (the model's thinking) and content at the reasoning end tag.
//
// One state machine serves both replies: the JSON reply runs the whole text through it at once, so a stream's
// reasoning and content always join to what the JSON reply says. A tag split across tokens is held back until it
// is whole (or cannot be), so no part of `<think>` / `</think>` leaks into either field.

export interface ReasoningTags {
  start: string
  end: string
}

/** What one piece of text adds to each field ('' = nothing). */
export interface ReasoningPiece {
  reasoning: string
  content: string
}

/**
 * 'opening': nothing but whitespace and maybe part of the start tag seen so far (the model may write the tag itself,
 * or the template put it in the prompt); 'reasoning': up to the end tag; 'content': after it.
 */
type Phase = 'opening' | 'reasoning' | 'content'

export class ReasoningSplitter {
  private phase: Phase = 'opening'
  /** Text received but not yet given to a field: a possible tag's beginning. */
  private held = ''
  /**
   * Whether `held` is whitespace only (opening: no tag or text yet). Then only the new text is trimmed: a trimStart
   * of all that was held, on every delta, was quadratic in an output of whitespace (8 s for 160,000 spaces).
   */
  private heldIsSpace = true

  constructor(private readonly tags: ReasoningTags) {}

  /** Whether the end tag has been seen (what follows is the answer). */
  get reasoningEnded(): boolean {
    return this.phase === 'content'
  }

  /** Takes the next text of the choice; `finished` releases whatever is held. */
  push(text: string, finished: boolean): ReasoningPiece {
    let pending = this.held + text
    this.held = ''
    let reasoning = ''
    if (this.phase === 'opening') {
      const start = this.heldIsSpace ? text.trimStart() : pending.trimStart()
      if (start.startsWith(this.tags.start)) {
        // The tag the model wrote opens the reasoning; it and the whitespace before it are not text of either field.
        pending = start.slice(this.tags.start.length)
        this.phase = 'reasoning'
      } else if (!finished && this.tags.start.startsWith(start)) {
        this.held = pending
        this.heldIsSpace = start === ''
        return {reasoning: '', content: ''}
      } else {
        this.phase = 'reasoning'
      }
    }
    if (this.phase === 'reasoning') {
      const end = pending.indexOf(this.tags.end)
      if (end < 0) {
        const keep = finished ? 0 : tagPrefixAtEnd(pending, this.tags.end)
        this.held = pending.slice(pending.length - keep)
        return {reasoning: pending.slice(0, pending.length - keep), content: ''}
      }
      reasoning = pending.slice(0, end)
      pending = pending.slice(end + this.tags.end.length)
      this.phase = 'content'
    }
    return {reasoning, content: pending}
  }
}

/** The length of the longest end of `text` that begins `tag` (shorter than the tag: a whole one was looked for). */
function tagPrefixAtEnd(text: string, tag: string): number {
  for (let length = Math.min(tag.length - 1, text.length); length > 0; length--) {
    if (text.endsWith(tag.slice(0, length))) return length
  }
  return 0
}
