// GGUF gemma3n files (Gemma 3n E2B/E4B as llama.cpp's converter writes them, conversion/gemma.py Gemma3NModel): the
// metadata as the Gemma3nTextConfig keys it stands for (gemma3n-config.ts reads them), the tensor names that differ from
// llama's, and AltUp's stacked projections cut back into the checkpoint's one tensor a stream. Norms are stored as they
// are (Gemma3NModel.norm_shift is 0) and nothing is permuted or scaled, so every other tensor is the checkpoint's.
import {ModelLoadError, quotedValue} from '../errors.js'
import type {GgufFile} from './gguf-file.js'
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

export const GGUF_GEMMA3N_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  // The converter permutes no q/k rows (Gemma3Model has no permute), so they are as in HF (rotate_half); that llama.cpp
  // runs Gemma 3n's rope as NEOX is our reading.
  gemma3n: {architecture: 'Gemma3nForCausalLM', modelType: 'gemma3n_text', interleavedRope: false},
}

/** Global GGUF names -> checkpoint names; altup_proj / altup_unembd_proj are stacks gemma3nAltupWindows cuts apart. */
export const GGUF_GEMMA3N_GLOBAL_NAMES: Record<string, Record<string, string>> = {
  gemma3n: {
    'per_layer_token_embd.weight': 'model.embed_tokens_per_layer.weight', 'per_layer_model_proj.weight': 'model.per_layer_model_projection.weight',
    'per_layer_proj_norm.weight': 'model.per_layer_projection_norm.weight',
    'altup_proj.weight': 'model.altup_projections', 'altup_unembd_proj.weight': 'model.altup_unembed_projections',
  },
}

/**
 * Per-layer GGUF suffix -> checkpoint suffix where it differs from llama's (gguf-py tensor_mapping.py): the sandwich
 * norms (ffn_norm is the pre-feedforward one), the per-layer input gate, projection and norm, AltUp's router and
 * coefficients, and LAuReL. The converter names altup.correct_output_scale with ".weight" added (filter_tensors: a
 * name ending in "_scale").
 */
export const GGUF_GEMMA3N_LAYER_NAMES: Record<string, Record<string, string>> = {
  gemma3n: {
    'post_attention_norm.weight': 'post_attention_layernorm.weight', 'ffn_norm.weight': 'pre_feedforward_layernorm.weight',
    'post_ffw_norm.weight': 'post_feedforward_layernorm.weight', 'inp_gate.weight': 'per_layer_input_gate.weight',
    'proj.weight': 'per_layer_projection.weight', 'post_norm.weight': 'post_per_layer_input_norm.weight',
    'altup_correct_coef.weight': 'altup.correction_coefs.weight', 'altup_correct_scale.weight': 'altup.correct_output_scale',
    'altup_predict_coef.weight': 'altup.prediction_coefs.weight', 'altup_router.weight': 'altup.modality_router.weight',
    'altup_router_norm.weight': 'altup.router_norm.weight', 'laurel_l.weight': 'laurel.linear_left.weight',
    'laurel_r.weight': 'laurel.linear_right.weight', 'laurel_post_norm.weight': 'laurel.post_laurel_norm.weight',
  },
}

/**
 * The config.json keys a gemma3n file stands for ({} for other architectures). llama.cpp fixes the KV-sharing start
 * (layer 20: gemma3n.cpp) and the sparse layers (the first 10, at icdf(0.95): models.h) to E2B's and E4B's values, and
 * keeps llama_hparams' 4 AltUp streams on stream 0, LAuReL rank 64 and per-layer width 256 (that it reads no key for
 * these is our reading); the converter writes each of them from the checkpoint's config, so they are read here from
 * the file (LAuReL's rank from laurel_l's shape), which agrees with llama.cpp on those models.
 */
export function gemma3nGgufKeys(arch: string, get: (key: string) => unknown, file: GgufFile): Record<string, unknown> {
  if (!Object.hasOwn(GGUF_GEMMA3N_ARCHITECTURES, arch)) return {}
  const path = file.path
  const required = (key: string): unknown => {
    if (get(key) === undefined) throw new ModelLoadError(`${path}: GGUF metadata gemma3n.${key} is missing`)
    return get(key)
  }
  const layers = Number(required('block_count'))
  const pattern = get('attention.sliding_window_pattern')
  const softcap = get('final_logit_softcapping')
  const fullTheta = get('rope.freq_base') ?? 10000
  const scaling = get('rope.scaling.type')
  if (scaling !== undefined && scaling !== 'none') throw new ModelLoadError(`${path}: gemma3n.rope.scaling.type ${quotedValue(scaling)} is not supported (Gemma 3n's layers use the default rope).`)
  return {
    // llama.cpp's gemma3n graph runs ggml_gelu, the tanh approximation.
    hidden_activation: 'gelu_pytorch_tanh',
    sliding_window: required('attention.sliding_window'),
    // Without the key llama.cpp makes every 5th layer full (swa_period 5), as Gemma3nTextConfig's default does.
    ...(pattern === undefined ? {} : {layer_types: layerTypes(pattern, layers, path)}),
    num_kv_shared_layers: required('attention.shared_kv_layers'),
    hidden_size_per_layer_input: required('embedding_length_per_layer_input'),
    vocab_size_per_layer_input: tensorShape(file, 'per_layer_token_embd.weight')[0],
    altup_num_inputs: required('altup.num_inputs'),
    altup_active_idx: required('altup.active_idx'),
    // llama.cpp always scales the active stream's correction by altup_correct_scale.weight.
    altup_correct_scale: true,
    laurel_rank: tensorShape(file, 'blk.0.laurel_l.weight')[0],
    activation_sparsity_pattern: sparsityShares(required('activation_sparsity_scale'), layers, path),
    // The sliding layers' base defaults to the full layers' (llama.cpp's load_hparams) where the file has none.
    rope_parameters: {full_attention: {rope_type: 'default', rope_theta: fullTheta}, sliding_attention: {rope_type: 'default', rope_theta: get('rope.freq_base_swa') ?? fullTheta}},
    ...(softcap === undefined ? {} : {final_logit_softcapping: softcap}),
  }
}

/** A stacked altup_proj / altup_unembd_proj ([streams - 1, hidden, hidden]) as one [hidden, hidden] tensor a stream. */
export function gemma3nAltupWindows(tensor: TensorInfo, config: ModelConfig): TensorInfo[] {
  const stack = /^model\.(altup_projections|altup_unembed_projections)$/.exec(tensor.name)
  if (!stack) return [tensor]
  const streams = config.gemma3n!.altupInputs - 1
  const hidden = config.hiddenSize
  if (tensor.shape.length !== 3 || tensor.shape[0] !== streams || tensor.shape[1] !== hidden || tensor.shape[2] !== hidden) {
    const gguf = stack[1] === 'altup_projections' ? 'altup_proj.weight' : 'altup_unembd_proj.weight'
    throw new ModelLoadError(`${tensor.path}: tensor ${gguf} is [${tensor.shape.join(', ')}], but gemma3n.altup.num_inputs and embedding_length make it [${streams}, ${hidden}, ${hidden}].`)
  }
  const slab = tensor.nbytes / streams
  return Array.from({length: streams}, (_, i) => ({...tensor, name: `${tensor.name}.${i}.weight`, shape: [hidden, hidden], offset: tensor.offset + i * slab, nbytes: slab}))
}

/** attention.sliding_window_pattern: one bool a layer (true: sliding), as Gemma3NModel writes layer_types. */
function layerTypes(pattern: unknown, layers: number, path: string): string[] {
  if (!Array.isArray(pattern) || pattern.length !== layers || pattern.some((flag) => typeof flag !== 'boolean')) {
    throw new ModelLoadError(`${path}: gemma3n.attention.sliding_window_pattern must hold one true/false per layer (${layers}), got ${quotedValue(pattern)}.`)
  }
  return pattern.map((slides) => (slides ? 'sliding_attention' : 'full_attention'))
}

/** The shape (slowest dimension first, as the checkpoint's) of a tensor the config is read from. */
function tensorShape(file: GgufFile, name: string): number[] {
  const tensor = file.tensors.find((t) => t.name === name)
  if (tensor === undefined) throw new ModelLoadError(`${file.path}: tensor ${name} is missing (a gemma3n file's config is read from its shape).`)
  return tensor.shape
}

/**
 * activation_sparsity_scale back into activation_sparsity_pattern: the converter writes each layer's
 * Normal(0, 1).icdf(share) as a float32 (-inf for a dense layer's 0), so the share is the normal CDF of it, rounded to the
 * float32 the checkpoint's config gives the quantile (a float32 quantile is far finer than a float32 share near it).
 */
function sparsityShares(value: unknown, layers: number, path: string): number[] {
  if (!Array.isArray(value) || value.length !== layers || value.some((m) => typeof m !== 'number' || Number.isNaN(m) || m === Infinity)) {
    throw new ModelLoadError(`${path}: gemma3n.activation_sparsity_scale must hold one normal quantile (below +inf, -inf for a dense layer) per layer (${layers}), got ${quotedValue(value)}.`)
  }
  return (value as number[]).map((m) => {
    const share = Math.fround(normalCdf(m))
    if (share >= 1) throw new ModelLoadError(`${path}: gemma3n.activation_sparsity_scale ${m} would cut every gate activation (a share of 1).`)
    return share
  })
}

/** The standard normal CDF: erf's series of positive terms (no cancellation), erf(x) = 2/sqrt(pi) e^-x^2 sum 2^n x^(2n+1) / (2n+1)!!. */
function normalCdf(m: number): number {
  const x = Math.abs(m) / Math.SQRT2
  // Past |m| = 12 the CDF is 0 or 1 in doubles (and the series would overflow).
  if (x > 8.5) return m < 0 ? 0 : 1
  let term = x
  let sum = x
  for (let n = 1; term > sum * 1e-17; n++) {
    term *= (2 * x * x) / (2 * n + 1)
    sum += term
  }
  const erf = Math.min(1, (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum)
  return m < 0 ? (1 - erf) / 2 : (1 + erf) / 2
}

/**
 * The KV-shared layers' attn_k / attn_v / attn_k_norm: the checkpoint holds them, so the converter writes them, and
 * llama.cpp creates them for every layer (checking their shapes, as here) but runs only the query on those layers
 * (has_kv); they are left unread here.
 */
export function gemma3nUnusedKv(file: GgufFile, config: ModelConfig): string[] {
  if (!config.gemma3n) return []
  const byName = new Map(file.tensors.map((t) => [t.name, t]))
  return config.gemma4!.layers.flatMap((layer, i) => {
    if (layer.kvSource === i) return []
    const kv = layer.numKvHeads * layer.headDim
    const shapes: [string, number[]][] = [[`blk.${i}.attn_k.weight`, [kv, config.hiddenSize]], [`blk.${i}.attn_v.weight`, [kv, config.hiddenSize]], [`blk.${i}.attn_k_norm.weight`, [layer.headDim]]]
    return shapes.flatMap(([name, shape]) => {
      const tensor = byName.get(name)
      if (tensor === undefined) return []
      if (tensor.shape.join() !== shape.join()) throw new ModelLoadError(`${file.path}: tensor ${name} is [${tensor.shape.join(', ')}], but layer ${i}'s keys and values are [${shape.join(', ')}].`)
      return [name]
    })
  })
}
