// GGUF gemma4 files (Gemma 4 as llama.cpp's converter writes it, conversion/gemma.py Gemma4Model): the metadata as the
// Gemma4TextConfig keys it stands for (gemma4-config.ts reads them), the tensor names that differ from llama's, and
// rope_freqs.weight read back into the full layers' proportional rope. Norms are stored as they are (no 1 added).
import {ModelLoadError, quotedValue} from '../errors.js'
import type {GgufFile} from './gguf-file.js'
import {ggufF32Vector} from './gguf-phi3-gemma.js'

export const GGUF_GEMMA4_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  // llama.cpp rotates Gemma 4 with its NEOX rope (rotate_half), so q/k rows are as in HF.
  gemma4: {architecture: 'Gemma4ForCausalLM', modelType: 'gemma4_text', interleavedRope: false},
}

/** Global GGUF names -> checkpoint names: the per-layer input embedding and its projection (gemma3n's names). */
export const GGUF_GEMMA4_GLOBAL_NAMES: Record<string, Record<string, string>> = {
  gemma4: {
    'per_layer_token_embd.weight': 'model.embed_tokens_per_layer.weight', 'per_layer_model_proj.weight': 'model.per_layer_model_projection.weight',
    'per_layer_proj_norm.weight': 'model.per_layer_projection_norm.weight',
  },
}

/**
 * Per-layer GGUF suffix -> checkpoint suffix where it differs from llama's: the sandwich norms (ffn_norm is the
 * pre-feedforward one), the per-layer input gate, projection and norm, layer_scalar (which the converter names
 * layer_output_scale.weight), and the MoE block: router.proj as ffn_gate_inp, router.scale as ffn_gate_inp.scale,
 * router.per_expert_scale as ffn_down_exps.scale, the stacked experts as ffn_gate_up_exps / ffn_down_exps. The
 * converter passes experts.gate_up_proj through as ffn_gate_up_exps, each expert's gate rows then its up rows, as
 * llama.cpp's fused experts are read elsewhere (gguf-moe.ts); that it does not reorder them is our reading, not a
 * line of the converter we found.
 */
export const GGUF_GEMMA4_LAYER_NAMES: Record<string, Record<string, string>> = {
  gemma4: {
    'post_attention_norm.weight': 'post_attention_layernorm.weight', 'ffn_norm.weight': 'pre_feedforward_layernorm.weight',
    'post_ffw_norm.weight': 'post_feedforward_layernorm.weight', 'inp_gate.weight': 'per_layer_input_gate.weight',
    'proj.weight': 'per_layer_projection.weight', 'post_norm.weight': 'post_per_layer_input_norm.weight', 'layer_output_scale.weight': 'layer_scalar',
    'ffn_gate_inp.weight': 'router.proj.weight', 'ffn_gate_inp.scale': 'router.scale', 'ffn_down_exps.scale': 'router.per_expert_scale',
    'ffn_gate_up_exps.weight': 'experts.gate_up_proj', 'ffn_down_exps.weight': 'experts.down_proj',
    'pre_ffw_norm_2.weight': 'pre_feedforward_layernorm_2.weight', 'post_ffw_norm_1.weight': 'post_feedforward_layernorm_1.weight',
    'post_ffw_norm_2.weight': 'post_feedforward_layernorm_2.weight',
  },
}

/** What the converter writes for the rope pairs a proportional rope leaves still: a factor no angle survives (1e30). */
const UNROTATED = Math.fround(1e30)

/**
 * The config.json keys a gemma4 file stands for ({} for other architectures). llama.cpp reads each layer's shape from
 * the swa/full keys: key_length is the full layers' head size (global_head_dim), key_length_swa the sliding layers';
 * head_count_kv and feed_forward_length may be one value a layer. These are written as per_layer_config (each full
 * layer's head size and KV heads) and use_double_wide_mlp, the only per-layer shapes Gemma4TextConfig has; a file
 * whose arrays say anything else is refused by key.
 */
export function gemma4GgufKeys(arch: string, get: (key: string) => unknown, file: GgufFile): Record<string, unknown> {
  if (!Object.hasOwn(GGUF_GEMMA4_ARCHITECTURES, arch)) return {}
  const path = file.path
  const required = (key: string): unknown => {
    if (get(key) === undefined) throw new ModelLoadError(`${path}: GGUF metadata gemma4.${key} is missing`)
    return get(key)
  }
  const layers = positive(required('block_count'), 'block_count', path)
  // Bounded as model-config.ts bounds it, before any per-layer list is read.
  if (layers > 10_000) throw new ModelLoadError(`${path}: gemma4.block_count ${layers} is beyond any model's (at most 10000).`)
  const sliding = slidingLayers(required('attention.sliding_window_pattern'), layers, path)
  const fullHeadDim = positive(required('attention.key_length'), 'attention.key_length', path)
  const swaHeadDim = positive(required('attention.key_length_swa'), 'attention.key_length_swa', path)
  // llama.cpp requires keys and values of one size, and rotates n_rot = the head size on each kind of layer
  // (the converter writes rope.dimension_count as the full head, its proportional part in rope_freqs.weight).
  for (const [key, expected] of [['attention.value_length', fullHeadDim], ['attention.value_length_swa', swaHeadDim], ['rope.dimension_count', fullHeadDim], ['rope.dimension_count_swa', swaHeadDim]] as const) {
    if (get(key) !== undefined && get(key) !== expected) throw new ModelLoadError(`${path}: gemma4.${key} ${quotedValue(get(key))} differs from the head size ${expected}; only full-head rotary embeddings with equal key and value sizes are supported.`)
  }
  const scaling = get('rope.scaling.type')
  if (scaling !== undefined && scaling !== 'none') throw new ModelLoadError(`${path}: gemma4.rope.scaling.type ${quotedValue(scaling)} is not supported (Gemma 4 files carry their rope in rope_freqs.weight).`)
  const heads = positive(required('attention.head_count'), 'attention.head_count', path)
  const kvHeads = perLayer(get('attention.head_count_kv') ?? heads, 'attention.head_count_kv', layers, path)
  const swaKvHeads = kvHeads.find((_, i) => sliding[i]) ?? kvHeads[0]!
  if (kvHeads.some((n, i) => sliding[i] && n !== swaKvHeads)) throw new ModelLoadError(`${path}: gemma4.attention.head_count_kv must give every sliding layer the same count, got ${quotedValue(get('attention.head_count_kv'))}.`)
  const shared = get('attention.shared_kv_layers') === undefined ? 0 : nonNegative(get('attention.shared_kv_layers'), 'attention.shared_kv_layers', path)
  const perLayerInput = nonNegative(required('embedding_length_per_layer_input'), 'embedding_length_per_layer_input', path)
  const moe = file.tensors.some((t) => /^blk\.\d+\.ffn_gate_inp\.weight$/.test(t.name))
  const softcap = get('final_logit_softcapping')
  return {
    // llama.cpp's gemma4 graph runs ggml_gelu, the tanh approximation.
    hidden_activation: 'gelu_pytorch_tanh',
    head_dim: swaHeadDim,
    num_key_value_heads: swaKvHeads,
    ...mlpWidths(required('feed_forward_length'), layers, shared, path),
    layer_types: sliding.map((slides) => (slides ? 'sliding_attention' : 'full_attention')),
    per_layer_config: Object.fromEntries(sliding.flatMap((slides, i) => (slides ? [] : [[String(i), {head_dim: fullHeadDim, num_key_value_heads: kvHeads[i]}]]))),
    // Full layers without attn_v take the key projection as values (llama.cpp: "if v_proj is not present, use Kcur").
    attention_k_eq_v: keysAsValues(file, sliding, shared),
    sliding_window: required('attention.sliding_window'),
    num_kv_shared_layers: shared,
    hidden_size_per_layer_input: perLayerInput,
    // llama.cpp reads per_layer_token_embd as [layers x width, n_vocab]: one row a token of the vocabulary.
    ...(perLayerInput > 0 ? {vocab_size_per_layer_input: perLayerVocab(file, perLayerInput)} : {}),
    final_logit_softcapping: softcap ?? null,
    // The gemma4 loader reads rope.freq_base_swa as optional; without it, llama_hparams' default 10000 (our reading).
    rope_parameters: {full_attention: fullRope(file, fullHeadDim, get('rope.freq_base') ?? 10000), sliding_attention: {rope_type: 'default', rope_theta: get('rope.freq_base_swa') ?? 10000}},
    ...(moe ? {enable_moe_block: true, num_experts: required('expert_count'), top_k_experts: required('expert_used_count'), moe_intermediate_size: required('expert_feed_forward_length')} : {}),
  }
}

/**
 * The full layers' rope from rope_freqs.weight (one divisor a frequency pair, head_dim / 2): the converter writes 1 for
 * the pairs proportional rope turns and 1e30 for the rest. A uniform divisor other than 1 over the turning pairs is
 * that rope's `factor` (both divide the frequency). Without the tensor llama.cpp turns every pair: the default rope.
 */
function fullRope(file: GgufFile, headDim: number, theta: unknown): Record<string, unknown> {
  const factors = ggufF32Vector(file, 'rope_freqs.weight', headDim / 2)
  if (factors === null) return {rope_type: 'default', rope_theta: theta}
  const turning = factors.findIndex((f) => f >= UNROTATED)
  const angles = turning < 0 ? factors.length : turning
  const factor = factors[0]!
  if (angles === 0 || !(factor > 0) || factors.some((f, i) => (i < angles ? f !== factor : f < UNROTATED))) {
    throw new ModelLoadError(`${file.path}: rope_freqs.weight must hold one factor for the first frequency pairs and 1e30 for the rest (Gemma 4's proportional rope), got [${Array.from(factors.slice(0, 8)).join(', ')}${factors.length > 8 ? ', ...' : ''}].`)
  }
  return {rope_type: 'proportional', partial_rotary_factor: (2 * angles) / headDim, rope_theta: theta, factor}
}

/** Rows of per_layer_token_embd.weight, which a file with per-layer inputs must hold. */
function perLayerVocab(file: GgufFile, width: number): number {
  const table = file.tensors.find((t) => t.name === 'per_layer_token_embd.weight')
  if (table === undefined) throw new ModelLoadError(`${file.path}: tensor per_layer_token_embd.weight is missing, but gemma4.embedding_length_per_layer_input is ${width}.`)
  return table.shape[0]!
}

/** attention.sliding_window_pattern: one bool a layer (true: sliding), the last layer full as Gemma4TextConfig forces it. */
function slidingLayers(pattern: unknown, layers: number, path: string): boolean[] {
  if (!Array.isArray(pattern) || pattern.length !== layers || pattern.some((flag) => typeof flag !== 'boolean')) {
    throw new ModelLoadError(`${path}: gemma4.attention.sliding_window_pattern must hold one true/false per layer (${layers}), got ${quotedValue(pattern)}.`)
  }
  if (pattern.at(-1) === true) throw new ModelLoadError(`${path}: gemma4.attention.sliding_window_pattern makes the last layer sliding; Gemma 4's last layer is always full.`)
  return pattern as boolean[]
}

/** feed_forward_length: one width, or (use_double_wide_mlp) one a layer, twice as wide on the KV-shared layers. */
function mlpWidths(value: unknown, layers: number, shared: number, path: string): Record<string, unknown> {
  if (!Array.isArray(value)) return {intermediate_size: value}
  const widths = perLayer(value, 'feed_forward_length', layers, path)
  const first = layers - shared
  if (widths.every((w) => w === widths[0])) return {intermediate_size: widths[0]}
  if (shared > 0 && first > 0 && widths.every((w, i) => w === (i < first ? widths[0]! : 2 * widths[0]!))) return {intermediate_size: widths[0], use_double_wide_mlp: true}
  throw new ModelLoadError(`${path}: gemma4.feed_forward_length ${quotedValue(value)} is not one width, nor one width doubled on the ${shared} KV-shared layers (use_double_wide_mlp).`)
}

/** Whether the full layers that write keys and values have no attn_v (all of them, or none: Gemma 4 has one switch). */
function keysAsValues(file: GgufFile, sliding: boolean[], shared: number): boolean {
  const names = new Set(file.tensors.map((t) => t.name))
  const writing = sliding.flatMap((slides, i) => (!slides && i < sliding.length - shared ? [i] : []))
  const withoutV = writing.filter((i) => !names.has(`blk.${i}.attn_v.weight`))
  return withoutV.length > 0 && withoutV.length === writing.length
}

/** A key that is one number, or one number a layer. */
function perLayer(value: unknown, key: string, layers: number, path: string): number[] {
  const values = Array.isArray(value) ? value : Array.from({length: layers}, () => value)
  if (values.length !== layers || values.some((v) => typeof v !== 'number' || !Number.isInteger(v) || v <= 0)) {
    throw new ModelLoadError(`${path}: gemma4.${key} must be a positive integer or one a layer (${layers}), got ${quotedValue(value)}.`)
  }
  return values as number[]
}

function positive(value: unknown, key: string, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new ModelLoadError(`${path}: gemma4.${key} must be a positive integer, got ${quotedValue(value)}.`)
  return value
}

function nonNegative(value: unknown, key: string, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new ModelLoadError(`${path}: gemma4.${key} must be a non-negative integer, got ${quotedValue(value)}.`)
  return value
}
