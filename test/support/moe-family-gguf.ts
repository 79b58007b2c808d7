// Writes a loaded HF test model of the ernie4_5-moe / hunyuan-moe / dots1 / minimax-m2 / exaone-moe / dbrx / afmoe / cohere2moe / mellum / hy_v3 families
// as llama.cpp's converter writes its GGUF file (conversion/ernie.py, hunyuan.py, dots1.py, minimax.py, exaone.py, dbrx.py, afmoe.py, command_r.py, mellum.py): experts stacked per layer and
// projection, the router as ffn_gate_inp, shared experts as ffn_*_shexp, the router bias as exp_probs_b.bias (ERNIE's
// [1, experts] as the checkpoint holds it; Hy3's mlp.expert_bias as exp_probs_b, no suffix), q/k rows as in the checkpoint, and the metadata keys each converter writes.
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {readTensorFloat32, type TensorInfo} from '../../src/engine/model/safetensors.js'
import type {TokenizerFamilyName} from '../../src/engine/model/tokenizer-families.js'
import {f32, GGUF_GLOBAL_NAMES, u32, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {FusedExperts, ggufSpec} from './gguf-fused-experts.js'
import {familyVocabMetadata} from './llama-gguf.js'

export type MoeFamilyArch = 'ernie4_5-moe' | 'hunyuan-moe' | 'dots1' | 'minimax-m2' | 'exaone-moe' | 'dbrx' | 'afmoe' | 'cohere2moe' | 'mellum' | 'hy_v3'

/** Engine tensor suffix -> GGUF suffix (llama.cpp's tensor map for these families). */
const LAYER: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight', 'post_attention_layernorm.weight': 'ffn_norm.weight',
  'self_attn.q_norm.weight': 'attn_q_norm.weight', 'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'mlp.gate.weight': 'ffn_gate_inp.weight', 'mlp.gate.e_score_correction_bias': 'exp_probs_b.bias',
}
for (const [hf, gguf] of [['q', 'q'], ['k', 'k'], ['v', 'v'], ['o', 'output']]) for (const kind of ['weight', 'bias']) LAYER[`self_attn.${hf}_proj.${kind}`] = `attn_${gguf}.${kind}`
for (const part of ['gate', 'up', 'down']) {
  LAYER[`mlp.${part}_proj.weight`] = `ffn_${part}.weight`
  LAYER[`mlp.shared_expert.${part}_proj.weight`] = `ffn_${part}_shexp.weight`
}

/** DBRX's q, k and v as its converter keeps them (one attn_qkv), and its second norm (norm_2) as attn_output_norm. */
const DBRX_LAYER: Record<string, string> = {'self_attn.q_proj.weight': 'attn_qkv.weight', 'post_attention_layernorm.weight': 'attn_output_norm.weight'}
/** AFMoE's sandwich norms (its attention output gate is gate_proj, cut per head at load like q: stacked back here). */
const AFMOE_LAYER: Record<string, string> = {
  'post_attention_layernorm.weight': 'post_attention_norm.weight', 'pre_feedforward_layernorm.weight': 'ffn_norm.weight', 'post_feedforward_layernorm.weight': 'post_ffw_norm.weight',
}

/** Hy3's router bias (mlp.expert_bias) under the name the converter maps it to and llama.cpp's hy_v3 loader reads. */
const HY_V3_LAYER: Record<string, string> = {'mlp.gate.e_score_correction_bias': 'exp_probs_b'}

/** The engine's values of a tensor: a window the engine reads transposed (DBRX's w2 slabs) read back to its own shape. */
function engineValues(tensor: TensorInfo): Float32Array<ArrayBuffer> {
  const stored = Float32Array.from(readTensorFloat32(tensor))
  if (!tensor.transposed) return stored
  const [rows, cols] = tensor.shape as [number, number]
  return Float32Array.from({length: stored.length}, (_, i) => stored[(i % cols) * rows + Math.floor(i / cols)]!)
}

/** Every tensor of `hf` under llama.cpp's names, experts stacked (DBRX's q, k and v rows stacked into one attn_qkv). */
export function moeFamilyTensors(hf: LoadedModel, arch: MoeFamilyArch): GgufTensorSpec[] {
  const experts = new FusedExperts()
  const specs: GgufTensorSpec[] = []
  const byName = new Map(hf.tensors.map((t) => [t.name, t]))
  for (const tensor of hf.tensors) {
    if (arch === 'dbrx' && /\.self_attn\.[kv]_proj\.weight$/.test(tensor.name)) continue
    const headPart = /^model\.layers\.(\d+)\.self_attn\.q_(query|gate)\.(\d+)\.weight$/.exec(tensor.name)
    if (headPart) {
      // AFMoE's q and gate rows, held per head: one attn_q and one attn_gate, written once (at head 0).
      if (headPart[3] !== '0') continue
      const heads = hf.config.numHeads
      const parts = Array.from({length: heads}, (_, h) => engineValues(byName.get(tensor.name.replace(/\.\d+\.weight$/, `.${h}.weight`))!))
      const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
      parts.reduce((at, p) => (all.set(p, at), at + p.length), 0)
      specs.push(ggufSpec(`blk.${headPart[1]}.${headPart[2] === 'query' ? 'attn_q' : 'attn_gate'}.weight`, [tensor.shape[1]!, all.length / tensor.shape[1]!], all))
      continue
    }
    let values = engineValues(tensor)
    if (experts.take(tensor, values)) continue
    const layer = /^model\.layers\.(\d+)\.(.+)$/.exec(tensor.name)
    const name = layer ? `blk.${layer[1]}.${(arch === 'dbrx' ? DBRX_LAYER[layer[2]!] : arch === 'afmoe' ? AFMOE_LAYER[layer[2]!] : arch === 'hy_v3' ? HY_V3_LAYER[layer[2]!] : undefined) ?? LAYER[layer[2]!]!}` : GGUF_GLOBAL_NAMES[tensor.name]!
    if (name.endsWith('.attn_qkv.weight')) {
      const parts = ['q', 'k', 'v'].map((p) => engineValues(byName.get(tensor.name.replace('q_proj', `${p}_proj`))!))
      values = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
      parts.reduce((at, p) => (values.set(p, at), at + p.length), 0)
      specs.push(ggufSpec(name, [tensor.shape[1]!, values.length / tensor.shape[1]!], values))
      continue
    }
    // The engine holds every router bias as [1, experts]; only ERNIE's checkpoint (and so its file) does.
    const shape = /\.exp_probs_b(\.bias)?$/.test(name) && arch !== 'ernie4_5-moe' ? [tensor.shape.at(-1)!] : tensor.shape
    specs.push(ggufSpec(name, [...shape].reverse(), values))
  }
  return [...specs, ...experts.specs()]
}

/** The metadata the family's converter writes for `c` (the test models' grouped routing also under deepseek2's group keys). */
export function moeFamilyMetadata(arch: MoeFamilyArch, c: LoadedModel['config'], tokenizer: TokenizerFamilyName): Record<string, GgufEntry> {
  const moe = c.moe!
  const firstSparse = moe.sparseLayers.indexOf(true)
  const grouped = moe.grouped ?? {routedScalingFactor: 1, groups: 1, topkGroups: 1}
  const extra: Record<string, Record<string, GgufEntry>> = {
    'ernie4_5-moe': {
      expert_feed_forward_length: u32(moe.expertIntermediateSize), expert_shared_count: u32(moe.sharedExpertIntermediateSize / moe.expertIntermediateSize),
      interleave_moe_layer_step: u32(1), leading_dense_block_count: u32(firstSparse),
      // The converter's own (unused) figure: intermediate_size / num_key_value_heads.
      expert_shared_feed_forward_length: u32(Math.floor(c.intermediateSize / c.numKvHeads)),
    },
    // Hunyuan's dynamic-alpha rope as its raised base, unscaled, with the 256k context the converter sets.
    'hunyuan-moe': {
      expert_feed_forward_length: u32(moe.expertIntermediateSize), expert_shared_feed_forward_length: u32(c.intermediateSize), expert_shared_count: u32(1),
      'rope.scaling.type': {type: 'string', value: 'none'}, 'rope.scaling.factor': f32(1), 'rope.scaling.original_context_length': u32(256 * 1024), context_length: u32(256 * 1024),
    },
    dots1: {
      expert_feed_forward_length: u32(moe.expertIntermediateSize), expert_shared_count: u32(moe.sharedExpertIntermediateSize / moe.expertIntermediateSize),
      leading_dense_block_count: u32(firstSparse), expert_weights_scale: f32(grouped.routedScalingFactor), expert_weights_norm: {type: 'bool', value: moe.normTopkProb},
      expert_gating_func: u32(2), expert_group_count: u32(grouped.groups), expert_group_used_count: u32(grouped.topkGroups),
    },
    'minimax-m2': {expert_feed_forward_length: u32(moe.expertIntermediateSize), 'rope.dimension_count': u32(c.rotaryDim!), expert_gating_func: u32(2)},
    // EXAONE 4's windows (one bool per layer: sliding), no gating key (llama.cpp runs it sigmoid).
    'exaone-moe': {
      expert_feed_forward_length: u32(moe.expertIntermediateSize), expert_shared_count: u32(moe.sharedExpertIntermediateSize / moe.expertIntermediateSize),
      expert_shared_feed_forward_length: u32(moe.sharedExpertIntermediateSize), expert_weights_scale: f32(grouped.routedScalingFactor),
      expert_weights_norm: {type: 'bool', value: moe.normTopkProb}, leading_dense_block_count: u32(firstSparse), nextn_predict_layers: u32(0),
      'rope.scaling.type': {type: 'string', value: 'none'}, vocab_size: u32(c.vocabSize),
      'attention.sliding_window': u32(Math.max(...(c.layerWindows ?? [0]))), 'attention.sliding_window_pattern': {type: 'bools', value: (c.layerWindows ?? []).map((w) => w > 0)},
      expert_group_count: u32(grouped.groups), expert_group_used_count: u32(grouped.topkGroups),
    },
    // DBRX's clip_qkv and LayerNorm eps; no key_length / value_length, rms eps or expert width.
    dbrx: {'attention.clamp_kqv': f32(c.rmsVariant?.clipQkv ?? 0), 'attention.layer_norm_epsilon': f32(1e-5)},
    afmoe: {
      expert_feed_forward_length: u32(moe.expertIntermediateSize), expert_shared_count: u32(moe.sharedExpertIntermediateSize / moe.expertIntermediateSize),
      leading_dense_block_count: u32(firstSparse), expert_weights_scale: f32(grouped.routedScalingFactor), 'attention.sliding_window': u32(Math.max(...(c.layerWindows ?? [0]))),
      'rope.dimension_count': u32(c.headDim), vocab_size: u32(c.vocabSize),
    },
    // Cohere2MoeModel: sigmoid gating always, the window pattern from layer_types, the base's layer_norm_epsilon (Cohere2MoeConfig's
    // layer_norm_eps, 1e-5 by default) beside the rms eps the common keys hold, and the base's feed_forward_length: the
    // checkpoint's intermediate_size, the experts' width (llama.cpp's graph sizes the dense prefix by it).
    cohere2moe: {
      feed_forward_length: u32(moe.expertIntermediateSize),
      logit_scale: f32(c.rmsVariant?.logitsMultiplier ?? 1), 'attention.sliding_window': u32(Math.max(...(c.layerWindows ?? [0]))),
      'attention.sliding_window_pattern': {type: 'bools', value: (c.layerWindows ?? []).map((w) => w > 0)}, vocab_size: u32(c.vocabSize),
      expert_feed_forward_length: u32(moe.expertIntermediateSize), leading_dense_block_count: u32(firstSparse), expert_weights_norm: {type: 'bool', value: moe.normTopkProb},
      expert_gating_func: u32(2), 'rope.dimension_count': u32(c.headDim), 'rope.scaling.type': {type: 'string', value: 'none'}, 'attention.layer_norm_epsilon': f32(1e-5),
      ...(moe.sharedExpertIntermediateSize > 0 ? {expert_shared_count: u32(moe.sharedExpertIntermediateSize / moe.expertIntermediateSize), expert_shared_feed_forward_length: u32(moe.sharedExpertIntermediateSize)} : {}),
    },
    // MellumModel: the base's rope keys (the full layers' YaRN, the sliding layers' base as freq_base_swa) and its windows.
    mellum: {
      expert_feed_forward_length: u32(moe.expertIntermediateSize), 'rope.freq_base_swa': f32(c.ropeLocalTheta ?? c.ropeTheta),
      'attention.sliding_window': u32(Math.max(...(c.layerWindows ?? [0]))), 'attention.sliding_window_pattern': {type: 'bools', value: (c.layerWindows ?? []).map((w) => w > 0)},
      ...(c.ropeScaling.type === 'yarn'
        ? {'rope.scaling.type': {type: 'string', value: 'yarn'}, 'rope.scaling.factor': f32(c.ropeScaling.factor), 'rope.scaling.original_context_length': u32(c.ropeScaling.originalMaxPosition)}
        : {}),
    },
    // HYV3Model: sigmoid gating, route_norm, router_scaling_factor and the shared MLP's width; no leading dense count (its layers show it).
    hy_v3: {
      expert_feed_forward_length: u32(moe.expertIntermediateSize), expert_shared_feed_forward_length: u32(moe.sharedExpertIntermediateSize),
      expert_weights_norm: {type: 'bool', value: true}, expert_weights_scale: f32(grouped.routedScalingFactor), expert_gating_func: u32(2),
    },
  }
  const dbrxOmits = arch === 'dbrx' ? ['attention.key_length', 'attention.value_length', 'attention.layer_norm_rms_epsilon'] : []
  const common: Record<string, GgufEntry> = {
    [`${arch}.context_length`]: u32(c.maxPositionEmbeddings), [`${arch}.embedding_length`]: u32(c.hiddenSize), [`${arch}.block_count`]: u32(c.numLayers),
    [`${arch}.feed_forward_length`]: u32(c.intermediateSize), [`${arch}.attention.head_count`]: u32(c.numHeads), [`${arch}.attention.head_count_kv`]: u32(c.numKvHeads),
    [`${arch}.attention.key_length`]: u32(c.headDim), [`${arch}.attention.value_length`]: u32(c.headDim),
    [`${arch}.rope.freq_base`]: f32(c.ropeTheta), [`${arch}.attention.layer_norm_rms_epsilon`]: f32(c.rmsNormEps),
    [`${arch}.expert_count`]: u32(moe.numExperts), [`${arch}.expert_used_count`]: u32(moe.numExpertsPerToken),
  }
  return {
    'general.architecture': {type: 'string', value: arch},
    ...Object.fromEntries(Object.entries(common).filter(([key]) => !dbrxOmits.includes(key.slice(arch.length + 1)))),
    ...Object.fromEntries(Object.entries(extra[arch]!).map(([key, value]) => [`${arch}.${key}`, value])),
    ...familyVocabMetadata(tokenizer, c.vocabSize),
  }
}
