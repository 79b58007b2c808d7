// GGUF apertus files (Apertus 8B / 70B) as llama.cpp's converter writes them, read as the Apertus config.json they
// stand for (apertus-config.ts): llama's tensor names with q/k norms and an ungated MLP, q/k rows as in HF (llama.cpp
// rotates apertus NEOX-style), Llama 3 rope as rope_freqs.weight. The converter moves each layer's xIELU scalars
// (mlp.act_fn.alpha_p / alpha_n / beta / eps, stored raw: softplus is applied at run time) into the bare metadata
// arrays xielu.alpha_p / alpha_n / beta / eps, one f32 per layer (llama.cpp also takes one f32 for every layer); they
// are read back as the checkpoint's [1] tensors, byte windows of the file's metadata.
import {ModelLoadError} from '../errors.js'
import type {GgufFile} from './gguf-file.js'
import type {TensorInfo} from './safetensors.js'

export const GGUF_APERTUS_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  apertus: {architecture: 'ApertusForCausalLM', modelType: 'apertus', interleavedRope: false},
}

const XIELU_SCALARS = ['alpha_p', 'alpha_n', 'beta', 'eps'] as const

/**
 * The config.json keys an apertus file stands for; {} for other architectures. Without rope_freqs.weight llama.cpp
 * runs plain rope at rope.freq_base, which ApertusConfig's default (llama3 x8) would not.
 */
export function apertusGgufKeys(arch: string, get: (key: string) => unknown, tensorNames: Set<string>): Record<string, unknown> {
  if (arch !== 'apertus') return {}
  const plainRope = tensorNames.has('rope_freqs.weight') ? {} : {rope_parameters: {rope_type: 'default', rope_theta: get('rope.freq_base') ?? 10000}}
  return {hidden_act: 'xielu', ...plainRope}
}

/** Each layer's xIELU scalars as [1] F32 tensors over the xielu.* metadata values; [] for other architectures. */
export function apertusXieluTensors(file: GgufFile, arch: string, numLayers: number): TensorInfo[] {
  if (arch !== 'apertus') return []
  return XIELU_SCALARS.flatMap((scalar) => {
    const key = `xielu.${scalar}`
    const value = file.metadata.get(key)
    const offset = file.f32MetadataOffsets.get(key)
    if (value === undefined) throw new ModelLoadError(`${file.path}: GGUF metadata ${key} is missing (Apertus's per-layer xIELU scalars)`)
    const perLayer = Array.isArray(value)
    if (offset === undefined || (perLayer && value.length !== numLayers)) {
      throw new ModelLoadError(`${file.path}: GGUF metadata ${key} must be one f32 per layer (${numLayers}) or a single f32, got ${perLayer ? `${value.length} values` : typeof value}${offset === undefined ? ' (not f32)' : ''}`)
    }
    return Array.from({length: numLayers}, (_, layer): TensorInfo => ({
      name: `model.layers.${layer}.mlp.act_fn.${scalar}`, dtype: 'F32', shape: [1], path: file.path, offset: offset + (perLayer ? 4 * layer : 0), nbytes: 4,
    }))
  })
}
