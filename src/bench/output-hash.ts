// Fingerprints of each request's output tokens, to check that every policy generated the same text.
import {createHash} from 'node:crypto'

export function hashTokenIds(tokenIds: readonly number[]): string {
  return createHash('sha256').update(Int32Array.from(tokenIds)).digest('hex').slice(0, 16)
}

export interface OutputAgreement {
  /** True when every request's hash is the same under every run compared. */
  identical: boolean
  /** Request ids whose outputs differ between runs, or that are missing from some run. */
  mismatched: string[]
}

/** Compares per-request output hashes (requestId -> hash) across runs, e.g. one run per policy. */
export function compareOutputHashes(runs: ReadonlyArray<Readonly<Record<string, string>>>): OutputAgreement {
  const requestIds = new Set(runs.flatMap((run) => Object.keys(run)))
  const mismatched = [...requestIds].filter((id) => new Set(runs.map((run) => run[id])).size !== 1 || runs.some((run) => run[id] === undefined))
  return {identical: mismatched.length === 0, mismatched}
}
