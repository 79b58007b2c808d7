// Prefix caching: reuse of computed prompt blocks, verification against hash collisions, LRU eviction order.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import type {BlockManager} from '../src/engine/block-manager.js'
import {defaultBlockHasher, PrefixCache, type BlockHasher} from '../src/engine/prefix-cache.js'
import {SequenceStatus, type SequenceGroup} from '../src/engine/sequence.js'
import {makeGroup, makeManager, tokenRange} from './support/kv-groups.js'

const cachingManager = (numBlocks = 32, blockHasher?: BlockHasher) => makeManager({numBlocks, blockSize: 4, enablePrefixCaching: true, blockHasher})

/** Admits the prompt and computes it whole, as one prefill step would. */
function prefill(manager: BlockManager, tokens: readonly number[]): SequenceGroup {
  const group = makeGroup(tokens)
  assert.equal(manager.canAllocate(group), 'ok')
  manager.allocate(group)
  const seq = group.sequences[0]!
  seq.status = SequenceStatus.Running
  seq.numComputedTokens = seq.length
  manager.markComputed(seq)
  manager.checkInvariants()
  return group
}

function finish(manager: BlockManager, group: SequenceGroup): void {
  for (const seq of group.sequences) {
    seq.status = SequenceStatus.FinishedStopped
    manager.free(seq)
  }
  manager.checkInvariants()
}

const tableOf = (manager: BlockManager, group: SequenceGroup) => [...manager.getBlockTable(group.sequences[0]!)]

test('a second request with the same prefix reuses its full blocks', () => {
  const manager = cachingManager()
  const first = prefill(manager, tokenRange(10))
  const freeBefore = manager.numFreeBlocks
  const second = makeGroup([...tokenRange(8), 50, 51, 52, 53, 54])
  manager.allocate(second)
  assert.equal(second.sequences[0]!.numComputedTokens, 8)
  assert.deepEqual(tableOf(manager, second).slice(0, 2), tableOf(manager, first).slice(0, 2))
  assert.equal(freeBefore - manager.numFreeBlocks, 2, 'only the 2 blocks past the shared prefix are new')
  const stats = manager.memoryStats()
  assert.equal(stats.sharedBlocks, 2)
  assert.equal(stats.savedBySharing, 8)
  assert.equal(manager.prefixCacheHitRate, 8 / (10 + 13))
  manager.checkInvariants()
})

test('a request asking for prompt logprobs computes its whole prompt: cached blocks hold no logits', () => {
  const manager = cachingManager()
  finish(manager, prefill(manager, tokenRange(10)))
  const withLogprobs = makeGroup(tokenRange(12), {promptLogprobs: 1})
  assert.equal(manager.canAllocate(withLogprobs), 'ok')
  manager.allocate(withLogprobs)
  assert.equal(withLogprobs.sequences[0]!.numComputedTokens, 0)
  const plain = makeGroup(tokenRange(12))
  manager.allocate(plain)
  assert.equal(plain.sequences[0]!.numComputedTokens, 8, 'the cache still serves requests without prompt logprobs')
  manager.checkInvariants()
})

test('freed prefix blocks stay cached and are taken back from the evictor', () => {
  const manager = cachingManager()
  const first = prefill(manager, tokenRange(10))
  const firstTable = tableOf(manager, first)
  finish(manager, first)
  assert.equal(manager.memoryStats().cachedBlocks, 2)
  assert.equal(manager.numFreeBlocks, 32, 'cached blocks count as allocatable')
  const second = makeGroup(tokenRange(12))
  manager.allocate(second)
  assert.equal(second.sequences[0]!.numComputedTokens, 8)
  assert.deepEqual(tableOf(manager, second).slice(0, 2), firstTable.slice(0, 2))
  assert.equal(manager.memoryStats().cachedBlocks, 0)
})

test('blocks of generated tokens are cached too', () => {
  const manager = cachingManager()
  const group = prefill(manager, tokenRange(5))
  const seq = group.sequences[0]!
  for (const token of [70, 71, 72]) {
    seq.appendToken(token, 0)
    manager.appendSlots(seq)
    seq.numComputedTokens = seq.length
    manager.markComputed(seq)
  }
  const follower = makeGroup([...tokenRange(5), 70, 71, 72, 99])
  manager.allocate(follower)
  assert.equal(follower.sequences[0]!.numComputedTokens, 8)
})

test('a whole cached prompt reuses all but its last block, so no shared block is written', () => {
  const manager = cachingManager()
  const first = prefill(manager, tokenRange(8))
  const second = makeGroup(tokenRange(8))
  manager.allocate(second)
  const seq = second.sequences[0]!
  assert.equal(seq.numComputedTokens, 4, 'the last token must be computed to sample from it')
  assert.equal(tableOf(manager, second)[0], tableOf(manager, first)[0])
  assert.notEqual(tableOf(manager, second)[1], tableOf(manager, first)[1])
  assert.deepEqual(manager.appendSlots(seq), [], 'the block it computes is its own: no copy needed')
  manager.checkInvariants()
})

test('a hash collision with different tokens is not reused', () => {
  const manager = cachingManager(32, () => 7)
  prefill(manager, [1, 2, 3, 4, 5])
  const other = makeGroup([9, 9, 9, 9, 5])
  manager.allocate(other)
  assert.equal(other.sequences[0]!.numComputedTokens, 0)
  assert.equal(manager.memoryStats().sharedBlocks, 0)
  const same = makeGroup([1, 2, 3, 4, 6])
  manager.allocate(same)
  assert.equal(same.sequences[0]!.numComputedTokens, 4, 'the weak hash still finds true matches')
})

test('equal tokens after a different prefix are not reused, even when the hash ignores the prefix', () => {
  const sumOfTokens: BlockHasher = (_parentHash, tokenIds) => tokenIds.reduce((sum, token) => sum + token, 0)
  const manager = cachingManager(32, sumOfTokens)
  prefill(manager, [1, 2, 3, 4, 5, 6, 7, 8, 0])
  prefill(manager, [0, 0, 0, 0, 5, 6, 7, 8, 0])
  const probe = makeGroup([0, 0, 0, 0, 5, 6, 7, 8, 1])
  manager.allocate(probe)
  assert.equal(probe.sequences[0]!.numComputedTokens, 4, 'block 1 is cached only after the prefix [1, 2, 3, 4]')
  manager.checkInvariants()
})

const probe = (manager: BlockManager, tokens: readonly number[]) => manager.cachedPrefixTokens(makeGroup(tokens).sequences[0]!)

test('eviction takes the least recently released block, a chain from its tail', () => {
  const manager = cachingManager(6)
  const chainA = tokenRange(8, 100)
  const chainB = tokenRange(8, 200)
  finish(manager, prefill(manager, [...chainA, 0]))
  finish(manager, prefill(manager, [...chainB, 0]))
  assert.equal(manager.memoryStats().cachedBlocks, 4)
  // Three new blocks: the 2 on the free list, then A's tail block, the least recently released.
  prefill(manager, tokenRange(9, 300))
  assert.equal(manager.memoryStats().cachedBlocks, 3)
  assert.equal(probe(manager, [...chainA, 1]), 4, 'A kept its head block')
  assert.equal(probe(manager, [...chainB, 1]), 8, 'B, released later, is whole')
})

test('reuse refreshes a cached prefix in the LRU order', () => {
  const manager = cachingManager(6)
  const chainA = tokenRange(8, 100)
  const chainB = tokenRange(8, 200)
  finish(manager, prefill(manager, [...chainA, 0]))
  finish(manager, prefill(manager, [...chainB, 0]))
  finish(manager, prefill(manager, [...chainA, 0]))
  prefill(manager, tokenRange(9, 300))
  assert.equal(probe(manager, [...chainA, 1]), 8)
  assert.equal(probe(manager, [...chainB, 1]), 4, 'B is now the least recently used')
})

test('the default hash chains the parent hash', () => {
  assert.equal(defaultBlockHasher(0, [1, 2, 3]), defaultBlockHasher(0, [1, 2, 3]))
  assert.notEqual(defaultBlockHasher(0, [1, 2, 3]), defaultBlockHasher(1, [1, 2, 3]))
  assert.notEqual(defaultBlockHasher(0, [1, 2, 3]), defaultBlockHasher(0, [3, 2, 1]))
  assert.ok(Number.isSafeInteger(defaultBlockHasher(2 ** 52, [7])))
})

test('PrefixCache.register returns an identical entry on another block instead of duplicating it', () => {
  const cache = new PrefixCache()
  const original = cache.register(3, null, [1, 2])!
  assert.equal(cache.register(5, null, [1, 2]), original)
  assert.equal(cache.entryOf(5), undefined)
  assert.equal(cache.numEntries, 1)
})

test('an entry whose parent was evicted gives its hash to the same content under a reachable chain (a window releases heads first)', () => {
  const cache = new PrefixCache()
  const a0 = cache.register(0, null, [1, 2])!
  const a1 = cache.register(1, a0, [3, 4])!
  cache.register(2, a1, [5, 6])
  cache.park(0)
  assert.equal(cache.evictOldest(), 0)
  assert.equal(cache.lookup(null, [1, 2]), null, 'the chain is unreachable from its head')
  // The same prompt again: its chain takes over the unreachable entries' hashes instead of stopping at them.
  const b0 = cache.register(10, null, [1, 2])!
  const b1 = cache.register(11, b0, [3, 4])!
  const b2 = cache.register(12, b1, [5, 6])!
  const chainEnd = () => cache.lookup(cache.lookup(cache.lookup(null, [1, 2]), [3, 4]), [5, 6])?.blockId
  assert.equal(chainEnd(), 12)
  assert.equal(cache.entryOf(1), a1, 'an orphan stays its block entry until evicted')
  cache.park(1)
  cache.park(2)
  assert.deepEqual([cache.evictOldest(), cache.evictOldest()], [1, 2])
  assert.equal(chainEnd(), 12, "evicting the orphans leaves the new chain's hashes")
  cache.checkInvariants()
  // Different content under a reachable holder is still a collision.
  const colliding = new PrefixCache(() => 7)
  const first = colliding.register(0, null, [1])!
  assert.equal(colliding.register(1, first, [2]), null)
  assert.equal(b2.parentEntryId, b1.entryId)
})
