// Allowed-token bitmasks: the native mask op on both CPU paths against a plain reference, mask helpers, bad-word bans.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {badWordTokenSequences, bannedNextTokens} from '../src/engine/guided/bad-words.js'
import {bitmaskOf, firstAllowed, intersectMasks, maskRowInto} from '../src/engine/guided/token-mask.js'
import {nativeOps} from '../src/engine/native.js'
import {makeRng} from '../src/engine/random.js'

const ops = nativeOps()
const avx2Supported = ops.avx2Status().supported
after(() => ops.setAvx2(avx2Supported))

function reference(row: Float32Array, allowed: Set<number>): Float32Array {
  return row.map((value, i) => (allowed.has(i) ? value : -Infinity))
}

describe('token masks', () => {
  for (const avx2 of avx2Supported ? [false, true] : [false]) {
    it(`applies a bitmask exactly (${avx2 ? 'AVX2' : 'portable'}), for vocab sizes off the 8 and 32 grid`, () => {
      assert.equal(ops.setAvx2(avx2), true)
      const rng = makeRng(5, 0)
      for (const vocab of [1, 7, 31, 33, 100, 32000, 32001]) {
        const row = new Float32Array(vocab).map(() => rng.nextFloat() * 10 - 5)
        const allowed = new Set(Array.from({length: vocab}, (_, i) => i).filter(() => rng.nextFloat() < 0.3))
        allowed.add(vocab - 1) // the last (tail) token
        const out = new Float32Array(vocab)
        maskRowInto(row, bitmaskOf([...allowed], vocab), out)
        assert.deepEqual(out, reference(row, allowed))
      }
    })
  }

  it('rejects a mask of the wrong length', () => {
    assert.throws(() => maskRowInto(new Float32Array(64), new Int32Array(1), new Float32Array(64)), /mask/)
  })

  it('builds, intersects and reads masks', () => {
    const a = bitmaskOf([0, 5, 31, 32, 99, 1000], 100)
    assert.equal(a.length, 4)
    assert.equal(firstAllowed(a, 100), 0)
    const b = bitmaskOf([31, 99], 100)
    assert.deepEqual(intersectMasks(a, b), b)
    assert.equal(firstAllowed(bitmaskOf([], 100), 100), -1)
  })

  it('bans the last token of a bad word only after its other tokens', () => {
    const tokenizer = {encode: (text: string) => [...text].map((c) => c.charCodeAt(0))}
    const sequences = badWordTokenSequences(tokenizer, ['ab', 'x'])
    assert.deepEqual(sequences, [[97, 98], [32, 97, 98], [120], [32, 120]])
    assert.deepEqual(bannedNextTokens(sequences, [1, 2]), [120])
    assert.deepEqual(bannedNextTokens(sequences, [1, 97]), [98, 120])
    assert.deepEqual(bannedNextTokens(sequences, [32, 97]), [98, 98, 120])
  })
})
