// The CUDA backend's host-side plan of a step's attention (native/include/pagedllm/attention_split.h), checked in the
// CPU build: which rows the per-row decode kernel runs and which 16-row tiles the prefill kernel runs.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {nativeOps} from '../src/engine/native.js'

const split = (queryStartLoc: number[], contextLens: number[], tilesOnly = false) => {
  const {decodeRows, prefillTiles, maxDecodeKvLen} = nativeOps().splitAttentionRows(Int32Array.from(queryStartLoc), Int32Array.from(contextLens), tilesOnly)
  return {decodeRows: [...decodeRows], prefillTiles: [...prefillTiles], maxDecodeKvLen}
}

describe('CUDA attention row split (host side)', () => {
  // Three decode rows, a 40-row prefill chunk (tiles of 16, 16, 8) after 9 cached tokens, another decode row.
  const starts = [0, 1, 2, 42, 43]
  const contexts = [700, 5, 49, 1300]

  it('one-row sequences are decode rows, longer chunks tiles of 16 consecutive rows', () => {
    assert.deepEqual(split(starts, contexts), {decodeRows: [0, 1, 42], prefillTiles: [2, 16, 18, 16, 34, 8], maxDecodeKvLen: 1300})
    assert.deepEqual(split([0, 16], [16]), {decodeRows: [], prefillTiles: [0, 16], maxDecodeKvLen: 0})
    assert.deepEqual(split([0], []), {decodeRows: [], prefillTiles: [], maxDecodeKvLen: 0})
  })

  it('tiles only (head_dim not a multiple of 8): a decode row is a tile of one, no decode rows, no partition workspace', () => {
    assert.deepEqual(split(starts, contexts, true), {decodeRows: [], prefillTiles: [0, 1, 1, 1, 2, 16, 18, 16, 34, 8, 42, 1], maxDecodeKvLen: 0})
  })

  it('refuses lengths that do not match', () => {
    assert.throws(() => nativeOps().splitAttentionRows(Int32Array.from([0, 1, 2]), Int32Array.from([4]), false), /contextLens/)
    assert.throws(() => nativeOps().splitAttentionRows(Int32Array.from([0, 3, 2]), Int32Array.from([4, 4]), false), /must not decrease/)
  })
})
