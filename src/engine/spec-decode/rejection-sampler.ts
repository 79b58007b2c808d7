// Verifies a draft model's sampled proposal: standard speculative rejection sampling against the target's rows.
//
// Draft token x_i was drawn from the draft's distribution q_i. It is accepted with probability min(1, p_i(x)/q_i(x)),
// where p_i is the target's distribution at row i (after the request's penalties, temperature, top-k/top-p: exactly
// what plain decoding samples from). On the first rejection the token is drawn from normalize(max(0, p_i - q_i)) and
// the step ends; when every draft token is accepted, a bonus token is sampled from the last row as plain decoding
// would. Each emitted token is then distributed exactly as p (Leviathan et al. 2023, Chen et al. 2023). Draws are
// counter-based (philox.ts): at output position t the acceptance test uses the Accept uniform of t and a residual the
// Sample uniform of t, independent of each other and of the draft's own draw, so a seeded request's tokens do not
// depend on the other requests in its batch.
import {drawFromWeights} from '../sampler.js'
import type {VerifiedToken} from './verify.js'

export interface RejectionHooks {
  /** The target's sampling distribution at `row`, given the tokens appended so far (penalties see them). */
  targetDistribution(row: number): Float32Array
  /** Appends `tokenId` as the token sampled at `row` (its logprobs read from the row). */
  append(row: number, tokenId: number): VerifiedToken
  /** Samples the row as plain decoding does and appends the token (the bonus token). */
  sampleAndAppend(row: number): VerifiedToken
  /** The uniforms of the output position the next appended token takes. */
  acceptUniform(): number
  residualUniform(): number
}

/** Walks rows[0..draft.length] (row i predicts the token after draft[i-1]); returns how many draft tokens were accepted. */
export function verifyByRejection(draft: readonly number[], draftDistributions: readonly Float32Array[], rows: readonly number[], hooks: RejectionHooks): number {
  if (rows.length !== draft.length + 1) throw new Error(`verifying ${draft.length} draft tokens needs ${draft.length + 1} rows, got ${rows.length}`)
  if (draftDistributions.length < draft.length) throw new Error(`${draft.length} draft tokens but ${draftDistributions.length} draft distributions`)
  for (let i = 0; i < draft.length; i++) {
    const p = hooks.targetDistribution(rows[i]!)
    const q = draftDistributions[i]!
    const x = draft[i]!
    const u = hooks.acceptUniform()
    if (u * q[x]! < p[x]!) {
      if (hooks.append(rows[i]!, x).finished) return i + 1
      continue
    }
    hooks.append(rows[i]!, drawResidual(p, q, hooks.residualUniform()))
    return i
  }
  hooks.sampleAndAppend(rows[draft.length]!)
  return draft.length
}

/** One draw from normalize(max(0, p - q)); p itself if rounding left no mass there. */
export function drawResidual(p: Float32Array, q: Float32Array, uniform: number): number {
  let total = 0
  for (let i = 0; i < p.length; i++) if (p[i]! > q[i]!) total += p[i]! - q[i]!
  const useP = !(total > 0)
  if (useP) for (let i = 0; i < p.length; i++) total += p[i]!
  const target = uniform * total
  let cumulative = 0
  let last = 0
  for (let i = 0; i < p.length; i++) {
    const mass = useP ? p[i]! : Math.max(0, p[i]! - q[i]!)
    if (mass === 0) continue
    cumulative += mass
    last = i
    if (cumulative > target) return i
  }
  return last
}

/** One draw from a normalized distribution (the draft's proposal). */
export function drawFrom(distribution: Float32Array, uniform: number): number {
  return drawFromWeights(distribution, 1, uniform)
}
