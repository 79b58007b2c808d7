// Strict UTF-8: the scan that says where bytes stop being UTF-8 agrees with TextDecoder's fatal mode on what is UTF-8.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {decodeUtf8Strictly, firstInvalidUtf8Offset, InvalidUtf8Error} from '../src/engine/strict-utf8.js'
import {makeRng} from '../src/engine/random.js'

describe('strict UTF-8', () => {
  it('finds the start of the first ill-formed sequence: overlong, surrogate, past U+10FFFF, stray, truncated', () => {
    const cases: [number[], number][] = [
      [[0x61, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80], -1], // a, €, 😀
      [[0x61, 0xc0, 0x80], 1],
      [[0xe0, 0x80, 0x80], 0],
      [[0x61, 0x62, 0xed, 0xa0, 0x80], 2],
      [[0xf4, 0x90, 0x80, 0x80], 0],
      [[0x61, 0x80], 1],
      [[0x61, 0xe2, 0x82], 1],
      [[0xe2, 0x82, 0x61], 0],
    ]
    for (const [bytes, offset] of cases) assert.equal(firstInvalidUtf8Offset(Uint8Array.from(bytes)), offset, bytes.join(','))
    assert.throws(() => decodeUtf8Strictly(Uint8Array.from([0x68, 0x69, 0xff])), (error) => error instanceof InvalidUtf8Error && error.offset === 2 && error.message === 'not UTF-8 text: invalid byte 0xff at byte offset 2 of 3')
    assert.equal(decodeUtf8Strictly(Buffer.from('héllo €', 'utf8')), 'héllo €')
  })

  it('agrees with TextDecoder fatal on random bytes, and the text before the offset decodes', () => {
    const rng = makeRng(7, 0)
    const fatal = new TextDecoder('utf-8', {fatal: true})
    for (let n = 0; n < 3000; n++) {
      // Mostly bytes of multi-byte sequences, so well-formed and ill-formed ones both come up often.
      const bytes = Uint8Array.from({length: 1 + Math.floor(rng.nextFloat() * 8)}, () => (rng.nextFloat() < 0.3 ? 0x61 : 0x80 + Math.floor(rng.nextFloat() * 0x80)))
      const offset = firstInvalidUtf8Offset(bytes)
      let valid = true
      try {
        fatal.decode(bytes)
      } catch {
        valid = false
      }
      assert.equal(offset === -1, valid, Array.from(bytes).join(','))
      if (offset >= 0) fatal.decode(bytes.subarray(0, offset))
    }
  })
})
