// Llama 3 RoPE scaling as per-frequency factors, the form GGUF files carry it in (rope_freqs.weight: frequency i is
// divided by factor i), and back to the four parameters config.json gives and the native rope computes from.
import type {RopeScaling} from './model-config.js'

type Llama3Scaling = Extract<RopeScaling, {type: 'llama3'}>

/** The divisor of each rotary frequency under llama3 scaling (transformers' _compute_llama3_parameters). */
export function llama3RopeFactors(scaling: Llama3Scaling, headDim: number, ropeTheta: number): Float32Array {
  const {factor, lowFreqFactor, highFreqFactor, originalMaxPosition} = scaling
  const lowWavelen = originalMaxPosition / lowFreqFactor
  const highWavelen = originalMaxPosition / highFreqFactor
  return Float32Array.from({length: headDim / 2}, (_, i) => {
    const wavelen = 2 * Math.PI * ropeTheta ** ((2 * i) / headDim)
    if (wavelen > lowWavelen) return factor
    if (wavelen < highWavelen) return 1
    const smooth = (originalMaxPosition / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
    return 1 / ((1 - smooth) / factor + smooth)
  })
}

// Every Llama 3.x release uses low 1, high 4 and an original context of 8192; other values are tried after them.
const LOW_FREQ_FACTORS = [1, 0.5, 2, 4]
const HIGH_FREQ_FACTORS = [4, 1, 2, 8, 16, 32]
const ORIGINAL_CONTEXTS = [8192, ...Array.from({length: 17}, (_, i) => 2 ** (i + 4)).filter((n) => n !== 8192)]

/**
 * The llama3 parameters whose factors are `factors` (to float32 precision), or null when none are: the factor is
 * the largest divisor, and the band's edges come from a search over the values models use. Parameters that give the
 * same factors compute the same rope; the search meets Llama 3's own (low 1, high 4) first.
 */
export function llama3ScalingFromFactors(factors: Float32Array, headDim: number, ropeTheta: number): Llama3Scaling | null {
  if (factors.length !== headDim / 2) return null
  const factor = Math.max(...factors)
  if (!(factor >= 1) || !Number.isFinite(factor)) return null
  // Scaling the three band parameters together changes nothing, so the usual factors are tried first for every context.
  for (const lowFreqFactor of LOW_FREQ_FACTORS) {
    for (const highFreqFactor of HIGH_FREQ_FACTORS) {
      if (highFreqFactor <= lowFreqFactor) continue
      for (const originalMaxPosition of ORIGINAL_CONTEXTS) {
        const scaling: Llama3Scaling = {type: 'llama3', factor, lowFreqFactor, highFreqFactor, originalMaxPosition}
        const candidate = llama3RopeFactors(scaling, headDim, ropeTheta)
        if (candidate.every((value, i) => Math.abs(value - factors[i]!) <= 1e-6 * value)) return scaling
      }
    }
  }
  return null
}
