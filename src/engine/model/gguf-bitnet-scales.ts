// GGUF bitnet files that keep a projection's ternary codes apart from its per-tensor scale: llama.cpp's BITNET graph
// creates an optional blk.N.<projection>.scale of shape {1} beside attn_q/k/v, attn_output, ffn_gate/up/down and
// multiplies it into that projection's output (ggml_mul right after the matmul, before any bias). A matmul is linear,
// so here the scalar is folded into the weight at load instead (TensorInfo.scale, which the native loader multiplies
// into float values in fp32 and into Q8_0 blocks' f16 d): the same product up to the rounding of the stored weights.
import {ModelLoadError} from '../errors.js'
import type {GgufFile} from './gguf-file.js'
import {ggufF32Vector} from './gguf-phi3-gemma.js'
import type {TensorInfo} from './safetensors.js'

/** The projections llama.cpp's bitnet loader gives a scale, as GGUF name -> the checkpoint module their weight is. */
const SCALED_PROJECTIONS: Record<string, string> = {
  attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj', attn_v: 'self_attn.v_proj', attn_output: 'self_attn.o_proj',
  ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj',
}

/** Float types, and block formats whose values are a block's f16 d times integer codes alone (the scale folds into d). */
const FOLDABLE_TYPES = new Set(['F32', 'F16', 'BF16', 'Q8_0', 'TQ1_0', 'TQ2_0'])

/** A bitnet file's scale tensors: GGUF scale name -> the checkpoint weight it multiplies and its value; empty for other architectures. */
export function ggufBitnetScales(file: GgufFile, arch: string): Map<string, {weight: string; value: number}> {
  const scales = new Map<string, {weight: string; value: number}>()
  if (arch !== 'bitnet') return scales
  for (const t of file.tensors) {
    const match = /^blk\.(\d+)\.(\w+)\.scale$/.exec(t.name)
    const module = match ? SCALED_PROJECTIONS[match[2]!] : undefined
    if (match === null || module === undefined) continue
    const value = ggufF32Vector(file, t.name, 1)![0]!
    if (!Number.isFinite(value)) throw new ModelLoadError(`${file.path}: tensor ${t.name} holds ${value}, not a finite scale`)
    const weight = file.tensors.find((w) => w.name === `blk.${match[1]}.${match[2]}.weight`)
    if (weight !== undefined && !FOLDABLE_TYPES.has(weight.type)) {
      throw new ModelLoadError(`${file.path}: tensor ${t.name} scales ${weight.name}, which is ${weight.type}: a per-tensor scale is folded only into F32, F16, BF16, Q8_0, TQ1_0 or TQ2_0 weights`)
    }
    scales.set(t.name, {weight: `model.layers.${match[1]}.${module}.weight`, value})
  }
  return scales
}

/** The selected tensors with each scaled weight's scale attached for the native loader to fold in. */
export function withBitnetScales(tensors: TensorInfo[], scales: Map<string, {weight: string; value: number}>): TensorInfo[] {
  if (scales.size === 0) return tensors
  const byWeight = new Map([...scales.values()].map((s) => [s.weight, s.value]))
  return tensors.map((t) => (byWeight.has(t.name) ? {...t, scale: byWeight.get(t.name)!} : t))
}
