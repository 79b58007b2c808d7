// Writes the language model of a vision-language HF test model as llama.cpp's converter writes its text GGUF file
// (conversion/qwen.py, qwenvl.py): Qwen2's / Qwen3's / Qwen3-MoE's tensors and keys under qwen2vl / qwen3vl / qwen3vlmoe
// (Qwen3-VL-MoE's fused gate_up_proj cut into ffn_gate_exps and ffn_up_exps), the M-RoPE sections padded to 4
// (rope.dimension_sections) and, for Qwen3-VL, the tower's DeepStack layer count; Ministral 3's as mistral3
// (conversion/mistral.py: llama's tensors, q/k rows permuted, its YaRN and query-scale keys).
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {readTensorFloat32, type TensorInfo} from '../../src/engine/model/safetensors.js'
import {denseFamilyMetadata, denseFamilyTensors} from './dense-family-gguf.js'
import {definedEntries, f32, ggufBytes, q8_0Matrices, u32, type GgufEdits, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {FusedExperts} from './gguf-fused-experts.js'

export type VlTextArch = 'qwen2vl' | 'qwen3vl' | 'qwen3vlmoe' | 'mistral3'

/** The converter's keys for the checkpoint's mrope_section and deepstack_visual_indexes. */
export function vlTextKeys(arch: VlTextArch, sections: readonly number[], deepstackLayers: number): Record<string, GgufEntry> {
  return {
    [`${arch}.rope.dimension_sections`]: {type: 'i32s', value: [...sections, 0, 0, 0, 0].slice(0, 4)},
    ...(arch === 'qwen2vl' ? {} : {[`${arch}.n_deepstack_layers`]: {type: 'u32', value: deepstackLayers}}),
  }
}

/**
 * What Ministral 3's converter writes beyond llama's keys (the YaRN type, factor and original context come with the
 * dense writer's): YaRN's betas, mscale_all_dim as the log multiplier, llama_4_scaling_beta as the temperature scale.
 */
export function ministral3Keys(hf: LoadedModel, mscaleAllDim: number, beta: number): Record<string, GgufEntry> {
  const rope = hf.config.ropeScaling
  if (rope.type !== 'yarn') throw new Error('Ministral 3 files are written from a YaRN checkpoint')
  return {
    'mistral3.rope.scaling.yarn_beta_fast': f32(rope.betaFast), 'mistral3.rope.scaling.yarn_beta_slow': f32(rope.betaSlow),
    'mistral3.rope.scaling.yarn_log_multiplier': f32(mscaleAllDim), 'mistral3.attention.temperature_scale': f32(beta),
  }
}

/** A tensor's values in the engine's own [rows, cols] order (the fused experts are read transposed). */
function engineValues(tensor: TensorInfo): Float32Array<ArrayBuffer> {
  const stored = Float32Array.from(readTensorFloat32(tensor))
  if (!tensor.transposed) return stored
  const [rows, cols] = tensor.shape as [number, number]
  return Float32Array.from({length: stored.length}, (_, i) => stored[(i % cols) * rows + Math.floor(i / cols)]!)
}

/** Every tensor under llama.cpp's names: the router as ffn_gate_inp, experts stacked per projection. */
function tensorsOf(hf: LoadedModel, arch: VlTextArch): GgufTensorSpec[] {
  const experts = new FusedExperts()
  const rest: TensorInfo[] = []
  for (const tensor of hf.tensors) {
    const gateUp = /^(model\.layers\.\d+\.mlp\.experts\.\d+)\.gate_up_proj\.weight$/.exec(tensor.name)
    if (gateUp) {
      const values = engineValues(tensor)
      const half = values.length / 2
      const shape = [tensor.shape[0]! / 2, tensor.shape[1]!]
      experts.take({name: `${gateUp[1]}.gate_proj.weight`, shape}, values.slice(0, half))
      experts.take({name: `${gateUp[1]}.up_proj.weight`, shape}, values.slice(half))
    } else if (!experts.take(tensor, engineValues(tensor))) {
      rest.push(tensor)
    }
  }
  const routers = rest.filter((t) => t.name.endsWith('.mlp.gate.weight'))
  const dense = denseFamilyTensors({...hf, tensors: rest.filter((t) => !routers.includes(t))}, arch)
  const routerSpecs = routers.map((t) => ({name: t.name.replace(/^model\.layers\.(\d+)\.mlp\.gate\.weight$/, 'blk.$1.ffn_gate_inp.weight'), dims: [...t.shape].reverse(), data: Buffer.from(engineValues(t).buffer)}))
  return [...dense, ...routerSpecs, ...experts.specs()]
}

/** The file's bytes; `edit` changes the metadata (undefined drops a key); q8_0 stores every matrix at Q8_0. */
export function vlTextGgufBytes(hf: LoadedModel, arch: VlTextArch, keys: Record<string, GgufEntry>, options: {q8_0?: boolean; edit?: GgufEdits['edit']} = {}): Buffer {
  const c = hf.config
  const moe: Record<string, GgufEntry> = c.moe
    ? {[`${arch}.expert_count`]: u32(c.moe.numExperts), [`${arch}.expert_used_count`]: u32(c.moe.numExpertsPerToken), [`${arch}.expert_feed_forward_length`]: u32(c.moe.expertIntermediateSize)}
    : {}
  const metadata = (options.edit ?? ((m) => m))({...denseFamilyMetadata(arch, c), ...moe, ...keys})
  const tensors = tensorsOf(hf, arch)
  return ggufBytes(definedEntries(metadata), {tensors: options.q8_0 ? q8_0Matrices(tensors) : tensors})
}
