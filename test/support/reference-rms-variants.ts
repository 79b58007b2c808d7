// The float64 reference's steps for Cohere (interleaved rope) and Cohere / OLMo (LayerNorm without bias), used by reference-model.ts.

/** Cohere's rope: dimension 2i pairs with 2i + 1. */
export function applyInterleavedRope(x: Float64Array, base: number, heads: number, headDim: number, position: number, inv: Float64Array, factor: number): void {
  for (let i = 0; i < headDim / 2; i++) {
    const angle = position * inv[i]
    const cos = Math.cos(angle) * factor
    const sin = Math.sin(angle) * factor
    for (let h = 0; h < heads; h++) {
      const a = base + h * headDim + 2 * i
      const [x1, x2] = [x[a], x[a + 1]]
      x[a] = x1 * cos - x2 * sin
      x[a + 1] = x2 * cos + x1 * sin
    }
  }
}

/**
 * Cohere's LayerNorm: mean-subtracted, weight only (PhiMoE's: and a bias), over each `size` values; a weight longer than
 * `size` (Command R+'s per-head q/k norms, [heads x head_dim]) gives each block of a row its own slice.
 */
export function meanNorm(x: Float64Array, weight: Float64Array, size: number, eps: number, bias: Float64Array | null = null): Float64Array {
  const out = new Float64Array(x.length)
  for (let base = 0; base < x.length; base += size) {
    const at = weight.length > size ? base % weight.length : 0
    let mean = 0
    for (let i = 0; i < size; i++) mean += x[base + i] / size
    let variance = 0
    for (let i = 0; i < size; i++) variance += (x[base + i] - mean) ** 2 / size
    for (let i = 0; i < size; i++) out[base + i] = ((x[base + i] - mean) / Math.sqrt(variance + eps)) * weight[at + i] + (bias ? bias[i] : 0)
  }
  return out
}
