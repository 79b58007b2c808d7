// Block manager: property tests over random admit / step / fork / free / swap / recompute programs under every policy,
// against a shadow copy of the KV pool's contents; plus worked examples (copy-on-write, watermark, sharing savings).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {BlockManager, type BlockCopy, type BlockMapping} from '../src/engine/block-manager.js'
import type {KvPolicy} from '../src/engine/config.js'
import {blocksForTokens, reservedTokens, reservesUpfront} from '../src/engine/kv-policy.js'
import type {BlockHasher} from '../src/engine/prefix-cache.js'
import {SequenceStatus, type Sequence, type SequenceGroup} from '../src/engine/sequence.js'
import {makeGroup, makeManager, tokenRange} from './support/kv-groups.js'

const BLOCK_SIZE = 4
const MAX_MODEL_LEN = 48

type Op =
  | {kind: 'admit'; fresh: boolean; base: number; prefix: number; suffix: number[]; bestOf: number; maxTokens: number; beam: boolean}
  | {kind: 'step'; pick: number; chunk: number; token: number}
  | {kind: 'fork'; pick: number}
  | {kind: 'abort'; pick: number; wholeGroup: boolean}
  | {kind: 'swapOut' | 'swapIn' | 'recompute'; pick: number}
  | {kind: 'speculate'; pick: number; draft: number; accept: number; token: number}

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('admit' as const),
      fresh: fc.boolean(),
      base: fc.nat(2),
      // Whole-block prefixes with no suffix make whole prompts hit the cache.
      prefix: fc.oneof(fc.constantFrom(8, 16, 24), fc.nat(24)),
      suffix: fc.oneof(fc.constant<number[]>([]), fc.array(fc.nat(3), {maxLength: 6})),
      bestOf: fc.integer({min: 1, max: 3}),
      maxTokens: fc.integer({min: 1, max: 12}),
      beam: fc.boolean(),
    }),
  },
  {weight: 6, arbitrary: fc.record({kind: fc.constant('step' as const), pick: fc.nat(), chunk: fc.integer({min: 1, max: 12}), token: fc.nat(3)})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('fork' as const), pick: fc.nat()})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant('abort' as const), pick: fc.nat(), wholeGroup: fc.boolean()})},
  {weight: 1, arbitrary: fc.record({kind: fc.constantFrom('swapOut' as const, 'swapIn' as const, 'recompute' as const), pick: fc.nat()})},
  {
    weight: 3,
    arbitrary: fc.record({kind: fc.constant('speculate' as const), pick: fc.nat(), draft: fc.integer({min: 1, max: 6}), accept: fc.nat(), token: fc.nat(3)}),
  },
)

interface Scenario {
  policy: KvPolicy
  enablePrefixCaching: boolean
  blockHasher?: BlockHasher
}

/** Plays a program against the block manager the way the scheduler and runner would, keeping the pool's contents. */
class Simulation {
  readonly manager: BlockManager
  /** What each device / host slot holds: the token id whose K/V was written there. */
  private readonly deviceSlots = new Map<number, number[]>()
  private readonly hostSlots = new Map<number, number[]>()
  private readonly waiting: SequenceGroup[] = []
  private readonly running: SequenceGroup[] = []
  private readonly swapped: SequenceGroup[] = []
  private readonly watermarkBlocks: number

  constructor(
    private readonly scenario: Scenario,
    private readonly pool: {numBlocks: number; numSwapBlocks: number; watermark: number},
    private readonly basePrompts: number[][],
  ) {
    this.manager = new BlockManager({...scenario, ...pool, blockSize: BLOCK_SIZE, maxModelLen: MAX_MODEL_LEN})
    this.watermarkBlocks = reservesUpfront(scenario.policy) ? 0 : Math.floor(pool.watermark * pool.numBlocks)
  }

  apply(op: Op): void {
    switch (op.kind) {
      case 'admit':
        if (op.fresh || this.waiting.length === 0) {
          const prompt = [...this.basePrompts[op.base]!.slice(0, op.prefix), ...op.suffix]
          this.waiting.push(makeGroup(prompt.length > 0 ? prompt : [0], {bestOf: op.bestOf, maxTokens: op.maxTokens, useBeamSearch: op.beam && op.bestOf > 1}))
        }
        return this.admitHead()
      case 'step':
        return this.step(op)
      case 'fork':
        return this.forkOne(op.pick)
      case 'abort':
        return this.abort(op.pick, op.wholeGroup)
      case 'swapOut':
        return this.swapOut(op.pick)
      case 'swapIn':
        return this.swapIn(op.pick)
      case 'recompute':
        return this.recompute(op.pick)
      case 'speculate':
        return this.speculate(op)
    }
  }

  /** Every invariant the manager promises, plus: each computed position of each sequence holds its own token. */
  check(): void {
    this.manager.checkInvariants()
    const stats = this.manager.memoryStats()
    assert.equal(stats.usedBlocks + stats.freeBlocks + stats.cachedBlocks, stats.totalBlocks)
    assert.equal(this.manager.numFreeBlocks, stats.freeBlocks + stats.cachedBlocks)
    assert.ok(stats.tokensStored <= stats.reservedSlots)
    for (const seq of this.running.flatMap((group) => group.unfinished)) {
      const table = this.manager.getBlockTable(seq)
      for (let position = 0; position < seq.numComputedTokens; position++) {
        const blockId = table[Math.floor(position / BLOCK_SIZE)]!
        assert.equal(this.deviceSlots.get(blockId)?.[position % BLOCK_SIZE], seq.tokenIds[position], `seq ${seq.seqId} position ${position} in block ${blockId}`)
      }
    }
  }

  freeEverything(): void {
    for (const group of [...this.running, ...this.swapped, ...this.waiting]) for (const seq of group.sequences) this.manager.free(seq)
    this.manager.checkInvariants()
    assert.equal(this.manager.numFreeBlocks, this.pool.numBlocks)
    assert.equal(this.manager.memoryStats().usedBlocks, 0)
    assert.equal(this.manager.numFreeSwapBlocks, this.pool.numSwapBlocks)
  }

  private admitHead(): void {
    const group = this.waiting[0]
    if (group === undefined) return
    const status = this.manager.canAllocate(group)
    if (status === 'later') return
    this.waiting.shift()
    if (status === 'never') {
      const seqs = group.unfinished
      if (reservesUpfront(this.scenario.policy)) {
        const run = blocksForTokens(reservedTokens(this.scenario.policy, group.promptLength, group.params.maxTokens, MAX_MODEL_LEN), BLOCK_SIZE)
        assert.ok(Math.max(group.params.bestOf, seqs.length) * run > this.pool.numBlocks, 'never, yet the runs fit an empty pool')
      } else {
        const blocks = seqs.reduce((sum, seq) => sum + blocksForTokens(seq.length, BLOCK_SIZE), 0)
        assert.ok(blocks > this.pool.numBlocks - this.watermarkBlocks, 'never, yet the prompt fits an empty pool')
      }
      return
    }
    this.manager.allocate(group)
    if (!reservesUpfront(this.scenario.policy)) assert.ok(this.manager.numFreeBlocks >= this.watermarkBlocks, 'admission broke the watermark')
    for (const seq of group.unfinished) {
      seq.status = SequenceStatus.Running
      assert.ok(this.manager.getBlockTable(seq).length * BLOCK_SIZE >= seq.length, 'the table covers the prompt')
      assert.equal(seq.numComputedTokens % BLOCK_SIZE, 0)
      assert.ok(seq.numComputedTokens <= seq.length - 1, 'the last token is always computed')
      if (!this.scenario.enablePrefixCaching || reservesUpfront(this.scenario.policy)) assert.equal(seq.numComputedTokens, 0)
    }
    this.running.push(group)
  }

  private step(op: {pick: number; chunk: number; token: number}): void {
    const group = this.running[op.pick % this.running.length]
    if (group === undefined || !this.manager.canAppendSlots(group)) return
    const seqs = group.unfinished
    for (const seq of seqs) {
      const before = [...this.manager.getBlockTable(seq)]
      const written = range(Math.floor(seq.numComputedTokens / BLOCK_SIZE), Math.min(before.length, blocksForTokens(seq.length, BLOCK_SIZE)))
      const shared = written.filter((index) => this.holders(before[index]!) > 1)
      const copies = this.manager.appendSlots(seq)
      // Copy-on-write happens exactly for the shared blocks this step writes into, and nowhere else.
      assert.deepEqual(copies.map((copy) => copy.src), shared.map((index) => before[index]!))
      const after = this.manager.getBlockTable(seq)
      assert.ok(after.length * BLOCK_SIZE >= seq.length)
      before.forEach((blockId, index) => {
        if (!shared.includes(index)) assert.equal(after[index], blockId, 'appendSlots moved an unshared block')
      })
      this.copyBlocks(copies)
    }
    const sampled: Sequence[] = []
    for (const seq of seqs) {
      const table = this.manager.getBlockTable(seq)
      const computed = Math.min(seq.length, seq.numComputedTokens + op.chunk)
      for (let position = seq.numComputedTokens; position < computed; position++) {
        const blockId = table[Math.floor(position / BLOCK_SIZE)]!
        assert.equal(this.holders(blockId), 1, `block ${blockId} is written while shared`)
        this.slotsOf(this.deviceSlots, blockId)[position % BLOCK_SIZE] = seq.tokenIds[position]!
      }
      seq.numComputedTokens = computed
      this.manager.markComputed(seq)
      if (computed === seq.length) sampled.push(seq)
    }
    for (const seq of sampled) {
      const samples = [seq]
      // The first sample of a best_of request forks the prompt into its samples.
      while (seq.outputLength === 0 && group.sequences.length < group.params.bestOf && this.manager.canFork(seq)) {
        samples.push(this.fork(group, seq))
      }
      samples.forEach((sample, index) => sample.appendToken((op.token + index) % 4, -1))
      for (const sample of samples) {
        if (sample.outputLength < group.params.maxTokens) continue
        sample.status = SequenceStatus.FinishedLength
        this.manager.free(sample)
      }
    }
    if (group.isFinished) remove(this.running, group)
  }

  /**
   * Speculative decoding as the engine does it: each decoding sequence computes its last token plus up to `draft`
   * proposed tokens (slots past its length), accepts some, appends one more, and rolls back the rejected slots.
   */
  private speculate(op: {pick: number; draft: number; accept: number; token: number}): void {
    const group = this.running[op.pick % this.running.length]
    const seqs = group?.unfinished ?? []
    if (group === undefined || seqs.some((seq) => seq.numUncomputedTokens !== 1 || seq.outputLength === 0)) return
    // Never past max_tokens (the step yields one token of its own), as the speculator.
    const draftOf = (seq: Sequence) => Math.max(0, Math.min(op.draft, group.params.maxTokens - seq.outputLength - 1))
    if (!this.manager.canAppendSlots(group, draftOf)) return
    for (const seq of seqs) {
      const before = [...this.manager.getBlockTable(seq)]
      const written = range(Math.floor(seq.numComputedTokens / BLOCK_SIZE), Math.min(before.length, blocksForTokens(seq.length + draftOf(seq), BLOCK_SIZE)))
      const shared = written.filter((index) => this.holders(before[index]!) > 1)
      const copies = this.manager.appendSlots(seq, draftOf(seq))
      assert.deepEqual(copies.map((copy) => copy.src), shared.map((index) => before[index]!), 'copy-on-write covers the draft slots too')
      assert.ok(this.manager.getBlockTable(seq).length * BLOCK_SIZE >= seq.length + draftOf(seq))
      this.copyBlocks(copies)
    }
    for (const seq of seqs) {
      const draft = range(0, draftOf(seq)).map((k) => (op.token + k) % 4)
      const table = this.manager.getBlockTable(seq)
      const tokens = [seq.tokenIds.at(-1)!, ...draft]
      tokens.forEach((tokenId, k) => {
        const position = seq.numComputedTokens + k
        const blockId = table[Math.floor(position / BLOCK_SIZE)]!
        assert.equal(this.holders(blockId), 1, `block ${blockId} is written while shared`)
        this.slotsOf(this.deviceSlots, blockId)[position % BLOCK_SIZE] = tokenId
      })
      const accepted = op.accept % (draft.length + 1)
      seq.numComputedTokens += 1 + accepted
      for (const tokenId of draft.slice(0, accepted)) seq.appendToken(tokenId, -1)
      // The correction (or bonus) token: differs from the rejected draft token, so rolled-back slots hold stale K/V.
      seq.appendToken(accepted < draft.length ? (draft[accepted]! + 1) % 4 : op.token, -1)
      if (seq.outputLength >= group.params.maxTokens) {
        seq.status = SequenceStatus.FinishedLength
        this.manager.free(seq)
        continue
      }
      const tableBefore = [...table]
      this.manager.trimSlots(seq)
      const trimmed = this.manager.getBlockTable(seq)
      assert.deepEqual(trimmed, tableBefore.slice(0, trimmed.length), 'rollback only drops blocks from the end')
      // The newest token has no slot yet when a whole draft was accepted (the next step appends it).
      const kept = Math.min(tableBefore.length, blocksForTokens(seq.length, BLOCK_SIZE))
      if (!reservesUpfront(this.scenario.policy)) assert.equal(trimmed.length, kept, 'no block past the sequence stays')
      this.manager.markComputed(seq)
    }
    if (group.isFinished) remove(this.running, group)
  }

  private fork(group: SequenceGroup, parent: Sequence): Sequence {
    const child = parent.fork()
    const copies = this.manager.fork(parent, child)
    group.sequences.push(child)
    if (reservesUpfront(this.scenario.policy)) assert.equal(copies.length, blocksForTokens(parent.numComputedTokens, BLOCK_SIZE))
    else assert.deepEqual(copies, [], 'paged forks share blocks')
    this.copyBlocks(copies)
    return child
  }

  /** A beam-search-like fork at any point of a sequence's life. */
  private forkOne(pick: number): void {
    const group = this.running[pick % this.running.length]
    const parent = group?.unfinished[pick % group.unfinished.length]
    if (group === undefined || parent === undefined || group.unfinished.length >= 4 || !this.manager.canFork(parent)) return
    this.fork(group, parent)
  }

  private abort(pick: number, wholeGroup: boolean): void {
    const group = this.running[pick % this.running.length]
    if (group === undefined) return
    const victims = wholeGroup ? group.unfinished : group.unfinished.slice(0, 1)
    for (const seq of victims) {
      seq.status = SequenceStatus.FinishedAborted
      this.manager.free(seq)
      this.manager.free(seq)
    }
    if (group.isFinished) remove(this.running, group)
  }

  private swapOut(pick: number): void {
    const group = this.running[pick % this.running.length]
    if (group === undefined) return
    const distinct = new Set(group.unfinished.flatMap((seq) => this.manager.getBlockTable(seq)))
    if (!this.manager.canSwapOut(group)) {
      assert.ok(distinct.size > this.manager.numFreeSwapBlocks)
      return
    }
    const mapping = this.manager.swapOut(group)
    assert.deepEqual(new Set(mapping.map((move) => move.from)), distinct, 'each device block moves once')
    this.moveBlocks(mapping, this.deviceSlots, this.hostSlots)
    for (const seq of group.unfinished) seq.status = SequenceStatus.Swapped
    remove(this.running, group)
    this.swapped.push(group)
  }

  private swapIn(pick: number): void {
    const group = this.swapped[pick % this.swapped.length]
    if (group === undefined || !this.manager.canSwapIn(group)) return
    this.moveBlocks(this.manager.swapIn(group), this.hostSlots, this.deviceSlots)
    for (const seq of group.unfinished) seq.status = SequenceStatus.Running
    remove(this.swapped, group)
    this.running.push(group)
  }

  private recompute(pick: number): void {
    const group = this.running[pick % this.running.length]
    if (group === undefined) return
    for (const seq of group.unfinished) {
      this.manager.free(seq)
      seq.resetForRecompute()
    }
    remove(this.running, group)
    this.waiting.unshift(group)
  }

  /** How many live sequence tables hold a device block. */
  private holders(blockId: number): number {
    return this.running.flatMap((group) => group.unfinished).filter((seq) => this.manager.getBlockTable(seq).includes(blockId)).length
  }

  private copyBlocks(copies: readonly BlockCopy[]): void {
    for (const {src, dst} of copies) this.deviceSlots.set(dst, [...this.slotsOf(this.deviceSlots, src)])
  }

  private moveBlocks(mapping: readonly BlockMapping[], from: Map<number, number[]>, to: Map<number, number[]>): void {
    for (const move of mapping) to.set(move.to, [...this.slotsOf(from, move.from)])
  }

  private slotsOf(slots: Map<number, number[]>, blockId: number): number[] {
    let block = slots.get(blockId)
    if (block === undefined) {
      block = new Array<number>(BLOCK_SIZE).fill(-1)
      slots.set(blockId, block)
    }
    return block
  }
}

function range(start: number, end: number): number[] {
  return Array.from({length: Math.max(0, end - start)}, (_, index) => start + index)
}

function remove<T>(list: T[], item: T): void {
  list.splice(list.indexOf(item), 1)
}

const scenarios: Array<[string, Scenario]> = [
  ['paged', {policy: 'paged', enablePrefixCaching: false}],
  ['paged + prefix caching', {policy: 'paged', enablePrefixCaching: true}],
  // A hash blind to the prefix and to all but one token: every lookup must be saved by verification.
  ['paged + prefix caching with a colliding hash', {policy: 'paged', enablePrefixCaching: true, blockHasher: (_parent, tokens) => tokens[0]! % 2}],
  ['orca-max', {policy: 'orca-max', enablePrefixCaching: true}],
  ['orca-pow2', {policy: 'orca-pow2', enablePrefixCaching: false}],
  ['orca-oracle', {policy: 'orca-oracle', enablePrefixCaching: true}],
  ['contiguous', {policy: 'contiguous', enablePrefixCaching: false}],
]

for (const [name, scenario] of scenarios) {
  test(`random programs keep the block manager consistent: ${name}`, () => {
    fc.assert(
      fc.property(
        fc.record({numBlocks: fc.integer({min: 12, max: 40}), numSwapBlocks: fc.integer({min: 0, max: 40}), watermark: fc.constantFrom(0, 0.1)}),
        fc.array(fc.array(fc.nat(3), {minLength: 24, maxLength: 24}), {minLength: 3, maxLength: 3}),
        fc.array(opArbitrary, {minLength: 20, maxLength: 80}),
        (pool, basePrompts, program) => {
          const simulation = new Simulation(scenario, pool, basePrompts)
          for (const op of program) {
            simulation.apply(op)
            simulation.check()
          }
          simulation.freeEverything()
        },
      ),
      {numRuns: 100},
    )
  })
}

test('copy-on-write copies the shared last block once per writer but the last', () => {
  const manager = makeManager()
  const group = makeGroup(tokenRange(6), {bestOf: 3})
  manager.allocate(group)
  const parent = group.sequences[0]!
  parent.numComputedTokens = 6
  const children = [parent.fork(), parent.fork()]
  for (const child of children) assert.deepEqual(manager.fork(parent, child), [])
  const shared = manager.getBlockTable(parent)[1]!
  const all = [parent, ...children]
  all.forEach((seq, index) => seq.appendToken(100 + index, 0))
  assert.equal(manager.memoryStats().sharedBlocks, 2)
  const copies = all.map((seq) => manager.appendSlots(seq))
  assert.equal(copies[0]!.length, 1)
  assert.equal(copies[0]![0]!.src, shared)
  assert.equal(copies[1]!.length, 1)
  assert.deepEqual(copies[2], [], 'the last holder writes the block in place')
  assert.equal(manager.getBlockTable(children[1]!)[1], shared)
  assert.equal(manager.memoryStats().sharedBlocks, 1, 'only the full prompt block is still shared')
  manager.checkInvariants()
})

test('the watermark holds back admissions, not growth', () => {
  const manager = makeManager({numBlocks: 10, watermark: 0.2})
  const first = makeGroup(tokenRange(24))
  assert.equal(manager.canAllocate(first), 'ok', '6 blocks leave 4 >= 2 free')
  manager.allocate(first)
  assert.equal(manager.canAllocate(makeGroup(tokenRange(12, 100))), 'later', '3 more blocks would leave 1 < 2 free')
  assert.equal(manager.canAllocate(makeGroup(tokenRange(8, 100))), 'ok')
  assert.equal(manager.canAllocate(makeGroup(tokenRange(33, 100))), 'never', '9 blocks > 10 - 2 even in an empty pool')
  const seq = first.sequences[0]!
  seq.numComputedTokens = seq.length
  for (let token = 0; token < 16; token++) {
    seq.appendToken(token, 0)
    assert.ok(manager.canAppendSlots(first))
    manager.appendSlots(seq)
    seq.numComputedTokens = seq.length
  }
  assert.equal(manager.numFreeBlocks, 0, 'growth may use the watermark blocks')
  seq.appendToken(0, 0)
  assert.equal(manager.canAppendSlots(first), false)
  manager.checkInvariants()
})

test('swap out and back in moves shared blocks once and restores the tables', () => {
  const manager = makeManager({numBlocks: 16, numSwapBlocks: 8})
  const group = makeGroup(tokenRange(10), {bestOf: 2})
  manager.allocate(group)
  const parent = group.sequences[0]!
  parent.status = SequenceStatus.Running
  parent.numComputedTokens = 10
  const child = parent.fork()
  group.sequences.push(child)
  manager.fork(parent, child)
  assert.equal(manager.canSwapOut(group), true)
  const out = manager.swapOut(group)
  assert.equal(out.length, 3, '3 distinct blocks shared by 2 sequences')
  assert.equal(manager.numFreeBlocks, 16)
  assert.equal(manager.numFreeSwapBlocks, 5)
  assert.deepEqual(manager.getBlockTable(parent), [])
  manager.checkInvariants()
  for (const seq of group.sequences) seq.status = SequenceStatus.Swapped
  const back = manager.swapIn(group)
  assert.deepEqual(new Set(back.map((move) => move.from)), new Set(out.map((move) => move.to)))
  assert.deepEqual(manager.getBlockTable(parent), manager.getBlockTable(child), 'still sharing after the round trip')
  assert.equal(manager.numFreeSwapBlocks, 8)
  manager.checkInvariants()
})

test('n = 4 parallel samples share the prompt: blocks after k generated tokens vs 4 independent sequences', (t) => {
  const blockSize = 16
  const promptLength = 100
  for (const generated of [1, 16, 64]) {
    const forked = makeManager({numBlocks: 400, blockSize})
    const group = makeGroup(tokenRange(promptLength), {bestOf: 4})
    forked.allocate(group)
    const parent = group.sequences[0]!
    parent.numComputedTokens = promptLength
    for (let i = 1; i < 4; i++) {
      const child = parent.fork()
      group.sequences.push(child)
      forked.fork(parent, child)
    }
    const independent = makeManager({numBlocks: 400, blockSize})
    const singles = Array.from({length: 4}, () => makeGroup(tokenRange(promptLength)))
    for (const single of singles) {
      independent.allocate(single)
      single.sequences[0]!.numComputedTokens = promptLength
    }
    const grow = (manager: BlockManager, seqs: Sequence[]) => {
      for (let step = 0; step < generated; step++) {
        seqs.forEach((seq, index) => {
          seq.appendToken(1000 + index, 0)
          manager.appendSlots(seq)
          seq.numComputedTokens = seq.length
        })
      }
      manager.checkInvariants()
      return manager.memoryStats()
    }
    const shared = grow(forked, group.sequences)
    const separate = grow(independent, singles.map((single) => single.sequences[0]!))
    // Each sample holds ceil((100 + k) / 16) blocks; forks hold the 6 full prompt blocks once.
    const perSequence = blocksForTokens(promptLength + generated, blockSize)
    assert.equal(separate.usedBlocks, 4 * perSequence)
    assert.equal(shared.usedBlocks, 6 + 4 * (perSequence - 6))
    assert.ok(shared.usedBlocks < separate.usedBlocks)
    assert.equal(shared.savedBySharing, 3 * 96)
    t.diagnostic(
      `k=${generated}: 4 forks use ${shared.usedBlocks} blocks, 4 independent sequences ${separate.usedBlocks} ` +
        `(${(100 * (1 - shared.usedBlocks / separate.usedBlocks)).toFixed(1)}% saved; ${shared.savedBySharing} tokens stored once)`,
    )
  }
})
