// Sliding-window block release (vLLM's sliding-window block reuse): when every layer attends only to the last W tokens,
// the blocks wholly behind the window of a sequence's next query are never read again, so they go back to the pool.
import type {EngineConfig} from './config.js'
import {blocksForTokens} from './kv-policy.js'

/** What a released logical block keeps in its table: no block. The kernels start at the window's first block. */
export const RELEASED_BLOCK = -1

/**
 * The window behind which blocks may be released: the widest layer's when every layer slides, else 0 (keep every
 * block: a full-attention layer, as Gemma 2/3's or Qwen's below max_window_layers, reads the whole context).
 */
export function releasingWindow(layerWindows: readonly number[] | undefined): number {
  if (layerWindows === undefined || layerWindows.length === 0 || layerWindows.some((window) => window <= 0)) return 0
  return Math.max(...layerWindows)
}

/**
 * Leading blocks that no query at position `nextQuery` or later can see: those whose every slot is <= nextQuery - window
 * (a query at p sees keys (p - window, p], pagedllm/sliding_window.h first_visible_position).
 */
export function blocksBehindWindow(nextQuery: number, window: number, blockSize: number): number {
  return window > 0 ? Math.max(0, Math.floor((nextQuery - window + 1) / blockSize)) : 0
}

export interface WindowRelease {
  /** The window (0: nothing is released). */
  readonly window: number
  /** The most tokens one step computes for a sequence (--max-num-batched-tokens): a table covers at most this past its computed tokens. */
  readonly chunkTokens: number
}

/** The release an engine runs with: only the 'paged' policy (the baselines model systems without it), unless turned off. */
export function windowReleaseFor(
  config: Pick<EngineConfig, 'policy' | 'maxNumBatchedTokens' | 'releaseWindowBlocks'>,
  layerWindows: readonly number[] | undefined,
): WindowRelease {
  const window = config.policy === 'paged' && config.releaseWindowBlocks !== false ? releasingWindow(layerWindows) : 0
  return {window, chunkTokens: config.maxNumBatchedTokens}
}

/** No release: every block is kept for the sequence's life. */
export const NO_WINDOW_RELEASE: WindowRelease = {window: 0, chunkTokens: 0}

/**
 * The most blocks one sequence of up to `tokens` tokens holds at once: its table covers its computed tokens plus one
 * chunk, less the blocks behind the window of the chunk's first query. At most the whole sequence's blocks.
 */
export function liveBlockBound(tokens: number, release: WindowRelease, blockSize: number): number {
  const whole = blocksForTokens(tokens, blockSize)
  if (release.window <= 0) return whole
  return Math.min(whole, blocksForTokens(release.window - 1 + release.chunkTokens, blockSize) + 1)
}

/** The tokens a sequence's table covers for its next step: one chunk past its computed tokens (all of it without a window). */
export function tokensToCover(seq: {length: number; numComputedTokens: number}, release: WindowRelease): number {
  return release.window > 0 ? Math.min(seq.length, seq.numComputedTokens + release.chunkTokens) : seq.length
}
