// The CUDA decode attention's cut of a step's contexts into partitions, and the decode graph key that pins it
// (native/include/pagedllm/decode_partitions.h), checked in the CPU build. A replayed graph runs the launch of the step
// it was captured from, so every step that maps to a key must plan exactly that launch.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {nativeOps} from '../src/engine/native.js'

const BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256]

describe('CUDA decode graph key (host side)', () => {
  it('gives every context that replays a graph the launch that graph was captured with', () => {
    const ops = nativeOps()
    for (const bucket of BUCKETS) {
      const launchOf = new Map<string, string>()
      for (let context = 1; context <= 2100; context++) {
        const key = ops.decodeGraphKey(bucket, context)
        const launch = JSON.stringify(ops.decodePartitions(bucket, context))
        const name = `${key.partitionTokens}x${key.partitions}`
        assert.equal(launchOf.get(name) ?? launch, launch, `bucket ${bucket}: context ${context} shares key ${name} with another cut`)
        launchOf.set(name, launch)
        assert.ok(key.coveredTokens >= context && key.coveredTokens - context < key.partitionTokens, `bucket ${bucket} context ${context}`)
      }
    }
  })

  it('keys a small batch at 64 and at 65 tokens apart (the first H100 run replayed 64-token attention at 65)', () => {
    const ops = nativeOps()
    assert.deepEqual(ops.decodePartitions(8, 64), {tokens: 64, count: 1})
    assert.deepEqual(ops.decodePartitions(8, 65), {tokens: 64, count: 2})
    assert.notDeepEqual(ops.decodeGraphKey(8, 64), ops.decodeGraphKey(8, 65))
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
