// GGUF glm4 (GLM-4-0414), chatglm (GLM-4-9B's GlmForCausalLM), exaone4, smollm3, seed_oss, ernie4_5, hunyuan-dense, arcee, nemotron, jais2 and bitnet files: the HF
// architecture each stands for, the tensor names that differ from llama's, and the config.json keys their metadata
// stands for. Tensors are named as the HF checkpoint names them, so the HF path's renames, fused-MLP split and rope
// reordering (tensor-renames.ts, fused-tensors.ts, llama-twists.ts) apply to the file as to the checkpoint.
import {ModelLoadError, quotedValue} from '../errors.js'
import {ggufYarnScaling} from './gguf-olmo3.js'
import {checkRopeSections} from './gguf-vl-text.js'
import type {TensorInfo} from './safetensors.js'

/**
 * llama.cpp's converter permutes q/k rows for its interleaved (NORM) rope only where the checkpoint rotates with
 * rotate_half and the family runs NORM rope: smollm3 and arcee (LlamaModel's converter), put back at load. glm4, chatglm and
 * ernie4_5 rotate interleaved pairs in the checkpoint already (NORM rope, rows as stored; llama-twists.ts reorders them
 * as for the checkpoint); exaone4, seed_oss, hunyuan-dense, nemotron, jais2 and bitnet rotate with NEOX rope, rows as in HF.
 */
export const GGUF_DENSE_FAMILY_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  glm4: {architecture: 'Glm4ForCausalLM', modelType: 'glm4', interleavedRope: false},
  // llama.cpp's converter writes GlmForCausalLM (GLM-4-9B's -hf checkpoints) as chatglm (conversion/__init__.py).
  chatglm: {architecture: 'GlmForCausalLM', modelType: 'glm', interleavedRope: false},
  exaone4: {architecture: 'Exaone4ForCausalLM', modelType: 'exaone4', interleavedRope: false},
  smollm3: {architecture: 'SmolLM3ForCausalLM', modelType: 'smollm3', interleavedRope: true},
  seed_oss: {architecture: 'SeedOssForCausalLM', modelType: 'seed_oss', interleavedRope: false},
  ernie4_5: {architecture: 'Ernie4_5ForCausalLM', modelType: 'ernie4_5', interleavedRope: false},
  'hunyuan-dense': {architecture: 'HunYuanDenseV1ForCausalLM', modelType: 'hunyuan_v1_dense', interleavedRope: false},
  arcee: {architecture: 'ArceeForCausalLM', modelType: 'arcee', interleavedRope: true},
  nemotron: {architecture: 'NemotronForCausalLM', modelType: 'nemotron', interleavedRope: false},
  jais2: {architecture: 'Jais2ForCausalLM', modelType: 'jais2', interleavedRope: false},
  bitnet: {architecture: 'BitNetForCausalLM', modelType: 'bitnet', interleavedRope: false},
}

/** The biases these families may carry (o_proj's, the MLP's, Nemotron's LayerNorm1P ones), under the checkpoint's names. */
const BIASES: Record<string, string> = {
  'attn_output.bias': 'self_attn.o_proj.bias', 'ffn_gate.bias': 'mlp.gate_proj.bias', 'ffn_up.bias': 'mlp.up_proj.bias', 'ffn_down.bias': 'mlp.down_proj.bias',
  'attn_norm.bias': 'input_layernorm.bias', 'ffn_norm.bias': 'post_attention_layernorm.bias',
}

/**
 * Per-layer GGUF suffix -> checkpoint suffix where it differs from llama's. glm4: GLM-4-0414's sandwich norms under its
 * own names (post_attention_norm is post_self_attn_layernorm, ffn_norm post_attention_layernorm, post_ffw_norm
 * post_mlp_layernorm) and ffn_up its fused gate_up_proj (gate rows first). exaone4's and seed_oss's post_attention_norm
 * is the checkpoint's post_attention_layernorm, as llama's names already say.
 */
export const GGUF_DENSE_FAMILY_LAYER_NAMES: Record<string, Record<string, string>> = {
  ...Object.fromEntries(Object.keys(GGUF_DENSE_FAMILY_ARCHITECTURES).map((arch) => [arch, BIASES])),
  glm4: {'post_attention_norm.weight': 'post_self_attn_layernorm.weight', 'post_ffw_norm.weight': 'post_mlp_layernorm.weight', 'ffn_up.weight': 'mlp.gate_up_proj.weight'},
  chatglm: {...BIASES, 'ffn_up.weight': 'mlp.gate_up_proj.weight'},
  bitnet: {'attn_sub_norm.weight': 'self_attn.attn_sub_norm.weight', 'ffn_sub_norm.weight': 'mlp.ffn_sub_norm.weight'},
}

/**
 * GLM-4.1V's text in a glm4 file: its converter stores the rotated rows of q and k (and their biases) already in
 * rotate_half order (normal_to_neox: llama.cpp's M-RoPE kernel rotates NEOX pairs), so the reordering the checkpoint's
 * interleaved rows get at load (llama-twists.ts) is dropped. Files without rope.dimension_sections keep it (their rows are
 * the checkpoint's).
 */
export function withGlm4vRowsAsStored(arch: string, get: (key: string) => unknown, tensors: TensorInfo[]): TensorInfo[] {
  if (arch !== 'glm4' || get('rope.dimension_sections') === undefined) return tensors
  return tensors.map((t) => {
    if (!/\.self_attn\.[qk]_proj\.(weight|bias)$/.test(t.name)) return t
    const {ropeInterleavedHeads: _heads, ropeInterleavedDims: _dims, ...asStored} = t
    return asStored
  })
}

/** Architectures whose rope.dimension_count may be less than the head size (their partial_rotary_factor). */
export function isPartialRotaryDenseFamily(arch: string): boolean {
  return arch === 'glm4' || arch === 'chatglm' || arch === 'nemotron'
}

/** llama.cpp's converter writes Nemotron's LayerNorm1P weights with their 1 already added. */
export const DENSE_FAMILY_NORMS_WITH_ONE_ADDED = new Set(['nemotron'])

/**
 * The config.json keys a file of these families stands for beyond the llama ones; {} for other architectures. `get`
 * reads `<arch>.<key>`; which biases a layer has is read from layer 0's tensors (each family's config has one switch).
 */
export function denseFamilyGgufKeys(arch: string, get: (key: string) => unknown, tensorNames: Set<string>, path: string): Record<string, unknown> {
  if (!Object.hasOwn(GGUF_DENSE_FAMILY_ARCHITECTURES, arch)) return {}
  // The converters write a checkpoint's YaRN (Arcee's AFM) as rope.scaling.*.
  const yarn = acceptsGgufYarn(arch, get('rope.scaling.type')) ? {rope_scaling: ggufYarnScaling(get)} : {}
  return {...familyKeys(arch, get, tensorNames, path), ...yarn}
}

/** Whether the file's rope.scaling.type is a YaRN these families' config classes read. */
export function acceptsGgufYarn(arch: string, ropeType: unknown): boolean {
  return ropeType === 'yarn' && Object.hasOwn(GGUF_DENSE_FAMILY_ARCHITECTURES, arch)
}

function familyKeys(arch: string, get: (key: string) => unknown, tensorNames: Set<string>, path: string): Record<string, unknown> {
  const has = (suffix: string) => tensorNames.has(`blk.0.${suffix}`)
  if (arch === 'glm4') {
    // GLM-4.1V's text model (Glm4vForConditionalGeneration) carries its M-RoPE sections: plain rope for text (gguf-vl-text.ts).
    checkRopeSections(arch, get, path)
    // Glm4Config's attention_bias defaults to true: the file's tensors say.
    return {partial_rotary_factor: rotaryFraction(arch, get, path), attention_bias: has('attn_q.bias')}
  }
  if (arch === 'chatglm') return chatglmKeys(get, tensorNames, path)
  if (arch === 'exaone4') return exaone4Windows(get, path)
  // llama.cpp leaves every 4th smollm3 layer without rope (SmolLM3Config's default interval) and slides none.
  if (arch === 'smollm3') return {no_rope_layer_interval: 4, use_sliding_window: false, attention_bias: has('attn_q.bias'), mlp_bias: has('ffn_up.bias')}
  if (arch === 'seed_oss') return {attention_bias: has('attn_q.bias'), attention_out_bias: has('attn_output.bias'), mlp_bias: has('ffn_up.bias')}
  if (arch === 'ernie4_5') return {use_bias: has('attn_q.bias')}
  // The converter writes Hunyuan's dynamic-alpha rope as the raised base it is (rope.freq_base), unscaled.
  if (arch === 'hunyuan-dense') return {attention_bias: has('attn_q.bias')}
  const relu2 = {hidden_act: 'relu2', attention_bias: has('attn_q.bias'), mlp_bias: has('ffn_up.bias')}
  if (arch === 'arcee') return relu2
  // Jais 2: LayerNorms with biases (llama.cpp's LLM_NORM at attention.layer_norm_epsilon) over Arcee's relu2 MLP.
  if (arch === 'jais2') return {...relu2, layer_norm_eps: get('attention.layer_norm_epsilon') ?? 1e-5}
  if (arch === 'bitnet') return bitnetKeys(get, path)
  // Nemotron: LayerNorm1P's eps is attention.layer_norm_epsilon (NemotronConfig's norm_eps).
  return {...relu2, norm_eps: get('attention.layer_norm_epsilon') ?? 1e-5, partial_rotary_factor: rotaryFraction(arch, get, path)}
}

/**
 * chatglm files of GlmForCausalLM: split q/k/v (biased by GlmConfig's default, the file's tensors say), the first
 * rope.dimension_count values of each head rotated (llama.cpp's NORM rope, interleaved pairs as the checkpoint's), gate
 * and up fused in ffn_up. ChatGLM2/3's files (ChatGLMModel: one fused attn_qkv) stand for a model that does not load here.
 */
function chatglmKeys(get: (key: string) => unknown, tensorNames: Set<string>, path: string): Record<string, unknown> {
  if (tensorNames.has('blk.0.attn_qkv.weight')) throw new ModelLoadError(`${path}: tensor blk.0.attn_qkv.weight: ChatGLM2/3's fused query_key_value is not supported (chatglm files of GlmForCausalLM, GLM-4-9B's -hf checkpoints, only).`)
  return {partial_rotary_factor: rotaryFraction('chatglm', get, path), attention_bias: tensorNames.has('blk.0.attn_q.bias')}
}

/**
 * BitNet b1.58: llama.cpp's converter stores each projection already ternarized (round(w / mean|w|) clamped to [-1, 1],
 * times mean|w|) as a float, so the file runs as stored, with float activations as llama.cpp runs it (no AutoBitLinear,
 * no int8 activations); a packed checkpoint's weight_scale is folded into those floats too (dequant_bitnet).
 * llama-quantize's ternary blocks (TQ1_0 / TQ2_0) load as Q8_0 blocks of the same values (gguf-block-types.ts), run with
 * 8-bit activations as every block format is (llama.cpp's TQ kernels round them too); files from other tools that keep
 * the ternary codes apart from a per-tensor `<name>.scale` have it folded into the weight (gguf-bitnet-scales.ts).
 * The MLP's activation is bitnet.hidden_activation: SiLU without it (llama.cpp's default, the 1bitLLM models'), relu2
 * as the 2B-4T's checkpoint declares it.
 */
function bitnetKeys(get: (key: string) => unknown, path: string): Record<string, unknown> {
  const act = get('hidden_activation') ?? 'silu'
  if (act !== 'silu' && act !== 'relu2') throw new ModelLoadError(`${path}: bitnet.hidden_activation ${quotedValue(act)} is not supported (silu or relu2).`)
  return {hidden_act: act}
}

/** rope.dimension_count over the head size, as the partial_rotary_factor the config class reads back into the same count. */
function rotaryFraction(arch: string, get: (key: string) => unknown, path: string): number {
  const headDim = Number(get('attention.key_length') ?? Number(get('embedding_length')) / Number(get('attention.head_count')))
  const rotary = get('rope.dimension_count')
  if (rotary === undefined) return 1
  const fraction = Number(rotary) / headDim
  if (!Number.isInteger(rotary) || Number(rotary) <= 0 || Number(rotary) % 2 !== 0 || fraction > 1 || Math.floor(headDim * fraction) !== rotary) {
    throw new ModelLoadError(`${path}: ${arch}.rope.dimension_count ${quotedValue(rotary)} is not an even part of the head size ${headDim}.`)
  }
  return fraction
}

/**
 * EXAONE 4's sliding layers as layer_types: attention.sliding_window_pattern holds one bool per layer (true: sliding);
 * a window without the pattern keeps Exaone4Config's default (every 4th layer full); no window: every layer full, with rope.
 * K-EXAONE's exaone-moe files write theirs alike (gguf-moe-families.ts).
 */
export function exaone4Windows(get: (key: string) => unknown, path: string, arch = 'exaone4'): Record<string, unknown> {
  const window = get('attention.sliding_window')
  const layers = get('block_count')
  if (window === undefined || window === 0) {
    // A layer count no model has is left to the config parser to name, not allocated here.
    const count = typeof layers === 'number' && Number.isInteger(layers) && layers > 0 && layers <= 10_000 ? layers : 0
    return {sliding_window: null, ...(count > 0 ? {layer_types: Array.from({length: count}, () => 'full_attention')} : {})}
  }
  const pattern = get('attention.sliding_window_pattern')
  if (pattern === undefined) return {sliding_window: window}
  if (!Array.isArray(pattern) || pattern.length !== layers || pattern.some((flag) => typeof flag !== 'boolean')) {
    throw new ModelLoadError(`${path}: ${arch}.attention.sliding_window_pattern must hold one true/false per layer (${quotedValue(layers)}), got ${quotedValue(pattern)}.`)
  }
  return {sliding_window: window, layer_types: pattern.map((slides) => (slides ? 'sliding_attention' : 'full_attention'))}
}
