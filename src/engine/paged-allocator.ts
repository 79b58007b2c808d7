// The 'paged' policy's allocator (PagedAttention): blocks on demand, shared by forks with copy-on-write, prefix reuse.
import type {AllocStatus, BlockCopy, BlockTables, KvAllocator, SeqBlocks} from './block-tables.js'
import type {KvBlockPool} from './block-pool.js'
import {blocksForTokens} from './kv-policy.js'
import {PrefixCache, type BlockHasher, type CachedBlock} from './prefix-cache.js'
import type {Sequence, SequenceGroup} from './sequence.js'
import {blocksBehindWindow, liveBlockBound, RELEASED_BLOCK, tokensToCover, type WindowRelease} from './window-blocks.js'

/** A sequence's admission: the prefix-cache hits it takes, of which the first `behind` are already behind its window. */
interface AdmissionPlan {
  hits: CachedBlock[]
  behind: number
  /** Blocks its table covers at admission (computed hits plus one chunk, or the whole sequence without a window). */
  blocks: number
}

export class PagedAllocator implements KvAllocator {
  private readonly prefixCache: PrefixCache | null
  /** Blocks kept free at admission so running sequences can grow. */
  private readonly watermarkBlocks: number
  prefixCacheQueries = 0
  prefixCacheHits = 0

  private readonly release: WindowRelease

  constructor(
    private readonly tables: BlockTables,
    opts: {watermark: number; enablePrefixCaching: boolean; blockHasher?: BlockHasher; windowRelease: WindowRelease},
  ) {
    this.release = opts.windowRelease
    this.prefixCache = opts.enablePrefixCaching ? new PrefixCache(opts.blockHasher) : null
    this.watermarkBlocks = Math.floor(opts.watermark * tables.device.numBlocks)
  }

  /** Truly allocatable now: the free list plus evictable cached blocks. */
  get numFreeBlocks(): number {
    return this.tables.device.numFree + this.numCachedBlocks
  }

  get numCachedBlocks(): number {
    return this.prefixCache?.numCached ?? 0
  }

  canAllocate(group: SequenceGroup, seqs: readonly Sequence[], alone = false): AllocStatus {
    if (this.admissionNeverFits(seqs) !== null) return 'never'
    const {device} = this.tables
    let newBlocks = 0
    for (const seq of seqs) {
      // Hits on blocks other sequences hold cost nothing; hits on evictable blocks are already counted as free; hits
      // behind the window are not taken at all.
      const {hits, behind, blocks} = this.admissionPlan(group, seq)
      const heldHits = hits.slice(behind).filter((hit) => device.refCount(hit.blockId) > 0).length
      newBlocks += blocks - behind - heldHits
    }
    return this.numFreeBlocks - newBlocks >= (alone ? 0 : this.watermarkBlocks) ? 'ok' : 'later'
  }

  /**
   * canAllocate's 'never', or the blocks all the group's sequences hold at their longest (prompt blocks shared,
   * each fork's own tail and a copied last prompt block) beyond the whole pool, where it would preempt itself forever.
   */
  neverFits(group: SequenceGroup, seqs: readonly Sequence[]): string | null {
    const atAdmission = this.admissionNeverFits(seqs)
    if (atAdmission !== null) return atAdmission
    const {device, blockSize} = this.tables
    const {maxTokens} = group.params
    const width = Math.max(group.params.bestOf, seqs.length)
    const whole = blocksForTokens(group.promptLength + maxTokens, blockSize) + (width - 1) * (blocksForTokens(maxTokens, blockSize) + 1)
    // Behind a sliding window each sequence holds at most its live blocks, whatever its length.
    const peak = this.release.window > 0 ? Math.min(whole, width * liveBlockBound(group.promptLength + maxTokens, this.release, blockSize)) : whole
    if (peak <= device.numBlocks) return null
    return `the request needs up to ${peak} KV blocks (${group.promptLength} prompt tokens + ${maxTokens} max_tokens, ${width} sequences) but ${this.tables.poolDescription}`
  }

  /**
   * The prompts beyond the pool less its watermark: the admission test could never pass. A preempted group coming back
   * (prompt + output) is admitted without the watermark once it is alone, so only the whole pool bounds it.
   */
  private admissionNeverFits(seqs: readonly Sequence[]): string | null {
    const {device, blockSize} = this.tables
    const promptBlocks = seqs.reduce((sum, seq) => sum + blocksForTokens(tokensToCover({length: seq.length, numComputedTokens: 0}, this.release), blockSize), 0)
    const keptFree = seqs.some((seq) => seq.outputLength > 0) ? 0 : this.watermarkBlocks
    if (promptBlocks <= device.numBlocks - keptFree) return null
    return `the prompt needs ${promptBlocks} KV blocks at admission but ${this.tables.poolDescription}, ${this.watermarkBlocks} of them kept free (--watermark)`
  }

  allocate(group: SequenceGroup, seqs: readonly Sequence[], family: number): void {
    for (const seq of seqs) {
      const {hits, behind, blocks} = this.admissionPlan(group, seq)
      // Take the hits before allocating: a fresh allocation may otherwise evict one of them.
      const table = hits.map((hit, index) => (index < behind ? RELEASED_BLOCK : this.reuse(hit.blockId)))
      while (table.length < blocks) table.push(this.takeFreeBlock())
      seq.numComputedTokens = hits.length * this.tables.blockSize
      const state = this.tables.newState(seq, table, family)
      state.hashedBlocks = hits.length
      state.chainTip = hits.at(-1) ?? null
      state.releasedBlocks = behind
      this.tables.onDevice.set(seq.seqId, state)
      if (this.prefixCache !== null) {
        this.prefixCacheQueries += seq.length
        this.prefixCacheHits += seq.numComputedTokens
      }
    }
  }

  cachedPrefixTokens(seq: Sequence): number {
    return this.matchCachedPrefix(seq).length * this.tables.blockSize
  }

  /** Offers the sequence's full, computed blocks to the prefix cache (generated tokens' blocks too). */
  markComputed(state: SeqBlocks, writtenTokens: number): void {
    if (this.prefixCache === null || state.chainBroken) return
    const {seq} = state
    const blockSize = this.tables.blockSize
    // A block is hashed once a completed step has written its K/V and all its token ids are known.
    const fullBlocks = Math.min(Math.floor(Math.min(writtenTokens, seq.numComputedTokens, seq.resolvedLength) / blockSize), state.table.length)
    while (state.hashedBlocks < fullBlocks) {
      const index = state.hashedBlocks
      // Released before it was offered (its step was in flight, or the table was swapped): no chain continues past it.
      if (index < state.releasedBlocks) {
        state.chainBroken = true
        return
      }
      const tokens = seq.tokenIds.slice(index * blockSize, (index + 1) * blockSize)
      const entry = this.prefixCache.register(state.table[index]!, state.chainTip, tokens)
      if (entry === null) {
        state.chainBroken = true
        return
      }
      state.chainTip = entry
      state.hashedBlocks++
    }
  }

  /** Growth plus copy-on-write of shared blocks in the written range. */
  blocksToGrow(state: SeqBlocks, lookahead: number): number {
    return this.growth(state, lookahead, this.tables.device)
  }

  /** Growth of a table whose blocks live in `pool` (the device, or the host for a swapped-out table). */
  private growth(state: SeqBlocks, lookahead: number, pool: KvBlockPool): number {
    const needed = blocksForTokens(tokensToCover(state.seq, this.release) + lookahead, this.tables.blockSize)
    let copies = 0
    for (let index = this.tables.firstWrittenBlock(state.seq); index < Math.min(state.table.length, needed); index++) {
      if (pool.refCount(state.table[index]!) > 1) copies++
    }
    return Math.max(0, needed - state.table.length) + copies
  }

  /**
   * Makes the table cover seq.length + lookahead tokens (behind a window: one chunk past its computed tokens, plus the
   * lookahead); copies out any shared block that the coming step writes into.
   */
  appendSlots(state: SeqBlocks, lookahead: number): BlockCopy[] {
    const {seq, table} = state
    const needed = blocksForTokens(tokensToCover(seq, this.release) + lookahead, this.tables.blockSize)
    const copies: BlockCopy[] = []
    for (let index = this.tables.firstWrittenBlock(seq); index < Math.min(table.length, needed); index++) {
      const shared = table[index]!
      if (this.tables.device.refCount(shared) === 1) continue
      const fresh = this.takeFreeBlock()
      this.tables.device.decRef(shared)
      table[index] = fresh
      copies.push({src: shared, dst: fresh})
    }
    while (table.length < needed) table.push(this.takeFreeBlock())
    return copies
  }

  trimTo(state: SeqBlocks, tokens: number): void {
    const keep = blocksForTokens(tokens, this.tables.blockSize)
    if (keep < state.hashedBlocks) throw new Error(`sequence ${state.seq.seqId}: trimming to ${keep} blocks would drop prefix-cached blocks`)
    if (state.table.length > keep) this.releaseDeviceBlocks(state.table.splice(keep))
  }

  canFork(): boolean {
    return true
  }

  /** The child shares every block; copy-on-write separates them when one writes. */
  fork(parent: SeqBlocks, child: Sequence): BlockCopy[] {
    for (const blockId of parent.table) if (blockId !== RELEASED_BLOCK) this.tables.device.incRef(blockId)
    this.tables.onDevice.set(child.seqId, {...parent, seq: child, table: [...parent.table]})
    return []
  }

  releaseFreed(state: SeqBlocks): void {
    this.releaseDeviceBlocks(state.table)
  }

  familyGone(): void {}

  releaseSwappedOut(state: SeqBlocks): void {
    this.releaseDeviceBlocks(state.table)
  }

  /**
   * Releases the blocks behind the window of the next query (seq.numComputedTokens): no later query of this sequence
   * reads them, and a queued step that still does runs before any step that could reuse them (the native worker runs
   * steps in order). A fork's shared block loses this sequence's reference only; a block already offered to the prefix
   * cache stays there as evictable. One not yet offered (its step is still in flight: async scheduling with chunks
   * longer than the window) is not cached, and markComputed ends the sequence's chain there.
   */
  releaseBehindWindow(state: SeqBlocks): void {
    const behind = blocksBehindWindow(state.seq.numComputedTokens, this.release.window, this.tables.blockSize)
    for (; state.releasedBlocks < behind; state.releasedBlocks++) {
      const blockId = state.table[state.releasedBlocks]!
      state.table[state.releasedBlocks] = RELEASED_BLOCK
      this.releaseDeviceBlocks([blockId])
    }
  }

  canSwapIn(states: readonly SeqBlocks[], alone = false): boolean {
    // Each returning sequence grows right away: a block for its next token, or behind a window the rest of its chunk;
    // alone, the group grows to at most its peak, which fits the pool (neverFits), so its blocks are all it needs.
    const growth = this.release.window > 0 ? states.reduce((sum, state) => sum + this.growth(state, 0, this.tables.host), 0) : states.length
    const headroom = alone ? 0 : growth + this.watermarkBlocks
    return this.numFreeBlocks - this.tables.distinctBlocks(states) >= headroom
  }

  placeSwappedIn(states: readonly SeqBlocks[], hostToDevice: Map<number, number>): number[][] {
    return states.map((state) =>
      state.table.map((hostBlock) => this.tables.shareOrTake(hostToDevice, hostBlock, this.tables.device, () => this.takeFreeBlock())))
  }

  spareTables(): number[][] {
    return []
  }

  isParked(blockId: number): boolean {
    return this.prefixCache?.isParked(blockId) ?? false
  }

  checkInvariants(): void {
    this.prefixCache?.checkInvariants()
    for (let blockId = 0; blockId < this.tables.device.numBlocks; blockId++) {
      if (this.tables.device.isFree(blockId) && this.prefixCache?.entryOf(blockId) !== undefined) throw new Error(`free device block ${blockId} is still in the prefix cache`)
    }
  }

  /** Prompt logprobs need the logits of every prompt position, so such a request computes its whole prompt. */
  private reusableHits(group: SequenceGroup, seq: Sequence): CachedBlock[] {
    return group.params.promptLogprobs === null ? this.matchCachedPrefix(seq) : []
  }

  private admissionPlan(group: SequenceGroup, seq: Sequence): AdmissionPlan {
    const hits = this.reusableHits(group, seq)
    const computed = hits.length * this.tables.blockSize
    const blocks = blocksForTokens(tokensToCover({length: seq.length, numComputedTokens: computed}, this.release), this.tables.blockSize)
    return {hits, behind: blocksBehindWindow(computed, this.release.window, this.tables.blockSize), blocks}
  }

  /** Leading full blocks of seq found in the prefix cache, stopping short of its last token (which must be computed). */
  private matchCachedPrefix(seq: Sequence): CachedBlock[] {
    const hits: CachedBlock[] = []
    if (this.prefixCache === null) return hits
    const blockSize = this.tables.blockSize
    const reusable = Math.floor((seq.length - 1) / blockSize)
    let parent: CachedBlock | null = null
    while (hits.length < reusable) {
      const start = hits.length * blockSize
      const hit = this.prefixCache.lookup(parent, seq.tokenIds.slice(start, start + blockSize))
      if (hit === null) break
      hits.push(hit)
      parent = hit
    }
    return hits
  }

  private reuse(blockId: number): number {
    if (this.tables.device.refCount(blockId) > 0) {
      this.tables.device.incRef(blockId)
    } else {
      this.prefixCache!.unpark(blockId)
      this.tables.device.unpark(blockId)
    }
    return blockId
  }

  /** A block from the free list, else the least recently used cached one. */
  private takeFreeBlock(): number {
    if (this.tables.device.numFree > 0) return this.tables.device.allocate()
    const evicted = this.prefixCache?.evictOldest()
    if (evicted === undefined) throw new Error('KV pool exhausted: the scheduler must check for room first')
    this.tables.device.unpark(evicted)
    return evicted
  }

  /** Last block first, so a freed chain is evicted from its tail: a cached prefix keeps its head longest. */
  private releaseDeviceBlocks(table: readonly number[]): void {
    for (let index = table.length - 1; index >= 0; index--) {
      const blockId = table[index]!
      if (blockId === RELEASED_BLOCK || this.tables.device.decRef(blockId) > 0) continue
      if (this.prefixCache?.park(blockId) !== true) this.tables.device.release(blockId)
    }
  }
}
