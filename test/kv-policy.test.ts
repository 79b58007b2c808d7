// KV policies: reservation arithmetic on hand-computed examples, paged growth, and first-fit fragmentation.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {blocksForTokens, firstFitRuns, nextPowerOfTwo, reservedTokens} from '../src/engine/kv-policy.js'
import {SequenceStatus} from '../src/engine/sequence.js'
import {makeGroup, makeManager, tokenRange} from './support/kv-groups.js'

test('reservations for prompt 100, max_tokens 37, block 16, context 2048', () => {
  const blocks = (tokens: number) => blocksForTokens(tokens, 16)
  assert.equal(reservedTokens('orca-max', 100, 37, 2048), 2048)
  assert.equal(blocks(reservedTokens('orca-max', 100, 37, 2048)), 128)
  assert.equal(reservedTokens('contiguous', 100, 37, 2048), 2048)
  assert.equal(reservedTokens('orca-pow2', 100, 37, 2048), 164)
  assert.equal(blocks(reservedTokens('orca-pow2', 100, 37, 2048)), 11)
  assert.equal(reservedTokens('orca-oracle', 100, 37, 2048), 137)
  assert.equal(blocks(reservedTokens('orca-oracle', 100, 37, 2048)), 9)
  assert.equal(reservedTokens('paged', 100, 37, 2048), 100)
})

test('reservations never exceed the context limit', () => {
  assert.equal(reservedTokens('orca-pow2', 100, 900, 1024), 1024)
  assert.equal(reservedTokens('orca-oracle', 1000, 100, 1024), 1024)
})

test('nextPowerOfTwo', () => {
  assert.deepEqual([1, 2, 3, 37, 64, 65].map(nextPowerOfTwo), [1, 2, 4, 64, 64, 128])
})

test('the block manager reserves the policy run at admission', () => {
  for (const [policy, expected] of [['orca-max', 128], ['orca-pow2', 11], ['orca-oracle', 9], ['contiguous', 128]] as const) {
    const manager = makeManager({policy, numBlocks: 200, blockSize: 16, maxModelLen: 2048})
    const group = makeGroup(tokenRange(100), {maxTokens: 37})
    assert.equal(manager.canAllocate(group), 'ok')
    manager.allocate(group)
    assert.equal(manager.getBlockTable(group.sequences[0]!).length, expected, policy)
    assert.equal(manager.memoryStats().usedBlocks, expected, policy)
    assert.equal(manager.memoryStats().wasteSlots, expected * 16 - 100, policy)
    manager.checkInvariants()
  }
})

test('paged grows block by block and wastes less than a block per sequence', () => {
  const manager = makeManager({numBlocks: 200, blockSize: 16, maxModelLen: 2048})
  const group = makeGroup(tokenRange(100), {maxTokens: 37})
  manager.allocate(group)
  const seq = group.sequences[0]!
  assert.equal(manager.getBlockTable(seq).length, 7)
  seq.numComputedTokens = 100
  for (let generated = 1; generated <= 37; generated++) {
    seq.appendToken(1000 + generated, 0)
    assert.deepEqual(manager.appendSlots(seq), [])
    seq.numComputedTokens = seq.length
    const stats = manager.memoryStats()
    assert.ok(stats.wasteSlots < 16, `waste ${stats.wasteSlots} at length ${seq.length}`)
    assert.equal(stats.tokensStored, seq.length)
  }
  assert.equal(manager.getBlockTable(seq).length, 9)
})

test('firstFitRuns takes the lowest gaps that are long enough', () => {
  const free = new Set([0, 1, 3, 4, 5, 7, 8, 9, 10])
  const isFree = (blockId: number) => free.has(blockId)
  assert.deepEqual(firstFitRuns(isFree, 11, 2, 1), [0])
  assert.deepEqual(firstFitRuns(isFree, 11, 3, 1), [3])
  assert.deepEqual(firstFitRuns(isFree, 11, 3, 2), [3, 7])
  assert.deepEqual(firstFitRuns(isFree, 11, 2, 4), [0, 3, 7, 9])
  assert.equal(firstFitRuns(isFree, 11, 5, 1), null)
  assert.equal(firstFitRuns(isFree, 11, 3, 3), null)
})

test('a run that fits the free total but no gap waits; one larger than the pool never fits', () => {
  // blockSize 4, orca-oracle: prompt 4 + max_tokens 4 = 2 blocks per request; 10 blocks hold five of them.
  const manager = makeManager({policy: 'orca-oracle', numBlocks: 10, blockSize: 4})
  const groups = Array.from({length: 5}, (_, index) => makeGroup(tokenRange(4, index * 10), {maxTokens: 4}))
  for (const group of groups) {
    assert.equal(manager.canAllocate(group), 'ok')
    manager.allocate(group)
    group.sequences[0]!.status = SequenceStatus.Running
  }
  assert.deepEqual(groups.map((group) => manager.getBlockTable(group.sequences[0]!)[0]), [0, 2, 4, 6, 8])
  const release = (group: (typeof groups)[number]) => {
    group.sequences[0]!.status = SequenceStatus.FinishedAborted
    manager.free(group.sequences[0]!)
  }
  release(groups[1]!)
  release(groups[3]!)
  assert.equal(manager.numFreeBlocks, 4)
  const threeBlocks = makeGroup(tokenRange(4, 100), {maxTokens: 8})
  assert.equal(manager.canAllocate(threeBlocks), 'later', '4 free blocks in two gaps of 2 cannot hold a run of 3')
  assert.equal(manager.canAllocate(makeGroup(tokenRange(4, 200), {maxTokens: 40})), 'never', '11 blocks > a pool of 10')
  assert.equal(manager.canAllocate(makeGroup(tokenRange(4, 300), {maxTokens: 4, bestOf: 6})), 'never', '6 runs of 2 > a pool of 10')
  release(groups[2]!)
  assert.equal(manager.canAllocate(threeBlocks), 'ok')
  manager.allocate(threeBlocks)
  assert.deepEqual(manager.getBlockTable(threeBlocks.sequences[0]!), [2, 3, 4])
  manager.checkInvariants()
})

test('best_of reserves one run per sample at admission; forks take them', () => {
  const manager = makeManager({policy: 'orca-oracle', numBlocks: 12, blockSize: 4})
  const group = makeGroup(tokenRange(6), {maxTokens: 2, bestOf: 3})
  manager.allocate(group)
  assert.equal(manager.memoryStats().usedBlocks, 6, '3 runs of 2 blocks')
  assert.equal(manager.numFreeBlocks, 6)
  const parent = group.sequences[0]!
  parent.numComputedTokens = 6
  const child = parent.fork()
  group.sequences.push(child)
  assert.deepEqual(manager.fork(parent, child), [{src: 0, dst: 2}, {src: 1, dst: 3}])
  assert.equal(manager.numFreeBlocks, 6, 'the fork used its reserved run')
  manager.checkInvariants()
  for (const seq of group.sequences) manager.free(seq)
  assert.equal(manager.numFreeBlocks, 12, 'the unforked spare run is released with the group')
  manager.checkInvariants()
})
