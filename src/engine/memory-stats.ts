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

/** Per-block scratch counters, kept between calls (stats are taken every step) and zeroed again after each use. */
let filledScratch = new Int32Array(0)
let holdersScratch = new Int32Array(0)

export function computeKvMemoryStats(pool: {
  blockSize: number
  totalBlocks: number
  freeBlocks: number
  cachedBlocks: number
  holders: Iterable<BlockHolder>
}): KvMemoryStats {
  const {blockSize, totalBlocks} = pool
  if (filledScratch.length < totalBlocks) {
    filledScratch = new Int32Array(totalBlocks)
    holdersScratch = new Int32Array(totalBlocks)
  }
  const filledPerBlock = filledScratch
  const holdersPerBlock = holdersScratch
  const touched: number[] = []
  let tokensHeld = 0
  for (const {table, numTokens} of pool.holders) {
    const held = Math.min(numTokens, table.length * blockSize)
    for (let index = 0; index < table.length; index++) {
      const blockId = table[index]!
      // A block released behind a sliding window (a negative id) holds nothing any more.
      if (blockId < 0) continue
      const filled = Math.max(0, Math.min(blockSize, held - index * blockSize))
      tokensHeld += filled
      if (holdersPerBlock[blockId] === 0) touched.push(blockId)
      holdersPerBlock[blockId]!++
      if (filled > filledPerBlock[blockId]!) filledPerBlock[blockId] = filled
    }
  }
  let tokensStored = 0
  let sharedBlocks = 0
  for (const blockId of touched) {
    tokensStored += filledPerBlock[blockId]!
    if (holdersPerBlock[blockId]! > 1) sharedBlocks++
    filledPerBlock[blockId] = 0
    holdersPerBlock[blockId] = 0
  }
  const usedBlocks = touched.length
  const reservedSlots = usedBlocks * blockSize
  return {
    blockSize,
    totalBlocks,
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
