// A pool of physical KV blocks (device or host): reference counts, the free list, and contiguous-run allocation.
import {firstFitRuns} from './kv-policy.js'

/**
 * Each block is in one of three states: used (refCount > 0), free (in the free list), or parked (refCount 0 but
 * kept out of the free list by its owner, e.g. the prefix cache's evictor keeps reusable blocks there).
 */
export class KvBlockPool {
  private readonly refCounts: Int32Array
  private readonly inFreeList: Uint8Array
  /** Stack of free ids: the most recently freed block is handed out first (its memory is the warmest). */
  private freeStack: number[]

  constructor(readonly numBlocks: number) {
    this.refCounts = new Int32Array(numBlocks)
    this.inFreeList = new Uint8Array(numBlocks).fill(1)
    // Reversed so that a fresh pool hands out block 0 first: tables read naturally in tests and logs.
    this.freeStack = Array.from({length: numBlocks}, (_, index) => numBlocks - 1 - index)
  }

  get numFree(): number {
    return this.freeStack.length
  }

  refCount(blockId: number): number {
    return this.refCounts[blockId]!
  }

  isFree(blockId: number): boolean {
    return this.inFreeList[blockId] === 1
  }

  /** Takes any free block with refCount 1. */
  allocate(): number {
    const blockId = this.freeStack.pop()
    if (blockId === undefined) throw new Error('KV block pool exhausted: callers must check free blocks first')
    this.inFreeList[blockId] = 0
    this.refCounts[blockId] = 1
    return blockId
  }

  /** First-fit runs of consecutive free blocks, each block with refCount 1; null (nothing taken) when they do not fit. */
  allocateRuns(runLength: number, count: number): number[][] | null {
    const starts = this.findRuns(runLength, count)
    if (starts === null) return null
    const runs = starts.map((start) => Array.from({length: runLength}, (_, offset) => start + offset))
    for (const run of runs) {
      for (const blockId of run) {
        this.inFreeList[blockId] = 0
        this.refCounts[blockId] = 1
      }
    }
    this.freeStack = this.freeStack.filter((blockId) => this.inFreeList[blockId] === 1)
    return runs
  }

  findRuns(runLength: number, count: number): number[] | null {
    return firstFitRuns((blockId) => this.inFreeList[blockId] === 1, this.numBlocks, runLength, count)
  }

  incRef(blockId: number): void {
    if (this.refCounts[blockId]! <= 0) throw new Error(`incRef of unreferenced block ${blockId}`)
    this.refCounts[blockId]!++
  }

  /** Drops one reference; returns the new count. At 0 the caller either release()s or parks the block. */
  decRef(blockId: number): number {
    if (this.refCounts[blockId]! <= 0) throw new Error(`decRef of unreferenced block ${blockId}`)
    return --this.refCounts[blockId]!
  }

  /** Puts an unreferenced block back on the free list. */
  release(blockId: number): void {
    if (this.refCounts[blockId] !== 0 || this.inFreeList[blockId] === 1) throw new Error(`release of block ${blockId} that is in use or already free`)
    this.inFreeList[blockId] = 1
    this.freeStack.push(blockId)
  }

  /** Takes a parked block (refCount 0, not in the free list) back into use with refCount 1. */
  unpark(blockId: number): void {
    if (this.refCounts[blockId] !== 0 || this.inFreeList[blockId] === 1) throw new Error(`block ${blockId} is not parked`)
    this.refCounts[blockId] = 1
  }

  /** Throws if the free list disagrees with the free flags or holds a referenced block. */
  checkInvariants(label: string): void {
    let flagged = 0
    for (let blockId = 0; blockId < this.numBlocks; blockId++) {
      if (this.refCounts[blockId]! < 0) throw new Error(`${label}: block ${blockId} has negative refCount`)
      if (this.inFreeList[blockId] === 1) {
        flagged++
        if (this.refCounts[blockId] !== 0) throw new Error(`${label}: block ${blockId} is free and referenced`)
      }
    }
    const listed = new Set(this.freeStack)
    if (flagged !== this.freeStack.length || listed.size !== flagged || this.freeStack.some((blockId) => this.inFreeList[blockId] !== 1))
      throw new Error(`${label}: free list (${this.freeStack.length}) disagrees with free flags (${flagged})`)
  }
}
