// Per-sequence KV block tables over one pool: admission, growth, fork, swap, accounting; the policy's allocator
// (paged-allocator.ts or reserving-allocator.ts) decides how device blocks are handed out. A hybrid model's sequences
// also hold a recurrent state slot each (state-slots.ts), taken and freed with their blocks.
import type {KvPolicy} from './config.js'
import type {Sequence, SequenceGroup} from './sequence.js'
import {BlockTables, checkReleasedPrefix, countHolders, type AllocStatus, type BlockCopy, type BlockMapping, type KvAllocator} from './block-tables.js'
import type {BlockHasher} from './prefix-cache.js'
import {reservesUpfront} from './kv-policy.js'
import {computeKvMemoryStats, type BlockHolder, type KvMemoryStats} from './memory-stats.js'
import {PagedAllocator} from './paged-allocator.js'
import {ReservingAllocator} from './reserving-allocator.js'
import {NO_WINDOW_RELEASE, type WindowRelease} from './window-blocks.js'
import {StateSlots, type StateCopy} from './state-slots.js'

export {reservedTokens} from './kv-policy.js'
export type {KvMemoryStats} from './memory-stats.js'
export type {AllocStatus, BlockCopy, BlockMapping} from './block-tables.js'

export interface BlockManagerOptions {
  numBlocks: number
  blockSize: number
  numSwapBlocks: number
  policy: KvPolicy
  /** Only under 'paged': reserving policies neither share nor reuse blocks. */
  enablePrefixCaching: boolean
  /** Fraction of blocks kept free at admission so running sequences can grow ('paged' only). */
  watermark: number
  maxModelLen: number
  /** Tests inject a weak hash to force collisions. */
  blockHasher?: BlockHasher
  /** Blocks behind a sliding window go back to the pool ('paged' only; window-blocks.ts). Default: none. */
  windowRelease?: WindowRelease
  /** Hybrid models: recurrent state slots (one per sequence on the device; swapping is then off). Absent: none. */
  numStateSlots?: number
}

export class BlockManager {
  readonly blockSize: number
  readonly policy: KvPolicy
  private readonly tables: BlockTables
  private readonly allocator: KvAllocator
  private nextFamily = 0
  /** Null for models without recurrent state. */
  readonly stateSlots: StateSlots | null

  constructor(opts: BlockManagerOptions) {
    if (!(Number.isInteger(opts.numBlocks) && opts.numBlocks > 0)) throw new Error(`numBlocks must be a positive integer, got ${opts.numBlocks}`)
    if (!(Number.isInteger(opts.blockSize) && opts.blockSize > 0)) throw new Error(`blockSize must be a positive integer, got ${opts.blockSize}`)
    this.blockSize = opts.blockSize
    this.policy = opts.policy
    this.tables = new BlockTables(opts.blockSize, opts.numBlocks, opts.numSwapBlocks)
    this.allocator = reservesUpfront(opts.policy)
      ? new ReservingAllocator(this.tables, opts)
      : new PagedAllocator(this.tables, {...opts, windowRelease: opts.windowRelease ?? NO_WINDOW_RELEASE})
    this.stateSlots = opts.numStateSlots ? new StateSlots(opts.numStateSlots) : null
  }

  /** Truly allocatable now (under 'paged': the free list plus evictable cached blocks). */
  get numFreeBlocks(): number {
    return this.allocator.numFreeBlocks
  }

  get numTotalBlocks(): number {
    return this.tables.device.numBlocks
  }

  get numFreeSwapBlocks(): number {
    return this.tables.host.numFree
  }

  get numTotalSwapBlocks(): number {
    return this.tables.host.numBlocks
  }

  /** Prompt tokens (since start) looked up in the prefix cache at admission, and those found there. */
  get prefixCacheQueries(): number {
    return this.allocator.prefixCacheQueries
  }

  get prefixCacheHits(): number {
    return this.allocator.prefixCacheHits
  }

  /** Share of prompt tokens (since start) whose KV came from the prefix cache. */
  get prefixCacheHitRate(): number {
    return this.prefixCacheQueries === 0 ? 0 : this.prefixCacheHits / this.prefixCacheQueries
  }

  /** alone: no other group holds device blocks (nothing runs), so no headroom for their growth is kept. seqs: some of the group's unplaced ones (default all). */
  canAllocate(group: SequenceGroup, alone = false, seqs: readonly Sequence[] = this.tables.unplaced(group)): AllocStatus {
    const status = this.allocator.canAllocate(group, seqs, alone)
    if (status !== 'ok' || this.stateSlots === null) return status
    return this.stateSlots.neverFits(group) !== null ? 'never' : this.stateSlots.canAdmit(group) ? 'ok' : 'later'
  }

  /** Why the group could never be admitted or run to its end in this pool, even alone, or null. */
  neverFits(group: SequenceGroup): string | null {
    return this.allocator.neverFits(group, this.tables.unplaced(group)) ?? this.stateSlots?.neverFits(group) ?? null
  }

  allocate(group: SequenceGroup, seqs: readonly Sequence[] = this.tables.unplaced(group)): void {
    if (seqs.length > 0) this.allocator.allocate(group, seqs, this.nextFamily++)
    for (const seq of seqs) this.stateSlots?.take(group, seq)
  }

  /** The state slot of a hybrid model's sequence on the device. */
  stateSlot(seq: Sequence): number {
    return this.stateSlots!.slot(seq)
  }

  /** State copies owed by forks since the last step (empty without state slots). */
  takeStateCopies(): StateCopy[] {
    return this.stateSlots?.takeCopies() ?? []
  }

  /** Tokens of seq that allocate() would take from the prefix cache now (a multiple of blockSize, < seq.length). */
  cachedPrefixTokens(seq: Sequence): number {
    return this.allocator.cachedPrefixTokens(seq)
  }

  /** lookahead: draft tokens a sequence will compute past its length this step (speculative decoding). */
  canAppendSlots(group: SequenceGroup, lookahead: (seq: Sequence) => number = () => 0): boolean {
    let needed = 0
    for (const state of this.tables.statesOf(group, this.tables.onDevice)) needed += this.allocator.blocksToGrow(state, lookahead(state.seq))
    return needed <= this.numFreeBlocks
  }

  /** Makes the table cover seq.length + lookahead tokens (behind a sliding window: one chunk past the computed tokens); copies out any shared block the coming step writes into. */
  appendSlots(seq: Sequence, lookahead = 0): BlockCopy[] {
    return this.allocator.appendSlots(this.tables.stateOf(seq), lookahead)
  }

  /** Rolls back rejected draft tokens: blocks past seq.length are released (a reservation keeps its run). */
  trimSlots(seq: Sequence): void {
    const state = this.tables.onDevice.get(seq.seqId)
    if (state === undefined) return
    if (seq.numComputedTokens > seq.length) throw new Error(`sequence ${seq.seqId}: ${seq.numComputedTokens} computed tokens but only ${seq.length} tokens`)
    this.allocator.trimTo(state, seq.length)
  }

  /** Before a step is scheduled: each sequence gives back the blocks its next query can no longer see (sliding windows). */
  releaseBehindWindows(groups: readonly SequenceGroup[]): void {
    for (const group of groups) for (const state of this.tables.statesOf(group, this.tables.onDevice)) this.allocator.releaseBehindWindow(state)
  }

  canFork(parent: Sequence): boolean {
    return this.allocator.canFork(this.tables.stateOf(parent))
  }

  fork(parent: Sequence, child: Sequence): BlockCopy[] {
    const parentState = this.tables.stateOf(parent)
    if (this.tables.onDevice.has(child.seqId) || this.tables.onHost.has(child.seqId)) throw new Error(`fork into sequence ${child.seqId} that already has blocks`)
    this.stateSlots?.fork(parent, child)
    return this.allocator.fork(parentState, child)
  }

  free(seq: Sequence): void {
    this.stateSlots?.release(seq)
    const onDevice = this.tables.onDevice.get(seq.seqId)
    if (onDevice !== undefined) {
      this.tables.onDevice.delete(seq.seqId)
      this.allocator.releaseFreed(onDevice)
    }
    const onHost = this.tables.onHost.get(seq.seqId)
    if (onHost !== undefined) {
      this.tables.onHost.delete(seq.seqId)
      this.tables.releaseHostBlocks(onHost.table)
    }
    const family = (onDevice ?? onHost)?.family
    if (family !== undefined && this.tables.familyMembers(family) === 0) this.allocator.familyGone(family)
  }

  /**
   * Offers the sequence's full, computed blocks to the prefix cache (generated tokens' blocks too), up to
   * `writtenTokens`: the tokens whose K/V a step that has completed wrote (not those of a step still queued, which may fail).
   */
  markComputed(seq: Sequence, writtenTokens = seq.numComputedTokens): void {
    const state = this.tables.onDevice.get(seq.seqId)
    if (state !== undefined) this.allocator.markComputed(state, writtenTokens)
  }

  getBlockTable(seq: Sequence): readonly number[] {
    return this.tables.onDevice.get(seq.seqId)?.table ?? []
  }

  /** Never for a hybrid model: its recurrent states are recomputed, not swapped (preemption falls back to recompute). */
  canSwapOut(group: SequenceGroup): boolean {
    if (this.stateSlots !== null) return false
    return this.tables.distinctBlocks(this.tables.statesOf(group, this.tables.onDevice)) <= this.tables.host.numFree
  }

  /** Moves every unfinished sequence's blocks to host memory; a block shared within the group is copied once. */
  swapOut(group: SequenceGroup): BlockMapping[] {
    const {host, onDevice, onHost} = this.tables
    const deviceToHost = new Map<number, number>()
    for (const state of this.tables.statesOf(group, onDevice)) {
      const hostTable = state.table.map((blockId) => this.tables.shareOrTake(deviceToHost, blockId, host, () => host.allocate()))
      onDevice.delete(state.seq.seqId)
      this.allocator.releaseSwappedOut(state)
      // Swapped back in, the blocks are offered to the prefix cache anew; a table with released blocks has no chain to offer.
      onHost.set(state.seq.seqId, {...state, table: hostTable, hashedBlocks: 0, chainTip: null, chainBroken: state.releasedBlocks > 0})
    }
    return [...deviceToHost].map(([from, to]) => ({from, to}))
  }

  /** alone: as canAllocate's. */
  canSwapIn(group: SequenceGroup, alone = false): boolean {
    const states = this.tables.statesOf(group, this.tables.onHost)
    return states.length === 0 || this.allocator.canSwapIn(states, alone)
  }

  swapIn(group: SequenceGroup): BlockMapping[] {
    const states = this.tables.statesOf(group, this.tables.onHost)
    if (states.length === 0) return []
    const hostToDevice = new Map<number, number>()
    const deviceTables = this.allocator.placeSwappedIn(states, hostToDevice)
    states.forEach((state, index) => {
      this.tables.onHost.delete(state.seq.seqId)
      this.tables.releaseHostBlocks(state.table)
      this.tables.onDevice.set(state.seq.seqId, {...state, table: deviceTables[index]!})
    })
    return [...hostToDevice].map(([from, to]) => ({from, to}))
  }

  memoryStats(): KvMemoryStats {
    const holders: BlockHolder[] = [...this.tables.onDevice.values()].map((state) => ({table: state.table, numTokens: state.seq.length}))
    for (const run of this.allocator.spareTables()) holders.push({table: run, numTokens: 0})
    return computeKvMemoryStats({
      blockSize: this.blockSize,
      totalBlocks: this.tables.device.numBlocks,
      freeBlocks: this.tables.device.numFree,
      cachedBlocks: this.allocator.numCachedBlocks,
      holders,
    })
  }

  /** Throws with a description when any bookkeeping invariant is broken. */
  checkInvariants(): void {
    const {device, host, onDevice, onHost} = this.tables
    device.checkInvariants('device pool')
    host.checkInvariants('host pool')
    const deviceHolders = countHolders([...[...onDevice.values()].map((state) => state.table), ...this.allocator.spareTables()], 'device')
    let used = 0
    for (let blockId = 0; blockId < device.numBlocks; blockId++) {
      const refs = device.refCount(blockId)
      const parked = this.allocator.isParked(blockId)
      if (refs !== (deviceHolders.get(blockId) ?? 0)) throw new Error(`device block ${blockId}: refCount ${refs} but ${deviceHolders.get(blockId) ?? 0} holders`)
      if (refs > 0 && parked) throw new Error(`device block ${blockId} is referenced and in the evictor`)
      if (refs === 0 && device.isFree(blockId) === parked) throw new Error(`device block ${blockId} is unreferenced but ${parked ? 'both free and cached' : 'neither free nor cached'}`)
      if (refs > 0) used++
    }
    const cached = this.allocator.numCachedBlocks
    if (used + device.numFree + cached !== device.numBlocks) throw new Error(`used ${used} + free ${device.numFree} + cached ${cached} != total ${device.numBlocks}`)
    const hostHolders = countHolders([...onHost.values()].map((state) => state.table), 'host')
    for (let blockId = 0; blockId < host.numBlocks; blockId++) {
      const refs = host.refCount(blockId)
      if (refs !== (hostHolders.get(blockId) ?? 0)) throw new Error(`host block ${blockId}: refCount ${refs} but ${hostHolders.get(blockId) ?? 0} holders`)
      if (refs === 0 && !host.isFree(blockId)) throw new Error(`host block ${blockId} is unreferenced but not free`)
    }
    for (const state of onHost.values()) checkReleasedPrefix(state, 'host')
    for (const state of onDevice.values()) {
      checkReleasedPrefix(state, 'device')
      if (state.table.length * this.blockSize < state.seq.numComputedTokens)
        throw new Error(`sequence ${state.seq.seqId}: table of ${state.table.length} blocks cannot hold ${state.seq.numComputedTokens} computed tokens`)
    }
    this.allocator.checkInvariants()
    this.stateSlots?.checkInvariants(new Set(onDevice.keys()))
  }
}
