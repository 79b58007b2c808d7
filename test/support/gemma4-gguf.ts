// Writes a loaded Gemma 4 HF test model as llama.cpp's converter writes its GGUF file (conversion/gemma.py Gemma4Model):
// norms as they are, the full and sliding layers' head sizes as key_length / key_length_swa, KV heads and MLP widths
// one a layer where they differ, the layer pattern as bools, rope_freqs.weight (1 on the turning pairs, 1e30 on the
// rest) for the full layers' proportional rope, the per-layer input tensors under gemma3n's names, the MoE block's
// router scales as ffn_gate_inp.scale / ffn_down_exps.scale, and the "gemma4" tokenizer (the test model's vocabulary
// with its merges).
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {readTensorFloat64, type TensorInfo} from '../../src/engine/model/safetensors.js'
import {TOKENIZER_FAMILIES} from '../../src/engine/model/tokenizer-families.js'
import {definedEntries, f32, ggufBytes, q8_0Matrices, u32, type GgufEdits, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {GEMMA_LAYER_NAMES, gemmaGgufName} from './gemma3n-gguf.js'
import {familyVocabMetadata} from './llama-gguf.js'

const LAYER: Record<string, string> = {
  ...GEMMA_LAYER_NAMES,
  layer_scalar: 'layer_output_scale.weight', 'router.proj.weight': 'ffn_gate_inp.weight', 'router.scale': 'ffn_gate_inp.scale',
  'router.per_expert_scale': 'ffn_down_exps.scale', 'experts.gate_up_proj': 'ffn_gate_up_exps.weight', 'experts.down_proj': 'ffn_down_exps.weight',
  'pre_feedforward_layernorm_2.weight': 'pre_ffw_norm_2.weight', 'post_feedforward_layernorm_1.weight': 'post_ffw_norm_1.weight',
  'post_feedforward_layernorm_2.weight': 'post_ffw_norm_2.weight',
}

const ggufName = (name: string): string => gemmaGgufName(name, LAYER)

/** Every tensor under llama.cpp's names; the loader's per-expert windows stacked back into [experts, rows, cols]. */
export function gemma4Tensors(hf: LoadedModel): GgufTensorSpec[] {
  const stacks = new Map<string, {shape: number[]; parts: Buffer[]}>()
  const specs: GgufTensorSpec[] = []
  for (const tensor of hf.tensors) {
    const data = Buffer.from(Float32Array.from(readTensorFloat64(tensor)).buffer)
    const expert = /^(model\.layers\.\d+\.experts)\.\d+\.(gate_up_proj|down_proj)$/.exec(tensor.name)
    if (expert) {
      const name = `${expert[1]}.${expert[2]}`
      const stack = stacks.get(name) ?? stacks.set(name, {shape: tensor.shape, parts: []}).get(name)!
      stack.parts.push(data)
    } else {
      specs.push({name: ggufName(tensor.name), dims: [...(tensor as TensorInfo).shape].reverse(), data})
    }
  }
  for (const [name, {shape, parts}] of stacks) specs.push({name: ggufName(name), dims: [...shape].reverse().concat(parts.length), data: Buffer.concat(parts)})
  return specs
}

/** The converter's "gemma4" tokenizer of the test model's vocabulary: tokens, scores, types and its BPE merges. */
function gemma4Vocab(vocabSize: number): Record<string, GgufEntry> {
  const json = TOKENIZER_FAMILIES.llama2.buildTokenizerJson(vocabSize, 0) as {model: {merges: string[]}}
  return {
    ...familyVocabMetadata('llama2', vocabSize),
    'tokenizer.ggml.model': {type: 'string', value: 'gemma4'}, 'tokenizer.ggml.merges': {type: 'strings', value: json.model.merges},
    'tokenizer.ggml.add_bos_token': {type: 'bool', value: true}, 'tokenizer.ggml.add_space_prefix': {type: 'bool', value: false},
  }
}

/** The gemma4.* keys Gemma4Model.set_gguf_parameters writes for `hf`'s config. */
export function gemma4Metadata(hf: LoadedModel): Record<string, GgufEntry> {
  const c = hf.config
  const g = c.gemma4!
  const sliding = (c.layerWindows ?? []).map((w) => w > 0)
  const full = g.layers.find((_, i) => !sliding[i])!
  const swa = g.layers.find((_, i) => sliding[i]) ?? full
  const kvHeads = g.layers.map((l) => l.numKvHeads)
  const widths = g.layers.map((l) => l.intermediateSize)
  return {
    'general.architecture': {type: 'string', value: 'gemma4'},
    'gemma4.context_length': u32(c.maxPositionEmbeddings), 'gemma4.embedding_length': u32(c.hiddenSize), 'gemma4.block_count': u32(c.numLayers),
    'gemma4.feed_forward_length': widths.every((w) => w === widths[0]) ? u32(widths[0]!) : {type: 'i32s', value: widths},
    'gemma4.attention.head_count': u32(c.numHeads),
    'gemma4.attention.head_count_kv': kvHeads.every((n) => n === kvHeads[0]) ? u32(kvHeads[0]!) : {type: 'i32s', value: kvHeads},
    'gemma4.attention.layer_norm_rms_epsilon': f32(c.rmsNormEps),
    'gemma4.attention.key_length': u32(full.headDim), 'gemma4.attention.value_length': u32(full.headDim),
    'gemma4.attention.key_length_swa': u32(swa.headDim), 'gemma4.attention.value_length_swa': u32(swa.headDim),
    'gemma4.rope.freq_base': f32(c.ropeTheta), 'gemma4.rope.freq_base_swa': f32(g.localRopeTheta),
    'gemma4.rope.dimension_count': u32(full.headDim), 'gemma4.rope.dimension_count_swa': u32(swa.headDim),
    'gemma4.attention.sliding_window': u32(Math.max(...(c.layerWindows ?? [0]))), 'gemma4.attention.sliding_window_pattern': {type: 'bools', value: sliding},
    'gemma4.attention.shared_kv_layers': u32(g.layers.filter((l, i) => l.kvSource !== i).length),
    'gemma4.embedding_length_per_layer_input': u32(g.perLayerInputSize),
    ...(c.finalLogitSoftcap > 0 ? {'gemma4.final_logit_softcapping': f32(c.finalLogitSoftcap)} : {}),
    ...(g.moe ? {'gemma4.expert_count': u32(g.moe.numExperts), 'gemma4.expert_used_count': u32(g.moe.topK), 'gemma4.expert_feed_forward_length': u32(g.moe.intermediateSize)} : {}),
    ...gemma4Vocab(c.vocabSize),
  }
}

/** rope_freqs.weight as generate_extra_tensors writes it: 1 for the pairs proportional rope turns, 1e30 for the rest. */
export function gemma4RopeFreqs(hf: LoadedModel, turning = 1): GgufTensorSpec {
  const g = hf.config.gemma4!
  const full = g.layers.find((_, i) => !hf.config.layerWindows?.[i])!
  const values = Float32Array.from({length: full.headDim / 2}, (_, i) => (i < g.fullRopeAngles ? turning : 1e30))
  return {name: 'rope_freqs.weight', dims: [values.length], data: Buffer.from(values.buffer)}
}

export interface Gemma4GgufOptions extends GgufEdits {
  q8_0?: boolean
}

/** The file's bytes. */
export function gemma4GgufBytes(hf: LoadedModel, options: Gemma4GgufOptions = {}): Buffer {
  const metadata = (options.edit ?? ((m) => m))(gemma4Metadata(hf))
  const named = [gemma4RopeFreqs(hf), ...gemma4Tensors(hf)]
  const tensors = (options.tensors ?? ((t) => t))(named)
  // Rows that are not whole Q8_0 blocks (the per-layer input projection's 8 columns) cannot be stored as Q8_0: kept F32.
  const quantized = options.q8_0 ? tensors.map((t) => (t.dims[0]! % 32 === 0 ? q8_0Matrices([t])[0]! : t)) : tensors
  return ggufBytes(definedEntries(metadata), {tensors: quantized})
}
