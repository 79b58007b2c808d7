// Per-sequence speculation back-off: how many tokens to propose this step, from the sequence's recent acceptance and the batch size.

/**
 * What one verification row costs, relative to a one-row decode step (r). tinychat, f32, one thread, the 2-core dev
 * machine (docs/PERFORMANCE.md, `scripts/bench-verify-rows.ts`, 10th percentiles + 0.2 ms of JS): 2.08 ms for one row,
 * 3.86 ms for nine, i.e. ~0.22 ms per extra row, r ~ 0.1. A cheaper few-row GEMM lowers it (re-measure, update here).
 */
export const VERIFY_ROW_COST = 0.1

/** Weight of the newest proposal in a sequence's acceptance estimate (~ the last 4 proposals count). */
const ACCEPTANCE_WEIGHT = 0.25
/** Longest pause after repeated fully rejected proposals. */
const MAX_PAUSE_STEPS = 16
/** Per step below break-even with nothing to learn from, a sequence regains this share of lost trust, so it proposes again one day. */
const TRUST_REGAIN = 0.05

/**
 * Acceptance (accepted / proposed tokens) above which a draft row pays in a step with B decoding sequences.
 * With a one-row step costing 1 = (1 - r) for reading the weights + r per row, a step of B rows costs 1 + (B - 1) r,
 * so each decoded token costs (1 + (B - 1) r) / B. A draft row costs r and saves that much with probability a: it pays
 * while a >= B r / (1 + (B - 1) r). With r = 0.1: 0.1 at B = 1, 0.47 at B = 8, 0.78 at B = 32; the weight reads that
 * make speculation pay at batch 1 are already shared by the batch at large B.
 */
export function breakEvenAcceptance(numDecodeSeqs: number, rowCost = VERIFY_ROW_COST): number {
  const batch = Math.max(1, numDecodeSeqs)
  return (batch * rowCost) / (1 + (batch - 1) * rowCost)
}

/** What a proposal of k tokens made k tokens ago would have got; null when there was nothing to propose then. */
export type Hindsight = (k: number) => {proposed: number; accepted: number} | null

export class SequenceBackOff {
  /** Moving average of accepted / proposed over the sequence's recent proposals (verified or checked in hindsight); starts trusting. */
  acceptance = 1
  /** Steps left without proposing. */
  private pause = 0
  /** Fully rejected proposals in a row; an accepted token resets it. */
  private misses = 0
  /** Tokens to propose next: two more than the last proposal had accepted (each row costs compute), at most K. */
  k: number

  /** `rowCost`: r of breakEvenAcceptance (0: acceptance never stops a proposal, only pauses after misses do). */
  constructor(
    private readonly maxTokens: number,
    private readonly rowCost = VERIFY_ROW_COST,
  ) {
    this.k = maxTokens
  }

  /** Whether the sequence's recent acceptance pays for draft rows at this batch size. */
  private pays(numDecodeSeqs: number): boolean {
    return this.acceptance >= breakEvenAcceptance(numDecodeSeqs, this.rowCost)
  }

  /**
   * Tokens to propose this step (0: none): none while paused (the pause counts down) or below break-even. Below it the
   * sequence first learns: from `hindsight` when the method has one (n-gram lookup is free to replay, and the target's
   * tokens do not depend on speculation; no pause, nothing was spent), else (null: a draft costs draft steps) trust
   * creeps back, so it proposes again one day.
   */
  budget(numDecodeSeqs: number, hindsight: Hindsight | null): number {
    if (!this.pays(numDecodeSeqs)) {
      if (hindsight === null) this.acceptance += (1 - this.acceptance) * TRUST_REGAIN
      else {
        const seen = hindsight(this.k)
        if (seen !== null) this.learn(seen.proposed, seen.accepted)
      }
    }
    if (this.pause > 0) {
      this.pause--
      return 0
    }
    return this.pays(numDecodeSeqs) ? this.k : 0
  }

  /** A verified proposal: moves the estimate and k; two full rejections in a row pause it 1, 2, 4 ... steps. */
  recordVerified(numProposed: number, numAccepted: number): void {
    this.learn(numProposed, numAccepted)
    this.misses = numAccepted > 0 ? 0 : this.misses + 1
    // A verification row costs little next to a step on CPU, so one miss is tolerated.
    if (this.misses >= 2) this.pause = Math.min(MAX_PAUSE_STEPS, 2 ** (this.misses - 2))
  }

  private learn(numProposed: number, numAccepted: number): void {
    if (numProposed === 0) return
    this.acceptance += (numAccepted / numProposed - this.acceptance) * ACCEPTANCE_WEIGHT
    this.k = Math.min(this.maxTokens, numAccepted + 2)
  }
}
