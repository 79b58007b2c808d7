// Verifies one sequence's proposed tokens against the target model's rows of one step.
//
// The target's token at each row is sampled exactly as plain decoding would sample it (same sampler, same per-sequence
// seeded generator, one draw per token, in order), and a draft token is accepted while the sample equals it. For a
// point-mass proposal q (n-gram lookup) this IS standard speculative rejection sampling: the draft token x is accepted
// with probability p(x) = min(1, p(x)/q(x)), and on rejection the token is distributed as p restricted to tokens != x,
// which is the residual (p - q)+ normalized. Its advantage: greedy AND seeded outputs are the same token for token
// with or without speculation, whatever the batch, because the generator sees the same draws.

export interface VerifiedToken {
  tokenId: number
  /** The sequence finished on this token (stop, EOS, length): nothing after it counts. */
  finished: boolean
}

/**
 * Walks rows[0..draft.length] (row i predicts the token after draft[i-1]); `sampleAndAppend` samples a row and appends
 * the token to the sequence. Stops at the first mismatch (that sample is the correction), after the bonus token of a
 * fully accepted draft, or when the sequence finishes. Returns how many draft tokens were accepted.
 */
export function verifyDraft(draft: readonly number[], rows: readonly number[], sampleAndAppend: (row: number) => VerifiedToken): number {
  if (rows.length !== draft.length + 1) throw new Error(`verifying ${draft.length} draft tokens needs ${draft.length + 1} rows, got ${rows.length}`)
  let accepted = 0
  for (let i = 0; i <= draft.length; i++) {
    const {tokenId, finished} = sampleAndAppend(rows[i]!)
    const matches = i < draft.length && tokenId === draft[i]
    if (matches) accepted++
    if (finished || !matches) break
  }
  return accepted
}
