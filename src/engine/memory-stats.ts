// KV memory accounting: the one set of numbers that bench, /metrics and the plots read.

export interface KvMemoryStats {
  blockSize: number
  totalBlocks: number
  /** Blocks referenced by at least one sequence (or reserved for a sequence's future fork). */
  usedBlocks: number
  /** Blocks on the free list. */
  freeBlocks: number
  /** Unreferenced blocks that still hold a reusable prefix; allocatable, so count them as free. */
  cachedBlocks: number
  /** Token slots holding a token of some sequence, each physical slot counted once. */
  tokensStored: number
  /** usedBlocks * blockSize. */
  reservedSlots: number
  /** Reserved slots holding no token: internal fragmentation plus unused reservations. */
  wasteSlots: number
  /** Blocks referenced by more than one sequence. */
  sharedBlocks: number
  /** Tokens the sequences hold minus tokensStored: what sharing saved. */
  savedBySharing: number
}

/** One holder of blocks: a sequence's table and how many of its leading slots hold tokens. */
export interface BlockHolder {
  readonly table: readonly number[]
  readonly numTokens: number
}

export function computeKvMemoryStats(pool: {
  blockSize: number
  totalBlocks: number
  freeBlocks: number
  cachedBlocks: number
  holders: Iterable<BlockHolder>
}): KvMemoryStats {
  const {blockSize} = pool
  const filledPerBlock = new Map<number, number>()
  const holdersPerBlock = new Map<number, number>()
  let tokensHeld = 0
  for (const {table, numTokens} of pool.holders) {
    const held = Math.min(numTokens, table.length * blockSize)
    tokensHeld += held
    table.forEach((blockId, index) => {
      const filled = Math.max(0, Math.min(blockSize, held - index * blockSize))
      filledPerBlock.set(blockId, Math.max(filledPerBlock.get(blockId) ?? 0, filled))
      holdersPerBlock.set(blockId, (holdersPerBlock.get(blockId) ?? 0) + 1)
    })
  }
  let tokensStored = 0
  for (const filled of filledPerBlock.values()) tokensStored += filled
  let sharedBlocks = 0
  for (const holders of holdersPerBlock.values()) if (holders > 1) sharedBlocks++
  const usedBlocks = filledPerBlock.size
  const reservedSlots = usedBlocks * blockSize
  return {
    blockSize,
    totalBlocks: pool.totalBlocks,
    usedBlocks,
    freeBlocks: pool.freeBlocks,
    cachedBlocks: pool.cachedBlocks,
    tokensStored,
    reservedSlots,
    wasteSlots: reservedSlots - tokensStored,
    sharedBlocks,
    savedBySharing: tokensHeld - tokensStored,
  }
}
