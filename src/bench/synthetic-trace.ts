// Synthetic traces: prompt and output lengths drawn around given means (fixed, uniform or exponential spread).
import {InvalidRequestError} from '../engine/errors.js'
import {BenchRandom} from './random.js'
import type {TraceRequest} from './trace.js'

export type LengthSpread = 'fixed' | 'uniform' | 'exponential'
export const LENGTH_SPREADS: readonly LengthSpread[] = ['fixed', 'uniform', 'exponential']

export interface SyntheticTraceOptions {
  inputLen: number
  outputLen: number
  spread: LengthSpread
  /** uniform: lengths in [mean * (1 - rangeRatio), mean * (1 + rangeRatio)]. */
  rangeRatio: number
  numPrompts: number
  seed: number
}

function drawLength(random: BenchRandom, meanLen: number, options: SyntheticTraceOptions): number {
  switch (options.spread) {
    case 'fixed':
      return meanLen
    case 'uniform': {
      const low = Math.max(1, Math.round(meanLen * (1 - options.rangeRatio)))
      const high = Math.max(low, Math.round(meanLen * (1 + options.rangeRatio)))
      return low + random.int(high - low + 1)
    }
    case 'exponential':
      // At least one token; a long tail like real chat traffic.
      return Math.max(1, Math.round(random.exponential(meanLen)))
  }
}

export function syntheticTrace(options: SyntheticTraceOptions): TraceRequest[] {
  if (!(options.inputLen >= 1 && options.outputLen >= 1))
    throw new InvalidRequestError('--input-len and --output-len must be >= 1', {param: 'input-len'})
  if (!(options.rangeRatio >= 0 && options.rangeRatio <= 1))
    throw new InvalidRequestError('--range-ratio must be in [0, 1]', {param: 'range-ratio'})
  const random = new BenchRandom(options.seed)
  return Array.from({length: options.numPrompts}, () => ({
    promptLen: drawLength(random, options.inputLen, options),
    outputLen: drawLength(random, options.outputLen, options),
  }))
}
