// Per-sequence KV block tables over one pool: admission, growth, copy-on-write, fork, prefix reuse, swap, accounting.
import type {KvPolicy} from './config.js'
import {isFinished, type Sequence, type SequenceGroup} from './sequence.js'
import {KvBlockPool} from './block-pool.js'
import {PrefixCache, type BlockHasher, type CachedBlock} from './prefix-cache.js'
import {blocksForTokens, reservedTokens, reservesUpfront} from './kv-policy.js'
import {computeKvMemoryStats, type BlockHolder, type KvMemoryStats} from './memory-stats.js'

export {reservedTokens} from './kv-policy.js'
export type {KvMemoryStats} from './memory-stats.js'

export type AllocStatus = 'ok' | 'later' | 'never'
/** Device block -> device block (copy-on-write). */
export interface BlockCopy {
  src: number
  dst: number
}
/** Swap: device -> host block ids on swap-out, host -> device on swap-in. */
export interface BlockMapping {
  from: number
  to: number
}

export interface BlockManagerOptions {
  numBlocks: number
  blockSize: number
  numSwapBlocks: number
  policy: KvPolicy
  enablePrefixCaching: boolean
  /** Fraction of blocks kept free at admission so running sequences can grow. */
  watermark: number
  maxModelLen: number
  /** Tests inject a weak hash to force collisions. */
  blockHasher?: BlockHasher
}

/** The runs one admission reserved (reserving policies): `width` sequences' worth, spares held for later forks. */
interface Family {
  readonly width: number
  /** Beam search forks and discards beams every step: a discarded beam's run is kept for the next fork. */
  readonly keepsFreedRuns: boolean
  spares: number[][]
}

interface SeqBlocks {
  readonly seq: Sequence
  table: number[]
  /** Sequences forked from one admission share a family; under reserving policies it owns their spare runs. */
  readonly family: number
  /** Leading full blocks already offered to the prefix cache, and the cache entry standing for that prefix. */
  hashedBlocks: number
  chainTip: CachedBlock | null
  /** Set when a hash collision stops this sequence's later blocks from being cached. */
  chainBroken: boolean
}

export class BlockManager {
  readonly blockSize: number
  readonly policy: KvPolicy
  private readonly device: KvBlockPool
  private readonly host: KvBlockPool
  /** Only under 'paged': reserving policies neither share nor reuse blocks. */
  private readonly prefixCache: PrefixCache | null
  private readonly watermarkBlocks: number
  private readonly maxModelLen: number
  private readonly onDevice = new Map<number, SeqBlocks>()
  private readonly onHost = new Map<number, SeqBlocks>()
  /** Under reserving policies: each admitted group's runs not held by a sequence right now. */
  private readonly families = new Map<number, Family>()
  private nextFamily = 0
  private promptTokensQueried = 0
  private promptTokensReused = 0

  constructor(opts: BlockManagerOptions) {
    if (!(Number.isInteger(opts.numBlocks) && opts.numBlocks > 0)) throw new Error(`numBlocks must be a positive integer, got ${opts.numBlocks}`)
    if (!(Number.isInteger(opts.blockSize) && opts.blockSize > 0)) throw new Error(`blockSize must be a positive integer, got ${opts.blockSize}`)
    this.blockSize = opts.blockSize
    this.policy = opts.policy
    this.maxModelLen = opts.maxModelLen
    this.device = new KvBlockPool(opts.numBlocks)
    this.host = new KvBlockPool(opts.numSwapBlocks)
    const paged = !reservesUpfront(opts.policy)
    this.prefixCache = paged && opts.enablePrefixCaching ? new PrefixCache(opts.blockHasher) : null
    this.watermarkBlocks = paged ? Math.floor(opts.watermark * opts.numBlocks) : 0
  }

  /** Truly allocatable now: the free list plus evictable cached blocks. */
  get numFreeBlocks(): number {
    return this.device.numFree + (this.prefixCache?.numCached ?? 0)
  }

  get numTotalBlocks(): number {
    return this.device.numBlocks
  }

  get numFreeSwapBlocks(): number {
    return this.host.numFree
  }

  /** Share of prompt tokens (since start) whose KV came from the prefix cache. */
  get prefixCacheHitRate(): number {
    return this.promptTokensQueried === 0 ? 0 : this.promptTokensReused / this.promptTokensQueried
  }

  canAllocate(group: SequenceGroup): AllocStatus {
    if (this.admissionNeverFits(group) !== null) return 'never'
    const seqs = this.unplaced(group)
    if (reservesUpfront(this.policy)) return this.device.findRuns(this.runLength(group), Math.max(group.params.bestOf, seqs.length)) === null ? 'later' : 'ok'
    let newBlocks = 0
    for (const seq of seqs) {
      // Hits on blocks other sequences hold cost nothing; hits on evictable blocks are already counted as free.
      const heldHits = this.matchCachedPrefix(seq).filter((hit) => this.device.refCount(hit.blockId) > 0).length
      newBlocks += blocksForTokens(seq.length, this.blockSize) - heldHits
    }
    return this.numFreeBlocks - newBlocks >= this.watermarkBlocks ? 'ok' : 'later'
  }

  /**
   * Why the group could never run to its end in this pool, even alone, or null: canAllocate's 'never', or
   * (paged) the blocks all its sequences hold at their longest (prompt blocks shared, each fork's own tail
   * and a copied last prompt block) beyond the whole pool, where it would preempt itself forever.
   */
  neverFits(group: SequenceGroup): string | null {
    const atAdmission = this.admissionNeverFits(group)
    if (atAdmission !== null || reservesUpfront(this.policy)) return atAdmission
    const {maxTokens} = group.params
    const width = Math.max(group.params.bestOf, this.unplaced(group).length)
    const peak = blocksForTokens(group.promptLength + maxTokens, this.blockSize) + (width - 1) * (blocksForTokens(maxTokens, this.blockSize) + 1)
    if (peak <= this.device.numBlocks) return null
    return `the request needs up to ${peak} KV blocks (${group.promptLength} prompt tokens + ${maxTokens} max_tokens, ${width} sequences) but ${this.poolDescription}`
  }

  allocate(group: SequenceGroup): void {
    const seqs = this.unplaced(group)
    if (seqs.length === 0) return
    const family = this.nextFamily++
    if (reservesUpfront(this.policy)) {
      const width = Math.max(group.params.bestOf, seqs.length)
      const runs = this.device.allocateRuns(this.runLength(group), width)
      if (runs === null) throw new Error(`allocate(${group.requestId}) without room: call canAllocate first`)
      seqs.forEach((seq, index) => {
        seq.numComputedTokens = 0
        this.onDevice.set(seq.seqId, this.newState(seq, runs[index]!, family))
      })
      this.families.set(family, {width, keepsFreedRuns: group.params.useBeamSearch, spares: runs.slice(seqs.length)})
      return
    }
    for (const seq of seqs) {
      const hits = this.matchCachedPrefix(seq)
      // Take the hits before allocating: a fresh allocation may otherwise evict one of them.
      const table = hits.map((hit) => this.reuse(hit.blockId))
      const needed = blocksForTokens(seq.length, this.blockSize)
      while (table.length < needed) table.push(this.takeFreeBlock())
      seq.numComputedTokens = hits.length * this.blockSize
      const state = this.newState(seq, table, family)
      state.hashedBlocks = hits.length
      state.chainTip = hits.at(-1) ?? null
      this.onDevice.set(seq.seqId, state)
      if (this.prefixCache !== null) {
        this.promptTokensQueried += seq.length
        this.promptTokensReused += seq.numComputedTokens
      }
    }
  }

  /** Tokens of seq that allocate() would take from the prefix cache now (a multiple of blockSize, < seq.length). */
  cachedPrefixTokens(seq: Sequence): number {
    return this.matchCachedPrefix(seq).length * this.blockSize
  }

  canAppendSlots(group: SequenceGroup): boolean {
    let needed = 0
    for (const state of this.statesOf(group, this.onDevice)) needed += this.blocksToGrow(state)
    return needed <= this.numFreeBlocks
  }

  /** Makes the table cover seq.length tokens; copies out any shared block that the coming step writes into. */
  appendSlots(seq: Sequence): BlockCopy[] {
    const state = this.stateOf(seq)
    const {table} = state
    const needed = blocksForTokens(seq.length, this.blockSize)
    if (reservesUpfront(this.policy)) {
      if (needed > table.length) throw new Error(`sequence ${seq.seqId} outgrew its reservation of ${table.length} blocks`)
      return []
    }
    const copies: BlockCopy[] = []
    for (let index = this.firstWrittenBlock(seq); index < Math.min(table.length, needed); index++) {
      const shared = table[index]!
      if (this.device.refCount(shared) === 1) continue
      const fresh = this.takeFreeBlock()
      this.device.decRef(shared)
      table[index] = fresh
      copies.push({src: shared, dst: fresh})
    }
    while (table.length < needed) table.push(this.takeFreeBlock())
    return copies
  }

  canFork(parent: Sequence): boolean {
    const state = this.stateOf(parent)
    if (!reservesUpfront(this.policy) || (this.families.get(state.family)?.spares.length ?? 0) > 0) return true
    return this.device.findRuns(state.table.length, 1) !== null
  }

  fork(parent: Sequence, child: Sequence): BlockCopy[] {
    const parentState = this.stateOf(parent)
    if (this.onDevice.has(child.seqId) || this.onHost.has(child.seqId)) throw new Error(`fork into sequence ${child.seqId} that already has blocks`)
    if (!reservesUpfront(this.policy)) {
      for (const blockId of parentState.table) this.device.incRef(blockId)
      this.onDevice.set(child.seqId, {...parentState, seq: child, table: [...parentState.table]})
      return []
    }
    const run = this.families.get(parentState.family)?.spares.shift() ?? this.device.allocateRuns(parentState.table.length, 1)?.[0]
    if (run === undefined) throw new Error(`fork of sequence ${parent.seqId} without room: call canFork first`)
    this.onDevice.set(child.seqId, this.newState(child, run, parentState.family))
    const filled = blocksForTokens(parent.numComputedTokens, this.blockSize)
    return parentState.table.slice(0, filled).map((src, index) => ({src, dst: run[index]!}))
  }

  free(seq: Sequence): void {
    const onDevice = this.onDevice.get(seq.seqId)
    if (onDevice !== undefined) {
      this.onDevice.delete(seq.seqId)
      const family = this.families.get(onDevice.family)
      const members = this.familyMembers(onDevice.family)
      if (family !== undefined && family.keepsFreedRuns && members > 0 && members + family.spares.length < family.width) family.spares.push(onDevice.table)
      else this.releaseDeviceBlocks(onDevice.table)
    }
    const onHost = this.onHost.get(seq.seqId)
    if (onHost !== undefined) {
      this.onHost.delete(seq.seqId)
      for (const blockId of onHost.table) if (this.host.decRef(blockId) === 0) this.host.release(blockId)
    }
    const family = (onDevice ?? onHost)?.family
    if (family !== undefined && this.familyMembers(family) === 0) {
      this.releaseSpareRuns(family)
      this.families.delete(family)
    }
  }

  /** Offers the sequence's full, computed blocks to the prefix cache (generated tokens' blocks too). */
  markComputed(seq: Sequence): void {
    const state = this.onDevice.get(seq.seqId)
    if (this.prefixCache === null || state === undefined || state.chainBroken) return
    const fullBlocks = Math.min(Math.floor(seq.numComputedTokens / this.blockSize), state.table.length)
    while (state.hashedBlocks < fullBlocks) {
      const index = state.hashedBlocks
      const tokens = seq.tokenIds.slice(index * this.blockSize, (index + 1) * this.blockSize)
      const entry = this.prefixCache.register(state.table[index]!, state.chainTip, tokens)
      if (entry === null) {
        state.chainBroken = true
        return
      }
      state.chainTip = entry
      state.hashedBlocks++
    }
  }

  getBlockTable(seq: Sequence): readonly number[] {
    return this.onDevice.get(seq.seqId)?.table ?? []
  }

  canSwapOut(group: SequenceGroup): boolean {
    return this.distinctBlocks(this.statesOf(group, this.onDevice)) <= this.host.numFree
  }

  /** Moves every unfinished sequence's blocks to host memory; a block shared within the group is copied once. */
  swapOut(group: SequenceGroup): BlockMapping[] {
    const deviceToHost = new Map<number, number>()
    for (const state of this.statesOf(group, this.onDevice)) {
      const hostTable = state.table.map((blockId) => this.shareOrTake(deviceToHost, blockId, this.host, () => this.host.allocate()))
      this.onDevice.delete(state.seq.seqId)
      this.releaseDeviceBlocks(state.table)
      this.onHost.set(state.seq.seqId, {...state, table: hostTable, hashedBlocks: 0, chainTip: null, chainBroken: false})
      // Spare runs would hold device memory while the group is away; forks after swap-in reserve anew.
      this.releaseSpareRuns(state.family)
    }
    return [...deviceToHost].map(([from, to]) => ({from, to}))
  }

  canSwapIn(group: SequenceGroup): boolean {
    const states = this.statesOf(group, this.onHost)
    if (states.length === 0) return true
    if (reservesUpfront(this.policy)) return this.device.findRuns(states[0]!.table.length, states.length) !== null
    // Each returning sequence may need one more block for its next token right away.
    return this.numFreeBlocks - this.distinctBlocks(states) - states.length >= this.watermarkBlocks
  }

  swapIn(group: SequenceGroup): BlockMapping[] {
    const states = this.statesOf(group, this.onHost)
    const hostToDevice = new Map<number, number>()
    const runs = reservesUpfront(this.policy) && states.length > 0 ? this.device.allocateRuns(states[0]!.table.length, states.length) : null
    if (reservesUpfront(this.policy) && states.length > 0 && runs === null) throw new Error(`swapIn(${group.requestId}) without room: call canSwapIn first`)
    states.forEach((state, seqIndex) => {
      const deviceTable = state.table.map((hostBlock, index) => {
        if (runs !== null) {
          hostToDevice.set(hostBlock, runs[seqIndex]![index]!)
          return runs[seqIndex]![index]!
        }
        return this.shareOrTake(hostToDevice, hostBlock, this.device, () => this.takeFreeBlock())
      })
      this.onHost.delete(state.seq.seqId)
      for (const hostBlock of state.table) if (this.host.decRef(hostBlock) === 0) this.host.release(hostBlock)
      this.onDevice.set(state.seq.seqId, {...state, table: deviceTable})
    })
    return [...hostToDevice].map(([from, to]) => ({from, to}))
  }

  memoryStats(): KvMemoryStats {
    const holders: BlockHolder[] = [...this.onDevice.values()].map((state) => ({table: state.table, numTokens: state.seq.length}))
    for (const family of this.families.values()) for (const run of family.spares) holders.push({table: run, numTokens: 0})
    return computeKvMemoryStats({
      blockSize: this.blockSize,
      totalBlocks: this.device.numBlocks,
      freeBlocks: this.device.numFree,
      cachedBlocks: this.prefixCache?.numCached ?? 0,
      holders,
    })
  }

  /** Throws with a description when any bookkeeping invariant is broken. */
  checkInvariants(): void {
    this.device.checkInvariants('device pool')
    this.host.checkInvariants('host pool')
    this.prefixCache?.checkInvariants()
    const deviceTables = [...this.onDevice.values()].map((state) => state.table)
    for (const family of this.families.values()) deviceTables.push(...family.spares)
    const deviceHolders = countHolders(deviceTables, 'device')
    let used = 0
    for (let blockId = 0; blockId < this.device.numBlocks; blockId++) {
      const refs = this.device.refCount(blockId)
      const parked = this.prefixCache?.isParked(blockId) ?? false
      if (refs !== (deviceHolders.get(blockId) ?? 0)) throw new Error(`device block ${blockId}: refCount ${refs} but ${deviceHolders.get(blockId) ?? 0} holders`)
      if (refs > 0 && parked) throw new Error(`device block ${blockId} is referenced and in the evictor`)
      if (refs === 0 && this.device.isFree(blockId) === parked) throw new Error(`device block ${blockId} is unreferenced but ${parked ? 'both free and cached' : 'neither free nor cached'}`)
      if (this.device.isFree(blockId) && this.prefixCache?.entryOf(blockId) !== undefined) throw new Error(`free device block ${blockId} is still in the prefix cache`)
      if (refs > 0) used++
    }
    const cached = this.prefixCache?.numCached ?? 0
    if (used + this.device.numFree + cached !== this.device.numBlocks)
      throw new Error(`used ${used} + free ${this.device.numFree} + cached ${cached} != total ${this.device.numBlocks}`)
    const hostHolders = countHolders([...this.onHost.values()].map((state) => state.table), 'host')
    for (let blockId = 0; blockId < this.host.numBlocks; blockId++) {
      const refs = this.host.refCount(blockId)
      if (refs !== (hostHolders.get(blockId) ?? 0)) throw new Error(`host block ${blockId}: refCount ${refs} but ${hostHolders.get(blockId) ?? 0} holders`)
      if (refs === 0 && !this.host.isFree(blockId)) throw new Error(`host block ${blockId} is unreferenced but not free`)
    }
    for (const state of this.onDevice.values()) {
      if (state.table.length * this.blockSize < state.seq.numComputedTokens)
        throw new Error(`sequence ${state.seq.seqId}: table of ${state.table.length} blocks cannot hold ${state.seq.numComputedTokens} computed tokens`)
      if (reservesUpfront(this.policy) && state.table.some((blockId, index) => blockId !== state.table[0]! + index))
        throw new Error(`sequence ${state.seq.seqId}: reserved run is not contiguous`)
    }
  }

  /** Why canAllocate could never say 'ok', even in an empty pool: the policy's reservation, or (paged) the prompt beyond the pool less its watermark. */
  private admissionNeverFits(group: SequenceGroup): string | null {
    const seqs = this.unplaced(group)
    if (reservesUpfront(this.policy)) {
      const runLength = this.runLength(group)
      const width = Math.max(group.params.bestOf, seqs.length)
      if (width * runLength <= this.device.numBlocks) return null
      return `the ${this.policy} policy reserves ${width} x ${runLength} KV blocks up front for this request but ${this.poolDescription}`
    }
    const promptBlocks = seqs.reduce((sum, seq) => sum + blocksForTokens(seq.length, this.blockSize), 0)
    if (promptBlocks <= this.device.numBlocks - this.watermarkBlocks) return null
    return `the prompt needs ${promptBlocks} KV blocks at admission but ${this.poolDescription}, ${this.watermarkBlocks} of them kept free (--watermark)`
  }

  private get poolDescription(): string {
    return `the KV cache has ${this.device.numBlocks} blocks of ${this.blockSize} tokens`
  }

  private newState(seq: Sequence, table: number[], family: number): SeqBlocks {
    return {seq, table, family, hashedBlocks: 0, chainTip: null, chainBroken: false}
  }

  private stateOf(seq: Sequence): SeqBlocks {
    const state = this.onDevice.get(seq.seqId)
    if (state === undefined) throw new Error(`sequence ${seq.seqId} has no blocks on the device`)
    return state
  }

  /** Unfinished sequences of the group that hold no blocks yet (a new prompt, or one preempted by recompute). */
  private unplaced(group: SequenceGroup): Sequence[] {
    return group.sequences.filter((seq) => !isFinished(seq.status) && !this.onDevice.has(seq.seqId) && !this.onHost.has(seq.seqId))
  }

  private statesOf(group: SequenceGroup, where: Map<number, SeqBlocks>): SeqBlocks[] {
    return group.unfinished.flatMap((seq) => where.get(seq.seqId) ?? [])
  }

  private runLength(group: SequenceGroup): number {
    const longest = Math.max(...group.unfinished.map((seq) => seq.length), group.promptLength)
    const tokens = Math.max(reservedTokens(this.policy, group.promptLength, group.params.maxTokens, this.maxModelLen), longest)
    return blocksForTokens(tokens, this.blockSize)
  }

  /** Leading full blocks of seq found in the prefix cache, stopping short of its last token (which must be computed). */
  private matchCachedPrefix(seq: Sequence): CachedBlock[] {
    const hits: CachedBlock[] = []
    if (this.prefixCache === null) return hits
    const reusable = Math.floor((seq.length - 1) / this.blockSize)
    let parent: CachedBlock | null = null
    while (hits.length < reusable) {
      const start = hits.length * this.blockSize
      const hit = this.prefixCache.lookup(parent, seq.tokenIds.slice(start, start + this.blockSize))
      if (hit === null) break
      hits.push(hit)
      parent = hit
    }
    return hits
  }

  private reuse(blockId: number): number {
    if (this.device.refCount(blockId) > 0) {
      this.device.incRef(blockId)
    } else {
      this.prefixCache!.unpark(blockId)
      this.device.unpark(blockId)
    }
    return blockId
  }

  /** A block from the free list, else the least recently used cached one. */
  private takeFreeBlock(): number {
    if (this.device.numFree > 0) return this.device.allocate()
    const evicted = this.prefixCache?.evictOldest()
    if (evicted === undefined) throw new Error('KV pool exhausted: the scheduler must check for room first')
    this.device.unpark(evicted)
    return evicted
  }

  /** Last block first, so a freed chain is evicted from its tail: a cached prefix keeps its head longest. */
  private releaseDeviceBlocks(table: readonly number[]): void {
    for (let index = table.length - 1; index >= 0; index--) {
      const blockId = table[index]!
      if (this.device.decRef(blockId) > 0) continue
      if (this.prefixCache?.park(blockId) !== true) this.device.release(blockId)
    }
  }

  private firstWrittenBlock(seq: Sequence): number {
    return Math.floor(seq.numComputedTokens / this.blockSize)
  }

  /** New blocks the next appendSlots may take: growth plus copy-on-write of shared blocks in the written range. */
  private blocksToGrow(state: SeqBlocks): number {
    const needed = blocksForTokens(state.seq.length, this.blockSize)
    if (reservesUpfront(this.policy)) return needed > state.table.length ? Infinity : 0
    let copies = 0
    for (let index = this.firstWrittenBlock(state.seq); index < Math.min(state.table.length, needed); index++) {
      if (this.device.refCount(state.table[index]!) > 1) copies++
    }
    return Math.max(0, needed - state.table.length) + copies
  }

  private distinctBlocks(states: readonly SeqBlocks[]): number {
    return new Set(states.flatMap((state) => state.table)).size
  }

  /** Maps a block to its copy in the other pool, taking the copy once and adding a reference for each later sharer. */
  private shareOrTake(mapping: Map<number, number>, blockId: number, target: KvBlockPool, take: () => number): number {
    const existing = mapping.get(blockId)
    if (existing !== undefined) {
      target.incRef(existing)
      return existing
    }
    const copy = take()
    mapping.set(blockId, copy)
    return copy
  }

  private familyMembers(family: number): number {
    let members = 0
    for (const state of this.onDevice.values()) if (state.family === family) members++
    for (const state of this.onHost.values()) if (state.family === family) members++
    return members
  }

  private releaseSpareRuns(family: number): void {
    const runs = this.families.get(family)
    for (const run of runs?.spares ?? []) this.releaseDeviceBlocks(run)
    if (runs !== undefined) runs.spares = []
  }
}

function countHolders(tables: readonly (readonly number[])[], label: string): Map<number, number> {
  const holders = new Map<number, number>()
  for (const table of tables) {
    if (new Set(table).size !== table.length) throw new Error(`${label}: a table lists one block twice: [${table.join(', ')}]`)
    for (const blockId of table) holders.set(blockId, (holders.get(blockId) ?? 0) + 1)
  }
  return holders
}
