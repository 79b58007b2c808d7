// llama.cpp's converters store a layer's experts as one tensor per projection (blk.L.ffn_{gate,up,down}_exps, the
// experts as the slowest dimension); the GGUF test writers collect the checkpoint's per-expert matrices here.
import type {GgufTensorSpec} from './gguf-file.js'

/** A tensor spec over `values`' bytes. */
export const ggufSpec = (name: string, dims: number[], values: Float32Array<ArrayBuffer>): GgufTensorSpec => ({name, dims, data: Buffer.from(values.buffer)})

export class FusedExperts {
  private readonly experts = new Map<string, {dims: number[]; parts: Float32Array[]}>()

  /** Keeps `values` when `tensor` is one expert's matrix (model.layers.L.mlp.experts.E.X_proj.weight, Nemotron-H's backbone.layers.L.mixer.experts.E.X_proj.weight); false otherwise. */
  take(tensor: {name: string; shape: number[]}, values: Float32Array): boolean {
    const expert = /^(?:model\.layers\.(\d+)\.mlp|backbone\.layers\.(\d+)\.mixer)\.experts\.(\d+)\.(gate|up|down)_proj\.weight$/.exec(tensor.name)
    if (!expert) return false
    const name = `blk.${expert[1] ?? expert[2]}.ffn_${expert[4]}_exps.weight`
    const fused = this.experts.get(name) ?? {dims: [tensor.shape[1]!, tensor.shape[0]!], parts: []}
    fused.parts[Number(expert[3])] = values
    this.experts.set(name, fused)
    return true
  }

  /** One spec per layer and projection, [cols, rows, experts]. */
  specs(): GgufTensorSpec[] {
    return [...this.experts].map(([name, {dims, parts}]) => {
      const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
      parts.forEach((p, e) => all.set(p, e * p.length))
      return ggufSpec(name, [...dims, parts.length], all)
    })
  }
}
