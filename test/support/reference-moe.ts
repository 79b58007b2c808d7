// The float64 reference's sparse MoE MLP (Mixtral, Qwen2-MoE, Qwen3-MoE, PhiMoE), as transformers 5.18 computes it: softmax router, top-k, optional renormalisation (PhiMoE: sparsemixer), Qwen2-MoE's gated shared expert (GraniteMoeShared's ungated one).
import type {MoeConfig} from '../../src/engine/model/moe-config.js'

export interface ReferenceMoe {
  router: Float64Array
  experts: {gate: Float64Array; up: Float64Array; down: Float64Array}[]
  /** gateWeight null: GraniteMoeShared's ungated shared expert. */
  shared: {gate: Float64Array; up: Float64Array; down: Float64Array; gateWeight: Float64Array | null} | null
}

/** The reference model's own kernels: x [rows, inSize] times W^T, and a gated MLP of the given width. */
export interface ReferenceOps {
  linear: (x: Float64Array, weight: Float64Array, bias: Float64Array | null, inSize: number) => Float64Array
  gatedMlp: (x: Float64Array, gate: Float64Array, up: Float64Array, down: Float64Array, intermediate: number) => Float64Array
}

export function loadReferenceMoe(read: (name: string) => Float64Array, prefix: string, moe: MoeConfig): ReferenceMoe {
  const experts = Array.from({length: moe.numExperts}, (_, e) => ({
    gate: read(`${prefix}.mlp.experts.${e}.gate_proj.weight`),
    up: read(`${prefix}.mlp.experts.${e}.up_proj.weight`),
    down: read(`${prefix}.mlp.experts.${e}.down_proj.weight`),
  }))
  const shared = moe.sharedExpertIntermediateSize > 0
    ? {
        gate: read(`${prefix}.mlp.shared_expert.gate_proj.weight`),
        up: read(`${prefix}.mlp.shared_expert.up_proj.weight`),
        down: read(`${prefix}.mlp.shared_expert.down_proj.weight`),
        gateWeight: moe.ungatedSharedExpert ? null : read(`${prefix}.mlp.shared_expert_gate.weight`),
      }
    : null
  return {router: read(`${prefix}.mlp.gate.weight`), experts, shared}
}

/** Top-k of one row's softmax: [expert, weight] pairs, highest first (lowest index first on equal probabilities). */
export function routeRow(logits: ArrayLike<number>, topK: number, renormalize: boolean): [number, number][] {
  const max = Math.max(...Array.from(logits))
  const exps = Array.from(logits, (l) => Math.exp(l - max))
  const sum = exps.reduce((a, b) => a + b, 0)
  const ranked = exps.map((p, e) => [e, p / sum] as [number, number]).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, topK)
  const kept = ranked.reduce((a, [, p]) => a + p, 0)
  return renormalize ? ranked.map(([e, p]) => [e, p / kept]) : ranked
}

/** PhiMoE's sparsemixer (eval mode): the top expert, then the best of the rest, each weighted by its softmax over the experts within 2 x eps (relative) of it. */
export function sparsemixerRow(logits: ArrayLike<number>, eps: number): [number, number][] {
  const values = Array.from(logits)
  const pick = (skip: number): [number, number] => {
    const chosen = values.reduce((best, v, e) => (e !== skip && (best < 0 || v > values[best]!) ? e : best), -1)
    const top = values[chosen]!
    const kept = values.filter((v, e) => e !== skip && (top - v) / Math.max(Math.abs(v), top) <= 2 * eps)
    return [chosen, 1 / kept.reduce((sum, v) => sum + Math.exp(v - top), 0)]
  }
  const first = pick(-1)
  return [first, pick(first[0])]
}

export function referenceMoeMlp(x: Float64Array, w: ReferenceMoe, moe: MoeConfig, hidden: number, ops: ReferenceOps): Float64Array {
  const rows = x.length / hidden
  const out = new Float64Array(x.length)
  const logits = ops.linear(x, w.router, null, hidden)
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * hidden, (r + 1) * hidden)
    const target = out.subarray(r * hidden, (r + 1) * hidden)
    const rowLogits = logits.subarray(r * moe.numExperts, (r + 1) * moe.numExperts)
    const routes = moe.sparsemixerJitterEps === undefined ? routeRow(rowLogits, moe.numExpertsPerToken, moe.normTopkProb) : sparsemixerRow(rowLogits, moe.sparsemixerJitterEps)
    for (const [e, weight] of routes) {
      const expert = w.experts[e]!
      const y = ops.gatedMlp(row, expert.gate, expert.up, expert.down, moe.expertIntermediateSize)
      for (let h = 0; h < hidden; h++) target[h] += weight * y[h]!
    }
    if (w.shared) {
      const y = ops.gatedMlp(row, w.shared.gate, w.shared.up, w.shared.down, moe.sharedExpertIntermediateSize)
      const gate = w.shared.gateWeight ? 1 / (1 + Math.exp(-ops.linear(row, w.shared.gateWeight, null, hidden)[0]!)) : 1
      for (let h = 0; h < hidden; h++) target[h] += gate * y[h]!
    }
  }
  return out
}
