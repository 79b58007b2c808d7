// GGUF phi3, gemma2 and gemma3 files: their metadata as the config.json keys it stands for, and the tensor names that
// differ from llama's. llama.cpp rotates all three with its NEOX rope (rotate_half), so their q/k rows are as in HF.
import {closeSync, openSync, readSync} from 'node:fs'
import {ModelLoadError} from '../errors.js'
import type {GgufFile} from './gguf-file.js'

export const GGUF_PHI3_GEMMA_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  phi3: {architecture: 'Phi3ForCausalLM', modelType: 'phi3', interleavedRope: false},
  gemma2: {architecture: 'Gemma2ForCausalLM', modelType: 'gemma2', interleavedRope: false},
  gemma3: {architecture: 'Gemma3ForCausalLM', modelType: 'gemma3_text', interleavedRope: false},
}

/**
 * Per-layer names that mean something else than in a llama file. phi3 keeps Phi-3's fusions: attn_qkv is qkv_proj and
 * ffn_up is gate_up_proj (gate rows first, as Phi3MLP chunks it), which fused-tensors.ts cuts into byte windows.
 * Gemma 2/3's ffn_norm is the pre-feedforward norm of their sandwich (post_attention_norm and post_ffw_norm are the
 * other two, named as OLMo2's).
 */
export const GGUF_PHI3_GEMMA_LAYER_NAMES: Record<string, Record<string, string>> = {
  phi3: {'attn_qkv.weight': 'self_attn.qkv_proj.weight', 'ffn_up.weight': 'mlp.gate_up_proj.weight'},
  gemma2: {'ffn_norm.weight': 'pre_feedforward_layernorm.weight'},
  gemma3: {'ffn_norm.weight': 'pre_feedforward_layernorm.weight'},
}

/** llama.cpp's converter writes every Gemma norm weight with the 1 of (1 + weight) already added. */
export const GGUF_NORMS_WITH_ONE_ADDED = new Set(['gemma', 'gemma2', 'gemma3'])

/** An F32 vector tensor's values, or null when the file has no such tensor; any other type or size is refused by name. */
export function ggufF32Vector(file: GgufFile, name: string, length: number): Float32Array | null {
  const tensor = file.tensors.find((t) => t.name === name)
  if (tensor === undefined) return null
  if (tensor.type !== 'F32' || tensor.shape.length !== 1 || tensor.shape[0] !== length) {
    throw new ModelLoadError(`${file.path}: ${name} should hold ${length} F32 factors, but is ${tensor.type} [${tensor.shape.join(', ')}]`)
  }
  const values = new Float32Array(length)
  const fd = openSync(file.path, 'r')
  try {
    readSync(fd, new Uint8Array(values.buffer), 0, values.byteLength, tensor.offset)
  } finally {
    closeSync(fd)
  }
  return values
}

/**
 * The config.json keys a phi3 / gemma2 / gemma3 file's metadata stands for, beyond the llama ones; {} for other
 * architectures. `get` reads `<arch>.<key>`.
 */
export function phi3GemmaGgufKeys(arch: string, get: (key: string) => unknown, file: GgufFile): Record<string, unknown> {
  if (arch === 'phi3') return phi3Keys(get, file)
  if (arch !== 'gemma2' && arch !== 'gemma3') return {}
  const required = (key: string): unknown => {
    if (get(key) === undefined) throw new ModelLoadError(`${file.path}: GGUF metadata ${arch}.${key} is missing`)
    return get(key)
  }
  const layers = Number(required('block_count'))
  // llama.cpp's attention scale (after gemma_pytorch): 1/sqrt(hidden / heads) for the 27B models, 1/sqrt(head size)
  // for the others; transformers' query_pre_attn_scalar holds the same numbers in their configs.
  const largest = arch === 'gemma2' ? 46 : 62
  const perHead = Number(required('embedding_length')) / Number(required('attention.head_count'))
  const scalar = layers === largest ? perHead : get('attention.key_length') ?? perHead
  const common = {hidden_activation: 'gelu_pytorch_tanh', query_pre_attn_scalar: scalar}
  if (arch === 'gemma2') {
    // llama.cpp's defaults when a key is absent, as Gemma2Config's: window 4096 on every other layer, caps 50 and 30.
    return {...common, sliding_window: get('attention.sliding_window') ?? 4096, attn_logit_softcapping: get('attn_logit_softcapping') ?? 50, final_logit_softcapping: get('final_logit_softcapping') ?? 30}
  }
  // Gemma 3: llama.cpp slides five layers in six unless the file says otherwise, and rotates them with base 10000,
  // unscaled; the full layers take rope.freq_base and the file's rope scaling (linear, factor 8 on 4B and up). No
  // attention cap; a final one if written.
  return {
    ...common, sliding_window: required('attention.sliding_window'), ...gemma3SlidingLayers(get('attention.sliding_window_pattern'), layers, file.path),
    rope_local_base_freq: 10000, attn_logit_softcapping: null, final_logit_softcapping: get('final_logit_softcapping') ?? null,
  }
}

/**
 * attention.sliding_window_pattern, which newer converters write: a period (every n-th layer full) or one bool per
 * layer (true: sliding), as llama.cpp reads it; absent, llama.cpp's fixed period 6.
 */
function gemma3SlidingLayers(pattern: unknown, layers: number, path: string): Record<string, unknown> {
  if (pattern === undefined) return {sliding_window_pattern: 6}
  if (typeof pattern === 'number' && Number.isInteger(pattern) && pattern > 0) return {sliding_window_pattern: pattern}
  if (Array.isArray(pattern) && pattern.length === layers && pattern.every((p) => typeof p === 'boolean')) {
    return {layer_types: pattern.map((slides) => (slides ? 'sliding_attention' : 'full_attention'))}
  }
  throw new ModelLoadError(`${path}: gemma3.attention.sliding_window_pattern must be a positive period or one bool per layer (${layers}).`)
}

/**
 * Phi-3: a sliding window on every layer (0: none, as Phi-4's files say), and for the 128k models LongRoPE, whose
 * per-frequency factors llama.cpp stores as rope_factors_short / rope_factors_long tensors beside the original context.
 */
function phi3Keys(get: (key: string) => unknown, file: GgufFile): Record<string, unknown> {
  const window = get('attention.sliding_window')
  const keys: Record<string, unknown> = {sliding_window: window === 0 || window === undefined ? null : window}
  const headDim = Number(get('attention.key_length') ?? Number(get('embedding_length')) / Number(get('attention.head_count')))
  // Phi-4-mini rotates 96 of each head's 128 values (llama.cpp's n_rot); its LongRoPE factors cover those only.
  const rotaryDim = Number(get('rope.dimension_count') ?? headDim)
  if (rotaryDim !== headDim) keys.partial_rotary_factor = rotaryDim / headDim
  // The config's int(head_dim * factor) must give the count back.
  if (Math.floor(headDim * (rotaryDim / headDim)) !== rotaryDim) throw new ModelLoadError(`${file.path}: phi3.rope.dimension_count ${rotaryDim} is not a fraction of the head size ${headDim} the config can state`)
  const short = ggufF32Vector(file, 'rope_factors_short.weight', rotaryDim / 2)
  const long = ggufF32Vector(file, 'rope_factors_long.weight', rotaryDim / 2)
  if (short === null && long === null) return keys
  const original = get('rope.scaling.original_context_length')
  if (short === null || long === null || original === undefined) {
    throw new ModelLoadError(`${file.path}: phi3 LongRoPE needs rope_factors_short.weight, rope_factors_long.weight and phi3.rope.scaling.original_context_length together`)
  }
  const attentionFactor = get('rope.scaling.attn_factor')
  return {
    ...keys,
    original_max_position_embeddings: original,
    rope_scaling: {type: 'longrope', short_factor: [...short], long_factor: [...long], ...(attentionFactor === undefined ? {} : {attention_factor: attentionFactor})},
  }
}
