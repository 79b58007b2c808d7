// GGUF ernie4_5-moe (ERNIE-4.5-21B-A3B), hunyuan-moe (Hunyuan-A13B), dots1 (dots.llm1), minimax-m2, exaone-moe (K-EXAONE),
// dbrx, afmoe (Arcee Trinity), cohere2moe, mellum (JetBrains Mellum) and hy_v3 (Tencent Hy3) files, as llama.cpp's
// converter writes them, read as the config.json each stands for (ernie45-moe-config.ts, hunyuan-moe-config.ts,
// dots1-config.ts, minimax-m2-config.ts, exaone-moe-config.ts, dbrx-config.ts, afmoe-config.ts, cohere2-moe-config.ts,
// mellum-config.ts, hy-v3-config.ts). Their experts, routers, shared experts and router
// biases (exp_probs_b) are under llama.cpp's common MoE names (gguf-moe.ts, gguf-deepseek.ts); q/k rows are as in the
// checkpoint (ERNIE's own interleaved rope is reordered at load as for the checkpoint: llama-twists.ts).
import {ModelLoadError, quotedValue} from '../errors.js'
import {DBRX} from './dbrx-config.js'
import {rowWindows} from './fused-tensors.js'
import {exaone4Windows} from './gguf-dense-families.js'
import {ggufYarnScaling} from './gguf-olmo3.js'
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

export const GGUF_MOE_FAMILY_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  'ernie4_5-moe': {architecture: 'Ernie4_5_MoeForCausalLM', modelType: 'ernie4_5_moe', interleavedRope: false},
  'hunyuan-moe': {architecture: 'HunYuanMoEV1ForCausalLM', modelType: 'hunyuan_v1_moe', interleavedRope: false},
  dots1: {architecture: 'Dots1ForCausalLM', modelType: 'dots1', interleavedRope: false},
  'minimax-m2': {architecture: 'MiniMaxM2ForCausalLM', modelType: 'minimax_m2', interleavedRope: false},
  'exaone-moe': {architecture: 'ExaoneMoeForCausalLM', modelType: 'exaone_moe', interleavedRope: false},
  dbrx: {architecture: DBRX, modelType: 'dbrx', interleavedRope: false},
  afmoe: {architecture: 'AfmoeForCausalLM', modelType: 'afmoe', interleavedRope: false},
  // Cohere's own interleaved rope (llama.cpp's NORM), rows as in the checkpoint: reordered at load as for it (rms-variants.ts).
  cohere2moe: {architecture: 'Cohere2MoeForCausalLM', modelType: 'cohere2_moe', interleavedRope: false},
  mellum: {architecture: 'MellumForCausalLM', modelType: 'mellum', interleavedRope: false},
  hy_v3: {architecture: 'HYV3ForCausalLM', modelType: 'hy_v3', interleavedRope: false},
}

/** Whether the file's rope.scaling.type is a YaRN the family's reader takes (Mellum's full layers: mellumKeys). */
export function acceptsMoeFamilyYarn(arch: string, ropeType: unknown): boolean {
  return arch === 'mellum' && ropeType === 'yarn'
}

/**
 * Hunyuan's and dots1's o_proj bias, beside the q/k/v biases llama's names already cover; DBRX's fused q/k/v and its
 * second norm; AFMoE's attention output gate and sandwich norms under its checkpoint's names (renamed at load as its).
 */
export const GGUF_MOE_FAMILY_LAYER_NAMES: Record<string, Record<string, string>> = {
  'hunyuan-moe': {'attn_output.bias': 'self_attn.o_proj.bias'},
  dots1: {'attn_output.bias': 'self_attn.o_proj.bias'},
  dbrx: {'attn_qkv.weight': 'self_attn.qkv_proj.weight', 'attn_output_norm.weight': 'post_attention_layernorm.weight'},
  // Hy3's router bias: llama.cpp reads blk.N.exp_probs_b with no .bias (the converter's name for mlp.expert_bias).
  hy_v3: {exp_probs_b: 'mlp.gate.e_score_correction_bias'},
  afmoe: {
    'attn_gate.weight': 'self_attn.gate_proj.weight', 'post_attention_norm.weight': 'post_attention_layernorm.weight',
    'ffn_norm.weight': 'pre_mlp_layernorm.weight', 'post_ffw_norm.weight': 'post_mlp_layernorm.weight',
  },
}

/** MiniMax-M2 rotates the first rope.dimension_count values of each head (its rotary_dim). */
export const GGUF_MOE_FAMILY_PARTIAL_ROTARY = new Set(['minimax-m2'])

/** llama.cpp's expert_gating_func values: 1 softmax, 2 sigmoid. */
const GATING_NAMES: Record<number, string> = {1: 'softmax', 2: 'sigmoid'}

/** What a family's reader takes from the file: `<arch>.<key>` values (required ones named when missing) and its path. */
interface FileKeys {
  arch: string
  path: string
  get: (key: string) => unknown
  required: (key: string) => unknown
  /** Whether layer 0 has q/k/v biases (each family's config has one switch for them). */
  hasBias: boolean
}

/** Each family routes one way; a file saying otherwise describes a model the family's config cannot express. */
export function checkGating({arch, path, get}: Pick<FileKeys, 'arch' | 'path' | 'get'>, expected: 1 | 2): void {
  const value = get('expert_gating_func') ?? expected
  if (value !== expected) throw new ModelLoadError(`${path}: ${arch}.expert_gating_func ${quotedValue(value)} is not supported: ${arch} routes with ${GATING_NAMES[expected]} scores (${expected}).`)
}

/** The converter writes ERNIE's shared experts' count and the interval and first index of its sparse layers (the last layer ends them). */
function ernieKeys(file: FileKeys): Record<string, unknown> {
  checkGating(file, 1)
  const {get, required} = file
  return {
    moe_num_experts: required('expert_count'), moe_k: required('expert_used_count'), moe_intermediate_size: required('expert_feed_forward_length'),
    moe_num_shared_experts: get('expert_shared_count') ?? 0, moe_layer_start_index: get('leading_dense_block_count') ?? 0,
    moe_layer_end_index: -1, moe_layer_interval: get('interleave_moe_layer_step') ?? 1, use_bias: file.hasBias,
  }
}

/**
 * HunYuanMoEV1's experts and its one shared MLP are as wide as intermediate_size (feed_forward_length); the converter
 * writes the dynamic-alpha rope as the raised base it is (rope.freq_base), unscaled.
 */
function hunyuanKeys(file: FileKeys): Record<string, unknown> {
  checkGating(file, 1)
  const width = file.required('feed_forward_length')
  for (const [key, expected] of [['expert_feed_forward_length', width], ['expert_shared_count', 1]] as const) {
    const value = file.get(key) ?? expected
    if (value !== expected) throw new ModelLoadError(`${file.path}: hunyuan-moe.${key} ${quotedValue(value)} is not supported: HunYuanMoEV1's experts are as wide as feed_forward_length (${quotedValue(width)}) beside one shared MLP.`)
  }
  return {num_experts: file.required('expert_count'), moe_topk: file.required('expert_used_count'), attention_bias: file.hasBias, rope_scaling: null}
}

/** DeepSeek-V3's routing keys; a file without expert_group_count (the converters write none for dots1 or K-EXAONE) routes in one group. */
function sigmoidGroupedKeys(file: FileKeys): Record<string, unknown> {
  checkGating(file, 2)
  const {get, required} = file
  const groups = get('expert_group_count') ?? 1
  return {
    num_experts_per_tok: required('expert_used_count'), moe_intermediate_size: required('expert_feed_forward_length'),
    first_k_dense_replace: get('leading_dense_block_count') ?? 0, routed_scaling_factor: get('expert_weights_scale') ?? 1,
    norm_topk_prob: get('expert_weights_norm') ?? false, n_group: groups, topk_group: get('expert_group_used_count') ?? groups,
  }
}

function dots1Keys(file: FileKeys): Record<string, unknown> {
  return {...sigmoidGroupedKeys(file), n_routed_experts: file.required('expert_count'), n_shared_experts: file.get('expert_shared_count') ?? 0, attention_bias: file.hasBias, sliding_window: null}
}

/** K-EXAONE's block_count includes its nextn (MTP) layers, which are skipped; its windows are EXAONE 4's. */
function exaoneMoeKeys(file: FileKeys): Record<string, unknown> {
  const layers = Number(file.required('block_count')) - Number(file.get('nextn_predict_layers') ?? 0)
  return {
    ...sigmoidGroupedKeys(file), ...exaone4Windows((key) => (key === 'block_count' ? layers : file.get(key)), file.path, file.arch),
    num_experts: file.required('expert_count'), num_shared_experts: file.get('expert_shared_count') ?? 0, num_hidden_layers: layers,
  }
}

/** DbrxConfig's own keys (dbrx-config.ts reads them over the shared ones); llama.cpp renormalises DBRX's top-k unless the file says otherwise. */
function dbrxKeys(file: FileKeys): Record<string, unknown> {
  checkGating(file, 1)
  const {get, required} = file
  return {
    d_model: required('embedding_length'), n_heads: required('attention.head_count'), n_layers: required('block_count'), max_seq_len: required('context_length'),
    attn_config: {kv_n_heads: get('attention.head_count_kv') ?? required('attention.head_count'), clip_qkv: get('attention.clamp_kqv') ?? null, rope_theta: get('rope.freq_base') ?? 10000},
    ffn_config: {
      ffn_hidden_size: required('feed_forward_length'), moe_num_experts: required('expert_count'), moe_top_k: required('expert_used_count'),
      moe_normalize_expert_weights: (get('expert_weights_norm') ?? true) ? 1 : null,
    },
  }
}

/**
 * llama.cpp runs every AFMoE file with muP's embedding scale, renormalised top-k weights and, given a window, every 4th
 * layer full and unrotated (global_attn_every_n_layers 4); it reads no key for them.
 */
function afmoeKeys(file: FileKeys): Record<string, unknown> {
  checkGating(file, 2)
  const {get, required, path} = file
  if (get('expert_weights_norm') === false) throw new ModelLoadError(`${path}: afmoe.expert_weights_norm false is not supported: AFMoE renormalises its top-k weights.`)
  const window = get('attention.sliding_window')
  if (window === undefined || window === 0) throw new ModelLoadError(`${path}: afmoe.attention.sliding_window ${quotedValue(window)}: AFMoE files without a window (llama.cpp then rotates no layer) are not supported.`)
  return {
    num_experts: required('expert_count'), num_experts_per_tok: required('expert_used_count'), moe_intermediate_size: required('expert_feed_forward_length'),
    num_shared_experts: get('expert_shared_count') ?? 0, num_dense_layers: get('leading_dense_block_count') ?? 0, route_scale: get('expert_weights_scale') ?? 1,
    sliding_window: window, global_attn_every_n_layers: 4, mup_enabled: true, attention_bias: file.hasBias,
  }
}

/** MiniMax-M2: every layer sparse, experts as wide as expert_feed_forward_length, sigmoid routing renormalised, rope on rope.dimension_count values. */
function minimaxKeys(file: FileKeys): Record<string, unknown> {
  checkGating(file, 2)
  const {get, required} = file
  const headDim = get('attention.key_length') ?? Number(get('embedding_length')) / Number(get('attention.head_count'))
  return {
    num_local_experts: required('expert_count'), num_experts_per_tok: required('expert_used_count'),
    intermediate_size: required('expert_feed_forward_length'), rotary_dim: get('rope.dimension_count') ?? headDim,
  }
}

/**
 * Cohere2-MoE as llama.cpp's cohere2moe graph runs the file: LayerNorms without bias (attention.layer_norm_epsilon) unless
 * attention.layer_norm_rms_epsilon is there (RMSNorms); the parallel block; sigmoid routing over the top-k logits
 * (expert_weights_norm renormalising them), the shared experts' MLP (expert_shared_count x the experts' width) added and
 * the sum halved (the converter refuses any other combination); the first leading_dense_block_count layers dense
 * (feed_forward_length wide) and rotated, the others rotated where attention.sliding_window_pattern says they slide.
 */
function cohere2MoeKeys(file: FileKeys): Record<string, unknown> {
  checkGating(file, 2)
  const {arch, path, get, required} = file
  const scale = get('expert_weights_scale') ?? 1
  if (scale !== 1) throw new ModelLoadError(`${path}: ${arch}.expert_weights_scale ${quotedValue(scale)} is not supported: Cohere2-MoE does not scale its routed experts.`)
  const width = required('expert_feed_forward_length')
  const shared = get('expert_shared_count') ?? 0
  const sharedWidth = get('expert_shared_feed_forward_length')
  if (sharedWidth !== undefined && sharedWidth !== Number(shared) * Number(width)) {
    throw new ModelLoadError(`${path}: ${arch}.expert_shared_feed_forward_length ${quotedValue(sharedWidth)} is not expert_shared_count x expert_feed_forward_length (${quotedValue(shared)} x ${quotedValue(width)}), the shared MLP's width in Cohere2-MoE.`)
  }
  required('attention.sliding_window')
  // llama.cpp rotates the sliding layers by rope.freq_base_swa where a file has one; Cohere2MoeConfig has one base.
  const swaBase = get('rope.freq_base_swa')
  if (swaBase !== undefined && swaBase !== (get('rope.freq_base') ?? 10000)) throw new ModelLoadError(`${path}: ${arch}.rope.freq_base_swa ${quotedValue(swaBase)} is not supported: Cohere2-MoE rotates every layer by rope.freq_base (${quotedValue(get('rope.freq_base') ?? 10000)}).`)
  if (get('attention.sliding_window_pattern') === undefined) throw new ModelLoadError(`${path}: GGUF metadata ${arch}.attention.sliding_window_pattern is missing (one true/false per layer: which layers slide and rotate)`)
  const layers = Number(required('block_count')) - Number(get('nextn_predict_layers') ?? 0)
  const rms = get('attention.layer_norm_rms_epsilon')
  return {
    ...exaone4Windows((key) => (key === 'block_count' ? layers : get(key)), path, arch), num_hidden_layers: layers,
    logit_scale: required('logit_scale'), num_experts: required('expert_count'), num_experts_per_tok: required('expert_used_count'),
    intermediate_size: width, prefix_dense_intermediate_size: required('feed_forward_length'), first_k_dense_replace: get('leading_dense_block_count') ?? 0,
    prefix_dense_sliding_window_pattern: 1, expert_selection_fn: 'sigmoid', norm_topk_prob: get('expert_weights_norm') ?? false,
    num_shared_experts: shared, shared_expert_combination_strategy: 'average',
    ...(rms === undefined ? {rms_norm_eps: null, layer_norm_eps: required('attention.layer_norm_epsilon')} : {rms_norm_eps: rms}),
  }
}

/**
 * Mellum as llama.cpp's mellum graph runs the file: every layer's MLP sparse (it creates ffn_gate_inp in each), softmax
 * routing renormalised and unscaled whatever the file says, the sliding layers (attention.sliding_window_pattern: one
 * flag per layer, or a period n: every n-th layer full) rotated at rope.freq_base without scaling, the full ones with
 * rope.scaling's YaRN. The converter writes the sliding layers' own base as rope.freq_base_swa, which that graph never
 * reads: a file whose two bases differ is refused, since which one it means cannot be known.
 */
function mellumKeys(file: FileKeys): Record<string, unknown> {
  checkGating(file, 1)
  const {arch, path, get, required} = file
  const layers = Number(required('block_count'))
  const base = get('rope.freq_base') ?? 10000
  const swaBase = get('rope.freq_base_swa')
  if (swaBase !== undefined && swaBase !== base) {
    throw new ModelLoadError(`${path}: ${arch}.rope.freq_base_swa ${quotedValue(swaBase)} differs from rope.freq_base ${quotedValue(base)}: llama.cpp's mellum graph rotates the sliding layers by rope.freq_base, the checkpoint by their own base.`)
  }
  // The loader lets linear scaling through for every file; Mellum's full layers take YaRN or none.
  const type = get('rope.scaling.type')
  if (type === 'linear') throw new ModelLoadError(`${path}: ${arch}.rope.scaling.type "linear" is not supported (none or yarn).`)
  const full = type === 'yarn' ? {...ggufYarnScaling(get), rope_theta: base} : {rope_type: 'default', rope_theta: base}
  return {
    ...mellumWindows(file, layers), num_experts: required('expert_count'), num_experts_per_tok: required('expert_used_count'),
    moe_intermediate_size: required('expert_feed_forward_length'), norm_topk_prob: true, mlp_layer_types: Array<string>(layers).fill('sparse'),
    rope_parameters: {full_attention: full, sliding_attention: {rope_type: 'default', rope_theta: base}},
  }
}

/** Mellum's sliding layers: the pattern's flags (or a period n: layer l slides unless l % n is n - 1); none without a window. */
function mellumWindows({arch, path, get}: FileKeys, layers: number): Record<string, unknown> {
  const window = get('attention.sliding_window')
  const full = Array<string>(layers).fill('full_attention')
  if (window === undefined || window === 0) return {layer_types: full}
  const pattern = get('attention.sliding_window_pattern')
  if (pattern === undefined) throw new ModelLoadError(`${path}: GGUF metadata ${arch}.attention.sliding_window_pattern is missing (which layers slide, with attention.sliding_window)`)
  if (typeof pattern !== 'number') return exaone4Windows(get, path, arch)
  if (!Number.isInteger(pattern) || pattern < 1) throw new ModelLoadError(`${path}: ${arch}.attention.sliding_window_pattern ${quotedValue(pattern)} is not a period of layers (a positive integer) nor one true/false per layer.`)
  return {sliding_window: window, layer_types: full.map((type, l) => (l % pattern < pattern - 1 ? 'sliding_attention' : type))}
}

/**
 * Hy3 as llama.cpp's hy_v3 loader reads the file: sigmoid routing (no expert_gating_func) with the exp_probs_b bias,
 * top-k renormalised by expert_weights_norm (true, as the converter writes route_norm) and scaled by
 * expert_weights_scale; a shared MLP expert_shared_feed_forward_length wide (else expert_shared_count x, else 1 x, the
 * experts' width). Its dense layers are the first leading_dense_block_count where the file says so, else those without a
 * router (the converter writes no count); block_count includes its nextn (MTP) layers, which are skipped.
 */
function hyV3Keys(file: FileKeys, tensorNames: Set<string>): Record<string, unknown> {
  checkGating(file, 2)
  const {arch, path, get, required} = file
  if (get('expert_weights_norm') !== true) throw new ModelLoadError(`${path}: ${arch}.expert_weights_norm ${quotedValue(get('expert_weights_norm'))} is not supported: Hy3 renormalises its top-k weights (true; llama.cpp runs a file without it unnormalised).`)
  const groups = get('expert_group_count') ?? 1
  if (groups !== 1) throw new ModelLoadError(`${path}: ${arch}.expert_group_count ${quotedValue(groups)} is not supported: Hy3 routes over its experts in one group.`)
  const width = Number(required('expert_feed_forward_length'))
  const shared = get('expert_shared_count')
  const sharedWidth = get('expert_shared_feed_forward_length') ?? (shared === undefined ? width : Number(shared) * width)
  const count = Number(sharedWidth) / width
  if (!Number.isInteger(count) || count < 1) {
    const [key, value] = get('expert_shared_feed_forward_length') === undefined ? ['expert_shared_count', shared] : ['expert_shared_feed_forward_length', sharedWidth]
    throw new ModelLoadError(`${path}: ${arch}.${key} ${quotedValue(value)} does not make a whole, positive number of experts' widths (${quotedValue(width)}): Hy3's shared MLP is num_shared_experts x that wide.`)
  }
  const layers = Number(required('block_count')) - Number(get('nextn_predict_layers') ?? 0)
  const dense = get('leading_dense_block_count')
  const isDense = (l: number) => (dense === undefined ? !tensorNames.has(`blk.${l}.ffn_gate_inp.weight`) : l < Number(dense))
  return {
    num_hidden_layers: layers, num_experts: required('expert_count'), num_experts_per_tok: required('expert_used_count'), moe_intermediate_size: width,
    num_shared_experts: count, router_scaling_factor: get('expert_weights_scale') ?? 1,
    mlp_layer_types: Number.isInteger(layers) && layers > 0 ? Array.from({length: layers}, (_, l) => (isDense(l) ? 'dense' : 'sparse')) : [],
    rope_parameters: {
      rope_theta: get('rope.freq_base') ?? 10000,
      // Linear scaling (the only one the loader lets through besides none) as llama.cpp's graph applies it to every file.
      ...(get('rope.scaling.type') === 'linear' ? {rope_type: 'linear', factor: get('rope.scaling.factor') ?? 1} : {rope_type: 'default'}),
    },
  }
}

const FAMILY_KEYS: Record<string, (file: FileKeys, tensorNames: Set<string>) => Record<string, unknown>> = {
  'ernie4_5-moe': ernieKeys, 'hunyuan-moe': hunyuanKeys, dots1: dots1Keys, 'minimax-m2': minimaxKeys, 'exaone-moe': exaoneMoeKeys, dbrx: dbrxKeys, afmoe: afmoeKeys,
  cohere2moe: cohere2MoeKeys, mellum: mellumKeys, hy_v3: hyV3Keys,
}

/** The config.json keys a file of these families stands for beyond the llama ones; {} for other architectures. */
export function moeFamilyGgufKeys(arch: string, get: (key: string) => unknown, tensorNames: Set<string>, path: string): Record<string, unknown> {
  if (!Object.hasOwn(FAMILY_KEYS, arch)) return {}
  const required = (key: string): unknown => {
    if (get(key) === undefined) throw new ModelLoadError(`${path}: GGUF metadata ${arch}.${key} is missing`)
    return get(key)
  }
  return FAMILY_KEYS[arch]!({arch, path, get, required, hasBias: tensorNames.has('blk.0.attn_q.bias')}, tensorNames)
}

/** DBRX's fused attn_qkv as q, k and v row windows (byte windows of the file, block formats included); others as they are. */
export function ggufMoeFamilyTensors(tensor: TensorInfo, config: ModelConfig): TensorInfo[] {
  const fused = /^(model\.layers\.\d+\.self_attn)\.qkv_proj\.weight$/.exec(tensor.name)
  if (!fused || config.architecture !== DBRX) return [tensor]
  const kv = config.numKvHeads * config.headDim
  return rowWindows(tensor, [[`${fused[1]}.q_proj.weight`, config.numHeads * config.headDim], [`${fused[1]}.k_proj.weight`, kv], [`${fused[1]}.v_proj.weight`, kv]], 2)
}
