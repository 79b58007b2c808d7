// What a hybrid model (Qwen 3.5's Gated DeltaNet layers, Mamba-2 / Mamba-1 mixers or LFM2's short convolutions: a recurrent state per sequence) changes in the engine's
// set-up: one state slot per sequence the engine runs at once (--max-num-seqs), no prefix caching (a cached block
// holds K/V but not the recurrent state at that point, so a hit could not resume the sequence), no speculative
// decoding (rejected drafts would have advanced the state past recall), and preemption by recompute, never swap
// (BlockManager.canSwapOut). Each choice is said in the start-up lines.
import type {EngineConfig} from './config.js'
import {InvalidRequestError} from './errors.js'
import type {ModelConfig} from './model/model-config.js'
import type {HybridFeatures} from './model/qwen35-config.js'

export interface HybridSetup {
  /** State slots for the backend and the block manager; 0 for other models. */
  numStateSlots: number
  enablePrefixCaching: boolean
  notes: string[]
}

export function hybridSetup(config: EngineConfig, model: ModelConfig): HybridSetup {
  const prefixCaching = config.enablePrefixCaching && config.policy === 'paged'
  const hybrid = model.hybrid
  if (!hybrid) return {numStateSlots: 0, enablePrefixCaching: prefixCaching, notes: []}
  const kind = hybrid.mamba2 ? 'Mamba-2 mixers' : hybrid.mamba1 ? 'Mamba-1 mixers' : hybrid.shortConv ? 'short convolutions' : 'linear attention'
  if (config.speculative) {
    throw new InvalidRequestError(`speculative decoding is not supported for ${model.architecture}: the recurrent state of its ${kind} cannot take back rejected draft tokens`, {param: 'speculative-config'})
  }
  const linear = hybrid.linearLayers.filter(Boolean).length
  const slotBytes = 4 * linear * stateFloatsPerLayer(hybrid, model.hiddenSize)
  const notes = [
    `${linear} of ${model.numLayers} layers are ${kind}: ${config.maxNumSeqs} recurrent state slots (--max-num-seqs) of ${(slotBytes / (1 << 20)).toFixed(2)} MiB; preempted sequences are recomputed, not swapped`,
  ]
  if (prefixCaching) notes.push(`prefix caching off: a cached block holds no recurrent state of ${model.architecture}'s ${kind}`)
  return {numStateSlots: config.maxNumSeqs, enablePrefixCaching: false, notes}
}

/** One linear layer's conv and recurrent state (floats): Gated DeltaNet's, a Mamba-2 or Mamba-1 mixer's, or LFM2's conv state alone (native LinearStatePool). */
function stateFloatsPerLayer(hybrid: HybridFeatures, hiddenSize: number): number {
  if (hybrid.shortConv) return hiddenSize * (hybrid.shortConv.kernel - 1)
  if (hybrid.mamba1) return hybrid.mamba1.innerSize * (hybrid.mamba1.convKernel - 1 + hybrid.mamba1.stateSize)
  const m = hybrid.mamba2
  if (m) return (m.heads * m.headDim + 2 * m.groups * m.stateSize) * (m.convKernel - 1) + m.heads * m.headDim * m.stateSize
  const channels = 2 * hybrid.linearNumKeyHeads * hybrid.linearKeyHeadDim + hybrid.linearNumValueHeads * hybrid.linearValueHeadDim
  return channels * (hybrid.convKernel - 1) + hybrid.linearNumValueHeads * hybrid.linearKeyHeadDim * hybrid.linearValueHeadDim
}
