// A sequence's output text, held as the pieces the detokenizer appended.
//
// Per-token work must not grow with the output: appending a piece, reading the last few characters (stop strings) or
// the characters after an offset (a stream's delta) touch only those pieces. The whole string is joined only when a
// caller asks for it, and the join is kept until the next append.
// A tail-only text (`OutputText.tailOnly`) forgets what lies far enough back: a beam tries each candidate token on a
// copy, which then costs the tail, not the whole output.
export class OutputText {
  private pieces: string[] = []
  /** Characters in `pieces`. */
  private held = 0
  /** Characters forgotten from the front (tail-only texts). */
  private forgotten = 0
  /** pieces.join(''), until the next change. */
  private joined: string | null = ''

  /** `keep`: how many characters before a new piece a tail-only text still holds. */
  protected constructor(private readonly keep: number) {}

  static whole(): OutputText {
    return new OutputText(Infinity)
  }

  /** A text that keeps only its newest piece and the `keep` characters before it: tail(n) works for n up to that. */
  static tailOnly(keep: number): OutputText {
    return new OutputText(keep)
  }

  get length(): number {
    return this.forgotten + this.held
  }

  append(piece: string): void {
    if (piece === '') return
    while (this.pieces.length > 0 && this.held - this.pieces[0]!.length >= this.keep) {
      const dropped = this.pieces.shift()!
      this.held -= dropped.length
      this.forgotten += dropped.length
    }
    this.pieces.push(piece)
    this.held += piece.length
    this.joined = null
  }

  /** The last `count` characters (all of them if fewer). */
  tail(count: number): string {
    return this.from(Math.max(0, this.length - count))
  }

  /** The characters from `start` on: reads only the pieces at or after it. */
  from(start: number): string {
    if (start >= this.length) return ''
    if (start < this.forgotten) throw new RangeError(`OutputText: characters before ${this.forgotten} were forgotten (asked from ${start})`)
    if (this.joined !== null) return this.joined.slice(start - this.forgotten)
    let index = this.pieces.length
    let pieceStart = this.length
    while (pieceStart > start) pieceStart -= this.pieces[--index]!.length
    // The piece `start` falls in may be a long one (a join kept as one piece): sliced, it is not copied.
    const first = this.pieces[index]!.slice(start - pieceStart)
    return index + 1 === this.pieces.length ? first : first + this.pieces.slice(index + 1).join('')
  }

  /** The whole text, joined once and kept (as one piece) until the next change. */
  toString(): string {
    if (this.forgotten > 0) throw new RangeError('OutputText: a tail-only text has no whole string')
    if (this.joined === null) {
      this.joined = this.pieces.join('')
      this.pieces = this.joined === '' ? [] : [this.joined]
    }
    return this.joined
  }

  /** The first `length` characters. */
  prefix(length: number): string {
    return length >= this.length ? this.toString() : this.toString().slice(0, length)
  }

  /** An independent copy: costs its pieces, which for a tail-only text are the tail's. */
  clone(): OutputText {
    const copy = new OutputText(this.keep)
    copy.pieces = [...this.pieces]
    copy.held = this.held
    copy.forgotten = this.forgotten
    copy.joined = this.joined
    return copy
  }
}
