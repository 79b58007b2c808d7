// The GPU check scripts' shared comparison: relative L2 error of an output against its reference, and one
// "ok/FAIL what error <= bound" line per comparison with a running count of failures.

/** ||out - ref|| / ||ref||; infinite when the lengths differ or any output is not finite. */
export function relError(out: Float32Array, ref: Float32Array): number {
  if (out.length !== ref.length) return Number.POSITIVE_INFINITY
  let diff = 0
  let norm = 0
  for (let i = 0; i < ref.length; i++) {
    if (!Number.isFinite(out[i])) return Number.POSITIVE_INFINITY
    diff += (out[i] - ref[i]) ** 2
    norm += ref[i] ** 2
  }
  return Math.sqrt(diff / Math.max(norm, 1e-30))
}

/** Prints one line per comparison and counts the failures (`failures` for the script's exit code). */
export class Reporter {
  failures = 0
  constructor(private readonly width: number) {}

  check(what: string, error: number, bound: number): void {
    const pass = error <= bound
    if (!pass) this.failures += 1
    console.log(`${pass ? 'ok  ' : 'FAIL'} ${what.padEnd(this.width)} ${error.toExponential(2)} <= ${bound}`)
  }
}
