// The 'paged' policy's allocator (PagedAttention): blocks on demand, shared by forks with copy-on-write, prefix reuse.
import type {AllocStatus, BlockCopy, BlockTables, KvAllocator, SeqBlocks} from './block-tables.js'
import {blocksForTokens} from './kv-policy.js'
import {PrefixCache, type BlockHasher, type CachedBlock} from './prefix-cache.js'
import type {Sequence, SequenceGroup} from './sequence.js'

export class PagedAllocator implements KvAllocator {
  private readonly prefixCache: PrefixCache | null
  /** Blocks kept free at admission so running sequences can grow. */
  private readonly watermarkBlocks: number
  prefixCacheQueries = 0
  prefixCacheHits = 0

  constructor(private readonly tables: BlockTables, opts: {watermark: number; enablePrefixCaching: boolean; blockHasher?: BlockHasher}) {
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
    const {device, blockSize} = this.tables
    let newBlocks = 0
    for (const seq of seqs) {
      // Hits on blocks other sequences hold cost nothing; hits on evictable blocks are already counted as free.
      const heldHits = this.reusableHits(group, seq).filter((hit) => device.refCount(hit.blockId) > 0).length
      newBlocks += blocksForTokens(seq.length, blockSize) - heldHits
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
    const peak = blocksForTokens(group.promptLength + maxTokens, blockSize) + (width - 1) * (blocksForTokens(maxTokens, blockSize) + 1)
    if (peak <= device.numBlocks) return null
    return `the request needs up to ${peak} KV blocks (${group.promptLength} prompt tokens + ${maxTokens} max_tokens, ${width} sequences) but ${this.tables.poolDescription}`
  }

  /**
   * The prompts beyond the pool less its watermark: the admission test could never pass. A preempted group coming back
   * (prompt + output) is admitted without the watermark once it is alone, so only the whole pool bounds it.
   */
  private admissionNeverFits(seqs: readonly Sequence[]): string | null {
    const {device, blockSize} = this.tables
    const promptBlocks = seqs.reduce((sum, seq) => sum + blocksForTokens(seq.length, blockSize), 0)
    const keptFree = seqs.some((seq) => seq.outputLength > 0) ? 0 : this.watermarkBlocks
    if (promptBlocks <= device.numBlocks - keptFree) return null
    return `the prompt needs ${promptBlocks} KV blocks at admission but ${this.tables.poolDescription}, ${this.watermarkBlocks} of them kept free (--watermark)`
  }

  allocate(group: SequenceGroup, seqs: readonly Sequence[], family: number): void {
    for (const seq of seqs) {
      const hits = this.reusableHits(group, seq)
      // Take the hits before allocating: a fresh allocation may otherwise evict one of them.
      const table = hits.map((hit) => this.reuse(hit.blockId))
      const needed = blocksForTokens(seq.length, this.tables.blockSize)
      while (table.length < needed) table.push(this.takeFreeBlock())
      seq.numComputedTokens = hits.length * this.tables.blockSize
      const state = this.tables.newState(seq, table, family)
      state.hashedBlocks = hits.length
      state.chainTip = hits.at(-1) ?? null
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
    const needed = blocksForTokens(state.seq.length + lookahead, this.tables.blockSize)
    let copies = 0
    for (let index = this.tables.firstWrittenBlock(state.seq); index < Math.min(state.table.length, needed); index++) {
      if (this.tables.device.refCount(state.table[index]!) > 1) copies++
    }
    return Math.max(0, needed - state.table.length) + copies
  }

  /** Makes the table cover seq.length + lookahead tokens; copies out any shared block that the coming step writes into. */
  appendSlots(state: SeqBlocks, lookahead: number): BlockCopy[] {
    const {seq, table} = state
    const needed = blocksForTokens(seq.length + lookahead, this.tables.blockSize)
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
    for (const blockId of parent.table) this.tables.device.incRef(blockId)
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

  canSwapIn(states: readonly SeqBlocks[], alone = false): boolean {
    // Each returning sequence may need one more block for its next token right away; alone, the group grows to at
    // most its peak, which fits the pool (neverFits), so its blocks are all it needs.
    const headroom = alone ? 0 : states.length + this.watermarkBlocks
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
      if (this.tables.device.decRef(blockId) > 0) continue
      if (this.prefixCache?.park(blockId) !== true) this.tables.device.release(blockId)
    }
  }
}
