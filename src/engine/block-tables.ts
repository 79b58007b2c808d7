// What both KV allocators share: the device and host pools, every sequence's block table, and the KvAllocator contract.
import {KvBlockPool} from './block-pool.js'
import type {CachedBlock} from './prefix-cache.js'
import {isFinished, type Sequence, type SequenceGroup} from './sequence.js'
import {RELEASED_BLOCK} from './window-blocks.js'

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

export interface SeqBlocks {
  readonly seq: Sequence
  table: number[]
  /** Sequences forked from one admission share a family; under reserving policies it owns their spare runs. */
  readonly family: number
  /** Leading full blocks already offered to the prefix cache, and the cache entry standing for that prefix. */
  hashedBlocks: number
  chainTip: CachedBlock | null
  /** Set when a hash collision (or a block released before it was offered) stops this sequence's later blocks from being cached. */
  chainBroken: boolean
  /** Leading logical blocks given back behind a sliding window: RELEASED_BLOCK in the table (window-blocks.ts). */
  releasedBlocks: number
}

/**
 * How one policy family hands out device blocks: PagedAllocator (block by block, shared, prefix-cached) or
 * ReservingAllocator (one contiguous run per sequence at admission). BlockManager does the rest for both.
 */
export interface KvAllocator {
  /** Device blocks an allocation could take now. */
  readonly numFreeBlocks: number
  /** Unreferenced blocks kept for the prefix they hold (allocatable): 0 without a prefix cache. */
  readonly numCachedBlocks: number
  /** Prompt tokens looked up in the prefix cache at admission, and those found there. */
  readonly prefixCacheQueries: number
  readonly prefixCacheHits: number
  /**
   * 'never' exactly when neverFits finds a reason that holds at admission. alone: no other group holds blocks, so the
   * headroom kept for running sequences to grow into (the watermark) is not needed.
   */
  canAllocate(group: SequenceGroup, seqs: readonly Sequence[], alone?: boolean): AllocStatus
  /** Why `seqs` of the group could never be admitted, or never run to their end alone in this pool; null if they can. */
  neverFits(group: SequenceGroup, seqs: readonly Sequence[]): string | null
  /** Places `seqs` (none holds blocks yet) on the device as members of `family`. */
  allocate(group: SequenceGroup, seqs: readonly Sequence[], family: number): void
  cachedPrefixTokens(seq: Sequence): number
  markComputed(state: SeqBlocks, writtenTokens: number): void
  /** New blocks the next appendSlots may take (Infinity: it cannot grow at all); lookahead: draft tokens past seq.length. */
  blocksToGrow(state: SeqBlocks, lookahead: number): number
  appendSlots(state: SeqBlocks, lookahead: number): BlockCopy[]
  /** Gives back blocks past the first `tokens` tokens' (rejected draft tokens); they were never offered to the prefix cache. */
  trimTo(state: SeqBlocks, tokens: number): void
  canFork(parent: SeqBlocks): boolean
  fork(parent: SeqBlocks, child: Sequence): BlockCopy[]
  /** The sequence has just left the device for good (its state is already out of onDevice). */
  releaseFreed(state: SeqBlocks): void
  /** The last member of an admission has been freed. */
  familyGone(family: number): void
  /** The sequence's blocks have just been copied to the host. */
  releaseSwappedOut(state: SeqBlocks): void
  /** alone: as canAllocate's. */
  canSwapIn(states: readonly SeqBlocks[], alone?: boolean): boolean
  /** Gives back the blocks behind the window of the sequence's next query (a no-op without a window). */
  releaseBehindWindow(state: SeqBlocks): void
  /** Device tables for returning sequences (states non-empty), recording each host block's device copy. */
  placeSwappedIn(states: readonly SeqBlocks[], hostToDevice: Map<number, number>): number[][]
  /** Device runs held for no sequence right now (reserved for later forks). */
  spareTables(): number[][]
  isParked(blockId: number): boolean
  checkInvariants(): void
}

export class BlockTables {
  readonly device: KvBlockPool
  readonly host: KvBlockPool
  readonly onDevice = new Map<number, SeqBlocks>()
  readonly onHost = new Map<number, SeqBlocks>()

  constructor(readonly blockSize: number, numBlocks: number, numSwapBlocks: number) {
    this.device = new KvBlockPool(numBlocks)
    this.host = new KvBlockPool(numSwapBlocks)
  }

  /** The pool in words, for errors that say why a request can never fit. */
  get poolDescription(): string {
    return `the KV cache has ${this.device.numBlocks} blocks of ${this.blockSize} tokens`
  }

  newState(seq: Sequence, table: number[], family: number): SeqBlocks {
    return {seq, table, family, hashedBlocks: 0, chainTip: null, chainBroken: false, releasedBlocks: 0}
  }

  stateOf(seq: Sequence): SeqBlocks {
    const state = this.onDevice.get(seq.seqId)
    if (state === undefined) throw new Error(`sequence ${seq.seqId} has no blocks on the device`)
    return state
  }

  /** Unfinished sequences of the group that hold no blocks yet (a new prompt, or one preempted by recompute). */
  unplaced(group: SequenceGroup): Sequence[] {
    return group.sequences.filter((seq) => !isFinished(seq.status) && !this.onDevice.has(seq.seqId) && !this.onHost.has(seq.seqId))
  }

  statesOf(group: SequenceGroup, where: Map<number, SeqBlocks>): SeqBlocks[] {
    return group.unfinished.flatMap((seq) => where.get(seq.seqId) ?? [])
  }

  familyMembers(family: number): number {
    let members = 0
    for (const state of this.onDevice.values()) if (state.family === family) members++
    for (const state of this.onHost.values()) if (state.family === family) members++
    return members
  }

  /** Index of the first block the coming step writes into (blocks before it are computed and stay as they are). */
  firstWrittenBlock(seq: Sequence): number {
    return Math.floor(seq.numComputedTokens / this.blockSize)
  }

  distinctBlocks(states: readonly SeqBlocks[]): number {
    return new Set(states.flatMap((state) => state.table.slice(state.releasedBlocks))).size
  }

  /** Maps a block to its copy in the other pool, taking the copy once and adding a reference for each later sharer. */
  shareOrTake(mapping: Map<number, number>, blockId: number, target: KvBlockPool, take: () => number): number {
    if (blockId === RELEASED_BLOCK) return RELEASED_BLOCK
    const existing = mapping.get(blockId)
    if (existing !== undefined) {
      target.incRef(existing)
      return existing
    }
    const copy = take()
    mapping.set(blockId, copy)
    return copy
  }

  releaseHostBlocks(table: readonly number[]): void {
    for (const blockId of table) if (blockId !== RELEASED_BLOCK && this.host.decRef(blockId) === 0) this.host.release(blockId)
  }
}

/** Block id -> number of tables listing it (released entries are none); throws when one table lists a block twice. */
export function countHolders(tables: readonly (readonly number[])[], label: string): Map<number, number> {
  const holders = new Map<number, number>()
  for (const table of tables) {
    const held = table.filter((blockId) => blockId !== RELEASED_BLOCK)
    if (new Set(held).size !== held.length) throw new Error(`${label}: a table lists one block twice: [${table.join(', ')}]`)
    for (const blockId of held) holders.set(blockId, (holders.get(blockId) ?? 0) + 1)
  }
  return holders
}

/** Throws unless exactly the table's first `releasedBlocks` entries are released. */
export function checkReleasedPrefix(state: SeqBlocks, label: string): void {
  state.table.forEach((blockId, index) => {
    if ((blockId === RELEASED_BLOCK) !== index < state.releasedBlocks)
      throw new Error(`${label} sequence ${state.seq.seqId}: ${state.releasedBlocks} released blocks but entry ${index} is ${blockId}`)
  })
}
