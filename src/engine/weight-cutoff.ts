// Finds where top-k (by count) or top-p (by mass) cuts a row of token weights, by radix selection on float bits: O(vocab), no sort.
//
// Tokens are ranked by weight descending, ties by token id ascending. Every filter the sampler applies keeps a
// prefix of that one ranking (top-k and min-p keep whole tie groups; top-p may cut through one), so a cut is fully described by a threshold bit pattern plus how many tokens that
// sit exactly on the threshold (the lowest ids among them) are kept. Non-negative float32 values order like their
// bit patterns read as integers, so three histogram passes over 11 + 11 + 9 bits find the exact cut.

/** Keep tokens whose weight bits exceed `thresholdBits`, plus the first `tieTake` (lowest ids) whose bits equal it. */
export interface WeightCut {
  thresholdBits: number
  tieTake: number
  /** Total weight of the kept tokens. */
  keptMass: number
}

/** The cut that keeps every token. */
export const KEEP_ALL: WeightCut = Object.freeze({thresholdBits: -1, tieTake: 0, keptMass: Infinity})

/** Levels of the radix select: [shift, mask] of the bits each level looks at, most significant first. */
const LEVELS: ReadonlyArray<readonly [number, number]> = [
  [20, 0x7ff],
  [9, 0x7ff],
  [0, 0x1ff],
]
const BUCKETS = 2048

/** Reusable scratch so a cut allocates nothing once warmed up. */
export class WeightCutFinder {
  private readonly bucketCounts = new Int32Array(BUCKETS)
  private readonly bucketMasses = new Float64Array(BUCKETS)
  private candidates = new Int32Array(0)
  private nextCandidates = new Int32Array(0)
  private readonly boundBits = new Float32Array(1)
  private readonly boundBitsInt = new Int32Array(this.boundBits.buffer)

  /** The `k` highest-weight tokens and every token tied with the k-th (vLLM's top-k masks only logits below the k-th). */
  topCount(weights: Float32Array, bits: Int32Array, k: number): WeightCut {
    return this.find(weights, bits, k, false)
  }

  /** The tokens whose weight is at least `minWeight` (min-p, the best token's weight being 1): a threshold, no select. */
  atLeast(weights: Float32Array, bits: Int32Array, minWeight: number): WeightCut {
    // Float32 weights compare with the float64 bound as with its float32 rounding, taken inclusively when not below it.
    const bound = Math.fround(minWeight)
    this.boundBits[0] = bound
    const thresholdBits = bound >= minWeight ? this.boundBitsInt[0]! - 1 : this.boundBitsInt[0]!
    let keptMass = 0
    for (let i = 0; i < weights.length; i++) if (bits[i]! > thresholdBits) keptMass += weights[i]!
    return {thresholdBits, tieTake: 0, keptMass}
  }

  /** The shortest prefix of the ranking whose mass reaches `targetMass` (vLLM's top-p: a token stays while the mass ranked above it is below the target). */
  topMass(weights: Float32Array, bits: Int32Array, targetMass: number): WeightCut {
    return this.find(weights, bits, targetMass, true)
  }

  private find(weights: Float32Array, bits: Int32Array, budget: number, byMass: boolean): WeightCut {
    const size = weights.length
    if (this.candidates.length < size) {
      this.candidates = new Int32Array(size)
      this.nextCandidates = new Int32Array(size)
    }
    let numCandidates = -1 // -1: all tokens (the first level scans the row directly)
    let prefixBits = 0
    let massAbove = 0
    let countAbove = 0
    for (const [shift, mask] of LEVELS) {
      const counts = this.bucketCounts
      const masses = this.bucketMasses
      counts.fill(0)
      masses.fill(0)
      if (numCandidates < 0) {
        for (let i = 0; i < size; i++) {
          const key = (bits[i]! >>> shift) & mask
          counts[key]!++
          masses[key]! += weights[i]!
        }
      } else {
        for (let c = 0; c < numCandidates; c++) {
          const i = this.candidates[c]!
          const key = (bits[i]! >>> shift) & mask
          counts[key]!++
          masses[key]! += weights[i]!
        }
      }
      let crossing = -1
      for (let key = mask; key >= 0; key--) {
        if (counts[key] === 0) continue
        const reached = byMass ? massAbove + masses[key]! >= budget : countAbove + counts[key]! >= budget
        if (reached) {
          crossing = key
          break
        }
        massAbove += masses[key]!
        countAbove += counts[key]!
      }
      // The budget exceeds the whole row (or rounding kept the mass just short of it): nothing is cut.
      if (crossing < 0) return KEEP_ALL
      prefixBits |= crossing << shift
      // Gather the crossing bucket's tokens, in id order, for the next, finer level.
      let gathered = 0
      if (numCandidates < 0) {
        for (let i = 0; i < size; i++) if (((bits[i]! >>> shift) & mask) === crossing) this.nextCandidates[gathered++] = i
      } else {
        for (let c = 0; c < numCandidates; c++) {
          const i = this.candidates[c]!
          if (((bits[i]! >>> shift) & mask) === crossing) this.nextCandidates[gathered++] = i
        }
      }
      ;[this.candidates, this.nextCandidates] = [this.nextCandidates, this.candidates]
      numCandidates = gathered
    }
    // All remaining candidates carry exactly the weight `prefixBits` encodes; keep as many (lowest ids first) as the budget needs.
    const tieWeight = weights[this.candidates[0]!]!
    let tieTake = 0
    if (byMass) {
      let mass = massAbove
      while (tieTake < numCandidates && mass < budget) {
        mass += tieWeight
        tieTake++
      }
    } else {
      tieTake = numCandidates // every tie of the k-th
    }
    return {thresholdBits: prefixBits, tieTake, keptMass: massAbove + tieTake * tieWeight}
  }
}

/** The shorter of two cuts of the same ranking (their intersection). */
export function shorterCut(a: WeightCut, b: WeightCut): WeightCut {
  if (a.thresholdBits !== b.thresholdBits) return a.thresholdBits > b.thresholdBits ? a : b
  return a.tieTake <= b.tieTake ? a : b
}
