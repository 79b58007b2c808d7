// Test-side block tables and flattened batches for the native forward, written independently of the engine's block manager.
import type {ForwardBatchArrays} from '../../src/engine/native.js'
import {SeededRandom} from '../../src/engine/model/seeded-random.js'

/** Hands out KV block ids in a fixed order: ascending, or shuffled by a seed so tables are scattered over the pool. */
export class TestBlockPool {
  private readonly free: number[]

  constructor(numBlocks: number, shuffleSeed: number | null = null) {
    this.free = [...Array(numBlocks).keys()]
    if (shuffleSeed !== null) {
      const random = new SeededRandom(shuffleSeed)
      for (let i = this.free.length - 1; i > 0; i--) {
        const j = random.nextInt(i + 1)
        ;[this.free[i], this.free[j]] = [this.free[j], this.free[i]]
      }
    }
  }

  allocate(): number {
    const block = this.free.shift()
    if (block === undefined) throw new Error('test block pool exhausted')
    return block
  }
}

/** One sequence as the tests drive it: all its tokens, how many are in the KV cache, and its block table. */
export class TestSequence {
  cachedTokens = 0
  readonly blockTable: number[] = []

  constructor(readonly tokens: number[]) {}
}

export interface StepPart {
  sequence: TestSequence
  /** How many of the sequence's not-yet-cached tokens this step feeds. */
  count: number
  /** Rows of this part whose logits are wanted. */
  logits: 'last' | 'all'
}

/**
 * Builds a ForwardBatchArrays for one step, growing block tables from `pool` as needed, and marks the fed tokens cached.
 * Returns, for each part, the indices into the returned logits rows.
 */
export function buildStep(parts: StepPart[], pool: TestBlockPool, blockSize: number): {batch: ForwardBatchArrays; logitRows: number[][]} {
  const tokenIds: number[] = []
  const positions: number[] = []
  const slotMapping: number[] = []
  const queryStartLoc = [0]
  const contextLens: number[] = []
  const logitsIndices: number[] = []
  const logitRows: number[][] = []
  for (const {sequence, count, logits} of parts) {
    const start = sequence.cachedTokens
    const end = start + count
    if (count < 1 || end > sequence.tokens.length) throw new Error('buildStep: part feeds tokens the sequence does not have')
    while (sequence.blockTable.length * blockSize < end) sequence.blockTable.push(pool.allocate())
    const rows: number[] = []
    for (let position = start; position < end; position++) {
      const row = tokenIds.length
      tokenIds.push(sequence.tokens[position])
      positions.push(position)
      slotMapping.push(sequence.blockTable[Math.floor(position / blockSize)] * blockSize + (position % blockSize))
      if (logits === 'all' || position === end - 1) {
        rows.push(logitsIndices.length)
        logitsIndices.push(row)
      }
    }
    logitRows.push(rows)
    queryStartLoc.push(tokenIds.length)
    contextLens.push(end)
    sequence.cachedTokens = end
  }
  const maxBlocksPerSeq = Math.max(...parts.map((p) => p.sequence.blockTable.length))
  // Unused table entries point at block 0: a kernel that reads past the context would read real but wrong data and fail the test.
  const blockTables = new Int32Array(parts.length * maxBlocksPerSeq)
  parts.forEach((p, i) => blockTables.set(p.sequence.blockTable, i * maxBlocksPerSeq))
  return {
    batch: {
      tokenIds: Int32Array.from(tokenIds),
      positions: Int32Array.from(positions),
      slotMapping: Int32Array.from(slotMapping),
      queryStartLoc: Int32Array.from(queryStartLoc),
      contextLens: Int32Array.from(contextLens),
      blockTables,
      maxBlocksPerSeq,
      logitsIndices: Int32Array.from(logitsIndices),
    },
    logitRows,
  }
}

/** Row r of a flat [rows, vocab] logits buffer. */
export function logitsRow(logits: Float32Array, row: number, vocabSize: number): Float32Array {
  return logits.subarray(row * vocabSize, (row + 1) * vocabSize)
}
