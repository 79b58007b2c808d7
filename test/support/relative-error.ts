// The error measure of the correctness tests: max |a - b| / max |b| over a logits row (b is the reference).

export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assertSameLength(actual, expected)
  let maxDiff = 0
  let maxExpected = 0
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]))
    maxExpected = Math.max(maxExpected, Math.abs(expected[i]))
  }
  return maxDiff / maxExpected
}

function assertSameLength(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  if (actual.length !== expected.length) throw new Error(`relativeError: ${actual.length} values against ${expected.length}`)
}
