// Builders for the KV block-management tests: sequence groups with given prompts and sampling widths, and a small pool.
import {BlockManager, type BlockManagerOptions} from '../../src/engine/block-manager.js'
import {makeSamplingParams} from '../../src/engine/sampling-params.js'
import {SequenceGroup} from '../../src/engine/sequence.js'

let nextRequest = 0

export function makeGroup(promptTokenIds: readonly number[], options: {maxTokens?: number; bestOf?: number; useBeamSearch?: boolean; promptLogprobs?: number} = {}): SequenceGroup {
  const bestOf = options.bestOf ?? 1
  const params = makeSamplingParams({
    maxTokens: options.maxTokens ?? 16,
    n: bestOf,
    bestOf,
    useBeamSearch: options.useBeamSearch ?? false,
    temperature: options.useBeamSearch ? 0 : 1,
    promptLogprobs: options.promptLogprobs ?? null,
  })
  return new SequenceGroup(`request-${nextRequest++}`, null, promptTokenIds, params, 0)
}

export function makeManager(options: Partial<BlockManagerOptions> = {}): BlockManager {
  return new BlockManager({
    numBlocks: 32,
    blockSize: 4,
    numSwapBlocks: 32,
    policy: 'paged',
    enablePrefixCaching: false,
    watermark: 0,
    maxModelLen: 256,
    ...options,
  })
}

/** Token ids 0, 1, 2, ... offset by `start`: distinct prompts that never share a block by accident. */
export function tokenRange(length: number, start = 0): number[] {
  return Array.from({length}, (_, index) => start + index)
}
