// Prefix cache: chained block hash -> physical block holding those tokens, with an LRU evictor of unreferenced ones.

/** Hash of one full block given the hash of the prefix before it (ROOT_HASH for the first block). */
export type BlockHasher = (parentHash: number, tokenIds: readonly number[]) => number

export const ROOT_HASH = 0

/** 53-bit mix of the parent hash and the block's token ids (cyrb53-style): collisions are rare, and verified anyway. */
export const defaultBlockHasher: BlockHasher = (parentHash, tokenIds) => {
  let h1 = 0xdeadbeef ^ parentHash
  let h2 = 0x41c6ce57 ^ Math.floor(parentHash / 0x100000000)
  for (const token of tokenIds) {
    h1 = Math.imul(h1 ^ token, 2654435761)
    h2 = Math.imul(h2 ^ token, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}

/**
 * One cached block. Its identity is (parent entry, token ids): entry ids are never reused, so matching the parent
 * entry and the tokens proves the whole prefix is equal even when the hash chain collides.
 */
export interface CachedBlock {
  readonly entryId: number
  readonly hash: number
  readonly blockId: number
  readonly parentEntryId: number | null
  /** The parent's hash (ROOT_HASH for a first block): where a lookup finds the parent, if it still can. */
  readonly parentHash: number
  readonly tokenIds: readonly number[]
}

export class PrefixCache {
  private readonly byHash = new Map<number, CachedBlock>()
  private readonly byBlock = new Map<number, CachedBlock>()
  /** Unreferenced cached blocks in release order: the first key is the least recently used. */
  private readonly evictor = new Map<number, CachedBlock>()
  private nextEntryId = 0

  constructor(private readonly hasher: BlockHasher = defaultBlockHasher) {}

  get numCached(): number {
    return this.evictor.size
  }

  get numEntries(): number {
    return this.byBlock.size
  }

  hashOf(parent: CachedBlock | null, tokenIds: readonly number[]): number {
    return this.hasher(parent?.hash ?? ROOT_HASH, tokenIds)
  }

  /** The cached block holding exactly these tokens after exactly this prefix, if any. */
  lookup(parent: CachedBlock | null, tokenIds: readonly number[]): CachedBlock | null {
    const candidate = this.byHash.get(this.hashOf(parent, tokenIds))
    return candidate !== undefined && this.sameContent(candidate, parent, tokenIds) ? candidate : null
  }

  /**
   * Records that `blockId` holds `tokenIds` after `parent`. Returns the entry that now stands for this content: the
   * new one, or an existing identical one on another block (duplicate computation; ours stays unhashed). Returns null
   * when the hash is taken by different content (a collision): the block is simply not cached. A holder whose parent
   * no lookup finds any more (evicted, or itself taken over) is unreachable: the new entry takes its hash, and the
   * holder stays its block's entry until evicted (a sliding window releases a chain's head first: window-blocks.ts).
   */
  register(blockId: number, parent: CachedBlock | null, tokenIds: readonly number[]): CachedBlock | null {
    const known = this.byBlock.get(blockId)
    if (known !== undefined) return known
    const hash = this.hashOf(parent, tokenIds)
    const holder = this.byHash.get(hash)
    if (holder !== undefined && this.sameContent(holder, parent, tokenIds)) return holder
    if (holder !== undefined && this.isReachable(holder)) return null
    const entry: CachedBlock = {
      entryId: this.nextEntryId++, hash, blockId, parentEntryId: parent?.entryId ?? null, parentHash: parent?.hash ?? ROOT_HASH, tokenIds: [...tokenIds],
    }
    this.byHash.set(hash, entry)
    this.byBlock.set(blockId, entry)
    return entry
  }

  /** Whether a lookup can still find the entry's parent: a first block, or its parent still holds the parent's hash. */
  private isReachable(entry: CachedBlock): boolean {
    return entry.parentEntryId === null || this.byHash.get(entry.parentHash)?.entryId === entry.parentEntryId
  }

  entryOf(blockId: number): CachedBlock | undefined {
    return this.byBlock.get(blockId)
  }

  isParked(blockId: number): boolean {
    return this.evictor.has(blockId)
  }

  /** An unreferenced hashed block stays reusable until evicted. Returns false for unhashed blocks (caller frees them). */
  park(blockId: number): boolean {
    const entry = this.byBlock.get(blockId)
    if (entry === undefined) return false
    this.evictor.set(blockId, entry)
    return true
  }

  /** A prefix hit on a parked block takes it back out of the evictor. */
  unpark(blockId: number): void {
    if (!this.evictor.delete(blockId)) throw new Error(`block ${blockId} is not in the evictor`)
  }

  /** Forgets the least recently released block and returns its id for reuse, or undefined when none is parked. */
  evictOldest(): number | undefined {
    const oldest = this.evictor.keys().next()
    if (oldest.done) return undefined
    const blockId = oldest.value
    const entry = this.evictor.get(blockId)!
    this.evictor.delete(blockId)
    this.byBlock.delete(blockId)
    // An entry another has taken the hash from no longer holds it.
    if (this.byHash.get(entry.hash) === entry) this.byHash.delete(entry.hash)
    return blockId
  }

  checkInvariants(): void {
    for (const [hash, entry] of this.byHash) {
      if (entry.hash !== hash || this.byBlock.get(entry.blockId) !== entry) throw new Error(`prefix cache: hash ${hash} maps to a stale entry`)
    }
    if (this.byHash.size > this.byBlock.size) throw new Error('prefix cache: more hashes than cached blocks')
    for (const [blockId, entry] of this.evictor) {
      if (this.byBlock.get(blockId) !== entry) throw new Error(`prefix cache: parked block ${blockId} has no entry`)
    }
  }

  private sameContent(entry: CachedBlock, parent: CachedBlock | null, tokenIds: readonly number[]): boolean {
    return (
      entry.parentEntryId === (parent?.entryId ?? null) &&
      entry.tokenIds.length === tokenIds.length &&
      entry.tokenIds.every((token, index) => token === tokenIds[index])
    )
  }
}
