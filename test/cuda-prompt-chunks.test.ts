// The CUDA backend's split of LM-head chunks when it ranks prompt rows on the device (native/include/pagedllm/
// prompt_chunks.h), checked in the CPU build: the step's own logits rows come first, then prompt entries, 256 rows a chunk.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {nativeOps} from '../src/engine/native.js'

const CHUNK_ROWS = 256 // kLogitsChunkRows (native/cuda/cuda_ops.h)

/** Walks the head's rows as CudaBackend.forward does: per chunk, which head row each own row and each entry lands on. */
function walk(own: number, entries: number) {
  const ownAt: number[] = []
  const entryAt: number[] = []
  for (let first = 0; first < own + entries; first += CHUNK_ROWS) {
    const rows = Math.min(CHUNK_ROWS, own + entries - first)
    const chunk = nativeOps().promptChunk(own, first, rows)
    assert.equal(chunk.ownRows + chunk.numEntries, rows, `chunk at ${first}: every row is own or an entry`)
    assert.equal(chunk.firstEntryRow, chunk.ownRows)
    for (let k = 0; k < chunk.ownRows; k++) ownAt.push(first + k)
    for (let k = 0; k < chunk.numEntries; k++) entryAt[chunk.firstEntry + k] = first + chunk.firstEntryRow + k
  }
  return {ownAt, entryAt}
}

describe('CUDA prompt ranking chunks (host side)', () => {
  for (const [own, entries] of [[0, 600], [3, 253], [3, 254], [300, 500], [256, 256], [5, 0], [0, 1]]) {
    it(`${own} own rows then ${entries} prompt rows: each once, in order, on its head row`, () => {
      const {ownAt, entryAt} = walk(own, entries)
      assert.deepEqual(ownAt, Array.from({length: own}, (_, i) => i))
      assert.deepEqual(entryAt, Array.from({length: entries}, (_, e) => own + e))
    })
  }

  it('a chunk past the own rows starts at the entry its first row is', () => {
    assert.deepEqual(nativeOps().promptChunk(300, 512, 256), {ownRows: 0, firstEntry: 212, numEntries: 256, firstEntryRow: 0})
    assert.deepEqual(nativeOps().promptChunk(300, 256, 256), {ownRows: 44, firstEntry: 0, numEntries: 212, firstEntryRow: 44})
    assert.throws(() => nativeOps().promptChunk(-1, 0, 4), /non-negative integers/)
  })
})
