// Bounds runs of whitespace between JSON tokens (outside strings) by masking tokens, so the grammar can allow any run.
//
// Why not in the grammar: xgrammar's bounded form `[ \n\t]{0,16}` unrolls into 16 states whose whitespace tokens it
// must re-check at run time, which made masks cost 100 us - ms there (docs/PERFORMANCE.md); `[ \n\t]*` is one state.
// Small models fall into whitespace loops, so a bound is still needed: a token is banned when its leading whitespace
// would take the current run past the bound.

const JSON_WHITESPACE = new Set([' ', '\n', '\t', '\r'])

export class WhitespaceBound {
  /** bans[n]: tokens whose text starts with more than n whitespace characters (n = room left in the run). */
  private readonly bans: Int32Array[] = []

  constructor(
    /** Decoded text of each token id ('' for none). */
    private readonly decodedVocab: readonly string[],
    vocabSize: number,
    readonly maxRun: number,
  ) {
    const words = Math.ceil(vocabSize / 32)
    for (let room = 0; room <= maxRun; room++) this.bans.push(new Int32Array(words))
    for (let id = 0; id < Math.min(vocabSize, decodedVocab.length); id++) {
      const text = decodedVocab[id]!
      let leading = 0
      while (leading < text.length && JSON_WHITESPACE.has(text[leading]!)) leading++
      for (let room = 0; room < Math.min(leading, maxRun + 1); room++) this.bans[room]![id >>> 5]! |= 1 << (id & 31)
    }
  }

  /** The run state of a new output (at the start of the JSON text, outside any string). */
  start(): WhitespaceRun {
    return new WhitespaceRun(this)
  }

  /**
   * Clears the tokens that would overrun from `mask`, given the whitespace characters already in the run; unless that
   * would leave no token (a vocabulary without a token to continue the JSON otherwise), where the run may go on.
   */
  applyTo(mask: Int32Array, run: number): void {
    const ban = this.bans[Math.max(0, this.maxRun - run)]!
    let left = 0
    for (let w = 0; w < mask.length && left === 0; w++) left = mask[w]! & ~ban[w]!
    if (left === 0) return
    for (let w = 0; w < mask.length; w++) mask[w]! &= ~ban[w]!
  }

  textOf(tokenId: number): string {
    return this.decodedVocab[tokenId] ?? ''
  }
}

/** One output's lexical state: inside a string or not, and the whitespace run at its end. */
export class WhitespaceRun {
  private inString = false
  private escaped = false
  private run = 0

  constructor(private readonly bound: WhitespaceBound) {}

  accept(tokenId: number): void {
    for (const c of this.bound.textOf(tokenId)) {
      if (this.inString) {
        if (this.escaped) this.escaped = false
        else if (c === '\\') this.escaped = true
        else if (c === '"') this.inString = false
      } else if (JSON_WHITESPACE.has(c)) {
        this.run++
      } else {
        this.run = 0
        if (c === '"') this.inString = true
      }
    }
  }

  applyTo(mask: Int32Array): void {
    if (!this.inString) this.bound.applyTo(mask, this.run)
  }
}
