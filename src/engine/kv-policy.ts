// KV policy arithmetic: how many slots a sequence reserves under each policy, and first-fit placement of contiguous runs.
import type {KvPolicy} from './config.js'

/** Policies that reserve a whole contiguous run at admission instead of growing block by block. */
export function reservesUpfront(policy: KvPolicy): boolean {
  return policy !== 'paged'
}

export function nextPowerOfTwo(value: number): number {
  let power = 1
  while (power < value) power *= 2
  return power
}

export function blocksForTokens(tokens: number, blockSize: number): number {
  return Math.ceil(tokens / blockSize)
}

/**
 * Tokens one sequence reserves at admission. 'paged' reserves only its prompt (it grows on demand).
 * orca-max and contiguous reserve the context limit, as the paper's baselines reserve the model's max length;
 * orca-pow2 over-provisions the output to the next power of two; orca-oracle knows the output length exactly.
 * Capped at maxModelLen because no sequence can grow past it.
 */
export function reservedTokens(policy: KvPolicy, promptLength: number, maxTokens: number, maxModelLen: number): number {
  switch (policy) {
    case 'paged':
      return promptLength
    case 'orca-max':
    case 'contiguous':
      return maxModelLen
    case 'orca-pow2':
      return Math.min(maxModelLen, promptLength + nextPowerOfTwo(maxTokens))
    case 'orca-oracle':
      return Math.min(maxModelLen, promptLength + maxTokens)
  }
}

/**
 * First-fit placement of `count` disjoint runs of `runLength` consecutive free blocks, scanning block ids upward.
 * Returns the run starts, or null when they do not all fit: free blocks scattered in gaps shorter than a run do not
 * count, which is the external fragmentation the contiguous baselines suffer.
 */
export function firstFitRuns(isFree: (blockId: number) => boolean, numBlocks: number, runLength: number, count: number): number[] | null {
  const starts: number[] = []
  if (count === 0) return starts
  let gapStart = 0
  for (let blockId = 0; blockId < numBlocks; blockId++) {
    if (!isFree(blockId)) {
      gapStart = blockId + 1
      continue
    }
    if (blockId - gapStart + 1 === runLength) {
      starts.push(gapStart)
      if (starts.length === count) return starts
      gapStart = blockId + 1
    }
  }
  return null
}
