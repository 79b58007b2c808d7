// Keeps guided outputs valid UTF-8 by masking tokens, since the grammar engine takes any byte run shaped like a character.
//
// Why: xgrammar matches a character class such as JSON's string character byte by byte and accepts overlong forms
// (C0 B1), code points past U+10FFFF (F4 A0 ..) and surrogates (ED A0 ..). With byte-level or byte-fallback tokens a
// sampled output then holds bytes that are no text: they decode to U+FFFD, and a JSON string's maxLength or pattern no
// longer holds for the text the client parses. The state is the part of a character still owed, so the ban follows
// the token boundary wherever it falls inside a character.
import {tokenBytes} from '../model/token-bytes.js'
import type {DecoderKind} from '../model/tokenizer.js'

/** Where a UTF-8 decoder stands: bytes still owed for the current character, and the range the next one must be in. */
interface Utf8State {
  owed: number
  low: number
  high: number
}

/** The start of a character, then the states after each kind of lead byte (RFC 3629's table). */
const STATES: readonly Utf8State[] = [
  {owed: 0, low: 0, high: 0},
  {owed: 1, low: 0x80, high: 0xbf},
  {owed: 2, low: 0x80, high: 0xbf},
  {owed: 2, low: 0xa0, high: 0xbf}, // after E0: no overlong 3-byte forms
  {owed: 2, low: 0x80, high: 0x9f}, // after ED: no surrogates
  {owed: 3, low: 0x80, high: 0xbf},
  {owed: 3, low: 0x90, high: 0xbf}, // after F0: no overlong 4-byte forms
  {owed: 3, low: 0x80, high: 0x8f}, // after F4: nothing past U+10FFFF
]
const INVALID = -1

/** The state after `byte` in state `state`, or INVALID. */
function nextState(state: number, byte: number): number {
  const {owed, low, high} = STATES[state]!
  if (owed > 0) return byte < low || byte > high ? INVALID : owed === 3 ? 2 : owed === 2 ? 1 : 0
  if (byte < 0x80) return 0
  if (byte >= 0xc2 && byte <= 0xdf) return 1
  if (byte === 0xe0) return 3
  if (byte === 0xed) return 4
  if (byte >= 0xe1 && byte <= 0xef) return 2
  if (byte === 0xf0) return 6
  if (byte >= 0xf1 && byte <= 0xf3) return 5
  if (byte === 0xf4) return 7
  return INVALID // continuation bytes with nothing owed, C0, C1, F5..FF
}

export class Utf8Bound {
  private readonly bytes: Uint8Array[]
  /** bans[s]: tokens whose bytes cannot follow state s. */
  private readonly bans: Int32Array[]
  /** banWords[s]: the words of bans[s] that ban something (few at a character's start, the usual state). */
  private readonly banWords: Int32Array[]

  /** `vocab` as xgrammar gets it ('' for special tokens, which add no bytes). */
  constructor(vocab: readonly string[], vocabType: DecoderKind['vocabType']) {
    this.bytes = vocab.map((token) => tokenBytes(token, vocabType))
    const words = Math.ceil(vocab.length / 32)
    this.bans = STATES.map((_, state) => {
      const ban = new Int32Array(words)
      this.bytes.forEach((bytes, id) => {
        if (this.after(state, id) === INVALID) ban[id >>> 5]! |= 1 << (id & 31)
      })
      return ban
    })
    this.banWords = this.bans.map((ban) => Int32Array.from(ban.keys()).filter((w) => ban[w] !== 0))
  }

  after(state: number, tokenId: number): number {
    for (const byte of this.bytes[tokenId] ?? []) {
      state = nextState(state, byte)
      if (state === INVALID) return INVALID
    }
    return state
  }

  /** Clears the tokens that cannot follow `state` from `mask`, unless that would leave none (the grammar's choice then stands). */
  applyTo(mask: Int32Array, state: number): void {
    const ban = this.bans[state]!
    let left = 0
    for (let w = 0; w < mask.length && left === 0; w++) left = mask[w]! & ~ban[w]!
    if (left === 0) return
    for (const w of this.banWords[state]!) mask[w]! &= ~ban[w]!
  }

  start(): Utf8Run {
    return new Utf8Run(this)
  }
}

/** One output's place in its current character. */
export class Utf8Run {
  private state = 0

  constructor(private readonly bound: Utf8Bound) {}

  accept(tokenId: number): void {
    // A token let through anyway (no valid one was left) restarts at a character boundary.
    this.state = Math.max(0, this.bound.after(this.state, tokenId))
  }

  applyTo(mask: Int32Array): void {
    this.bound.applyTo(mask, this.state)
  }
}
