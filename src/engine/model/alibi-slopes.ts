// ALiBi's per-head slopes as transformers builds them (float32, as torch computes them): BLOOM's (Falcon-RW uses the
// same) from the power of two at or below the head count plus interleaved extra slopes, and MPT's from the power of two
// at or above it, spread over alibi_bias_max. native/cpu/attention*.cpp adds slope * (key - query position) to scores.

/** BLOOM / Falcon-RW: 2^(-8i/n') for the n' = 2^floor(log2 heads) first heads, then every other slope of 2n' heads. */
export function bloomAlibiSlopes(numHeads: number): number[] {
  const closest = 2 ** Math.floor(Math.log2(numHeads))
  const base = Math.fround(2 ** -(2 ** -(Math.log2(closest) - 3)))
  const slopes = Array.from({length: closest}, (_, i) => Math.fround(base ** (i + 1)))
  if (closest !== numHeads) {
    const extraBase = Math.fround(2 ** -(2 ** -(Math.log2(2 * closest) - 3)))
    const remaining = Math.min(closest, numHeads - closest)
    for (let i = 0; i < remaining; i++) slopes.push(Math.fround(extraBase ** (2 * i + 1)))
  }
  return slopes
}

/** MPT: 1 / 2^(i * alibi_bias_max / n') for i = 1..n' with n' = 2^ceil(log2 heads); past a power of two, odd slopes first, then even. */
export function mptAlibiSlopes(numHeads: number, alibiBiasMax: number): number[] {
  const padded = 2 ** Math.ceil(Math.log2(numHeads))
  const step = Math.fround(alibiBiasMax / padded)
  const slopes = Array.from({length: padded}, (_, i) => Math.fround(1 / 2 ** Math.fround((i + 1) * step)))
  if (padded === numHeads) return slopes
  return [...slopes.filter((_, i) => i % 2 === 1), ...slopes.filter((_, i) => i % 2 === 0)].slice(0, numHeads)
}
