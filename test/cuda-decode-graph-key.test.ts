// The CUDA decode attention's cut of a step's contexts into partitions, and the decode graph key
// (native/include/pagedllm/decode_partitions.h), checked in the CPU build. A replayed graph runs the launch of the step
// it was captured from; a graph step plans its attention for its key's band (coveredTokens), so every step that maps to
// a key must fit that one launch, and cut its contexts as an eager step would.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {nativeOps} from '../src/engine/native.js'

const BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256]

describe('CUDA decode graph key (host side)', () => {
  it("fits every context that replays a graph into the launch planned for the graph's band", () => {
    const ops = nativeOps()
    for (const bucket of BUCKETS) {
      for (let context = 1; context <= 2100; context++) {
        const key = ops.decodeGraphKey(bucket, context)
        const launch = ops.decodePartitions(bucket, key.coveredTokens)
        const eager = ops.decodePartitions(bucket, context)
        assert.ok(key.coveredTokens >= context && key.coveredTokens - context < 256, `bucket ${bucket} context ${context}`)
        assert.ok(launch.tokens * launch.count >= context, `bucket ${bucket} context ${context}: the launch stops short`)
        // The same partition size as an eager step: a graph adds only partitions past the context, which exit at once.
        assert.equal(launch.tokens, eager.tokens, `bucket ${bucket} context ${context}`)
      }
    }
  })

  it('keys a small batch at 64 and at 65 tokens alike, with a launch that reads all 65 (the first H100 run read 64)', () => {
    const ops = nativeOps()
    assert.deepEqual(ops.decodePartitions(8, 64), {tokens: 64, count: 1})
    assert.deepEqual(ops.decodeGraphKey(8, 64), ops.decodeGraphKey(8, 65))
    assert.deepEqual(ops.decodePartitions(8, ops.decodeGraphKey(8, 65).coveredTokens), {tokens: 64, count: 4})
  })

  it('keeps a graph per bucket and 256 tokens of context, as many as the graph cache holds up to 2,048 tokens', () => {
    const ops = nativeOps()
    const keys = new Set(BUCKETS.flatMap((bucket) => Array.from({length: 2048}, (_, i) => JSON.stringify(ops.decodeGraphKey(bucket, i + 1)))))
    assert.equal(keys.size, BUCKETS.length * 8)
    assert.ok(keys.size <= 96, 'kMaxGraphs in native/cuda/decode_graphs.cu')
  })

  it('cuts finer for few rows and coarser for many', () => {
    const ops = nativeOps()
    assert.deepEqual(ops.decodePartitions(1, 512), {tokens: 64, count: 8})   // 1 row: 8 blocks, not 2
    assert.deepEqual(ops.decodePartitions(16, 512), {tokens: 256, count: 2})  // 16 x 2 = 32 blocks: no cut
    assert.deepEqual(ops.decodePartitions(256, 512), {tokens: 512, count: 1}) // one block per row, no reduce
    assert.deepEqual(ops.decodePartitions(128, 1100), {tokens: 512, count: 3})
  })

  it('refuses sizes that are not positive integers', () => {
    const ops = nativeOps()
    assert.throws(() => ops.decodePartitions(0, 10), /rows must be an integer/)
    assert.throws(() => ops.decodeGraphKey(4, 1.5), /maxContext must be an integer/)
  })
})
