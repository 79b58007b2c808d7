// Mean, median and percentiles computed the way numpy does (linear interpolation), so figures compare with vLLM's.

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  let sum = 0
  for (const value of values) sum += value
  return sum / values.length
}

/** numpy.percentile's default ('linear'): interpolates between the two closest ranks. p in [0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = values.slice().sort((a, b) => a - b)
  const position = (p / 100) * (sorted.length - 1)
  const lower = Math.floor(position)
  const upper = Math.min(lower + 1, sorted.length - 1)
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower)
}

export function median(values: readonly number[]): number {
  return percentile(values, 50)
}

export interface Distribution {
  mean: number
  median: number
  p99: number
}

export function distribution(values: readonly number[]): Distribution {
  return {mean: mean(values), median: median(values), p99: percentile(values, 99)}
}
