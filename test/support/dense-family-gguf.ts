// Writes a loaded HF test model of the glm4 / chatglm / exaone4 / smollm3 / seed_oss / ernie4_5 / hunyuan-dense / arcee / nemotron
// families as llama.cpp's converter writes its GGUF file (conversion/*.py): tensor names, q/k rows permuted for its
// interleaved rope where LlamaModel's converter does it (smollm3, arcee; Ministral 3's mistral3: vl-text-gguf.ts), GLM-4's gate_up_proj kept whole as ffn_up,
// Nemotron's LayerNorm1P weights with their 1 added, and the metadata keys each converter writes.
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {readTensorFloat64, type TensorInfo} from '../../src/engine/model/safetensors.js'
import {f32, llamaPermuted, u32, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {familyVocabMetadata} from './llama-gguf.js'

type Config = LoadedModel['config']

/** Engine tensor suffix -> GGUF suffix, as llama.cpp's tensor map writes each family. */
const LAYER: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight', 'input_layernorm.bias': 'attn_norm.bias',
  'self_attn.q_norm.weight': 'attn_q_norm.weight', 'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight', 'post_attention_layernorm.bias': 'ffn_norm.bias',
  'pre_feedforward_layernorm.weight': 'ffn_norm.weight', 'post_feedforward_layernorm.weight': 'post_ffw_norm.weight',
}
for (const [hf, gguf] of [['q', 'q'], ['k', 'k'], ['v', 'v'], ['o', 'output']]) for (const kind of ['weight', 'bias']) LAYER[`self_attn.${hf}_proj.${kind}`] = `attn_${gguf}.${kind}`
for (const part of ['gate', 'up', 'down']) for (const kind of ['weight', 'bias']) LAYER[`mlp.${part}_proj.${kind}`] = `ffn_${part}.${kind}`
const GLOBAL: Record<string, string> = {'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight', 'model.norm.bias': 'output_norm.bias', 'lm_head.weight': 'output.weight'}

/** The tokenizer.ggml.pre each family's converter writes for these test models' tokenizers. */
const PRE: Record<string, string> = {glm4: 'glm4', exaone4: 'exaone4', 'hunyuan-dense': 'hunyuan-dense'}


function ggufName(arch: string, name: string): string {
  const layer = /^model\.layers\.(\d+)\.(.+)$/.exec(name)
  if (!layer) return GLOBAL[name]!
  // Post-norm families: the attention's output norm is post_attention_norm (GLM-4's post_self_attn_layernorm).
  const postNorm = (arch === 'exaone4' || arch === 'seed_oss' || arch === 'glm4') && layer[2] === 'post_attention_layernorm.weight'
  return `blk.${layer[1]}.${postNorm ? 'post_attention_norm.weight' : LAYER[layer[2]!]!}`
}

/** One tensor as the converter stores it. */
function converted(tensor: TensorInfo, arch: string, c: Config): GgufTensorSpec {
  let values: Float32Array<ArrayBuffer> = Float32Array.from(readTensorFloat64(tensor))
  const name = ggufName(arch, tensor.name)
  const heads = arch !== 'smollm3' && arch !== 'arcee' && arch !== 'mistral3' ? 0 : /\.attn_q\./.test(name) ? c.numHeads : /\.attn_k\./.test(name) ? c.numKvHeads : 0
  if (heads > 0) values = llamaPermuted(values, heads, tensor.shape.length === 2 ? tensor.shape[1]! : 1)
  if (arch === 'nemotron' && /norm\.weight$/.test(name)) values = values.map((v) => v + 1)
  return {name, dims: [...tensor.shape].reverse(), data: Buffer.from(values.buffer)}
}

/** Every tensor of `hf` under llama.cpp's names; GLM-4's (and GLM's) gate and up rows stacked back into ffn_up. */
export function denseFamilyTensors(hf: LoadedModel, arch: string): GgufTensorSpec[] {
  const specs = hf.tensors.map((t) => converted(t, arch, hf.config))
  if (arch !== 'glm4' && arch !== 'chatglm') return specs
  const gates = new Map(specs.filter((s) => s.name.endsWith('.ffn_gate.weight')).map((s) => [s.name.replace('ffn_gate', 'ffn_up'), s]))
  return specs.filter((s) => !s.name.endsWith('.ffn_gate.weight')).map((s) => {
    const gate = gates.get(s.name)
    return gate ? {name: s.name, dims: [s.dims[0]!, 2 * s.dims[1]!], data: Buffer.concat([gate.data, s.data])} : s
  })
}

/** The metadata the family's converter writes for `c`. */
export function denseFamilyMetadata(arch: string, c: Config): Record<string, GgufEntry> {
  const windows = c.layerWindows ?? []
  const extra: Record<string, GgufEntry> = arch === 'nemotron' ? {'nemotron.attention.layer_norm_epsilon': f32(c.rmsNormEps)} : {[`${arch}.attention.layer_norm_rms_epsilon`]: f32(c.rmsNormEps)}
  if (arch === 'exaone4' && windows.some((w) => w > 0)) {
    Object.assign(extra, {'exaone4.attention.sliding_window': u32(Math.max(...windows)), 'exaone4.attention.sliding_window_pattern': {type: 'bools', value: windows.map((w) => w > 0)}})
  }
  // What Arcee's converter writes of a YaRN.
  if (c.ropeScaling.type === 'yarn') {
    Object.assign(extra, {[`${arch}.rope.scaling.type`]: {type: 'string', value: 'yarn'}, [`${arch}.rope.scaling.factor`]: f32(c.ropeScaling.factor), [`${arch}.rope.scaling.original_context_length`]: u32(c.ropeScaling.originalMaxPosition)})
  }
  return {
    'general.architecture': {type: 'string', value: arch},
    [`${arch}.context_length`]: u32(c.maxPositionEmbeddings), [`${arch}.embedding_length`]: u32(c.hiddenSize), [`${arch}.block_count`]: u32(c.numLayers),
    [`${arch}.feed_forward_length`]: u32(c.intermediateSize), [`${arch}.attention.head_count`]: u32(c.numHeads), [`${arch}.attention.head_count_kv`]: u32(c.numKvHeads),
    [`${arch}.attention.key_length`]: u32(c.headDim), [`${arch}.attention.value_length`]: u32(c.headDim), [`${arch}.rope.dimension_count`]: u32(c.rotaryDim ?? c.headDim),
    [`${arch}.rope.freq_base`]: f32(c.ropeTheta), [`${arch}.vocab_size`]: u32(c.vocabSize),
    ...extra,
    ...familyVocabMetadata('gpt2', c.vocabSize, PRE[arch] ?? 'default'),
  }
}

/**
 * What ChatGLMModel's converter (conversion/chatglm.py) writes for a GlmForCausalLM checkpoint: it reads ChatGLM's own
 * config keys, so GlmConfig's fall to its fallbacks: context_length is hidden_size (no seq_length), the RMS eps 1e-5 (no
 * layernorm_epsilon), the base 10000 (no rope_ratio), the rotary part half of hidden / heads (partial_rotary_factor 0.5
 * unless the config.json has one); no key_length, value_length or vocab_size; add_bos_token false.
 */
export function chatglmMetadata(c: Config): Record<string, GgufEntry> {
  return {
    'general.architecture': {type: 'string', value: 'chatglm'},
    'chatglm.context_length': u32(c.hiddenSize), 'chatglm.embedding_length': u32(c.hiddenSize), 'chatglm.feed_forward_length': u32(c.intermediateSize),
    'chatglm.block_count': u32(c.numLayers), 'chatglm.attention.head_count': u32(c.numHeads), 'chatglm.attention.head_count_kv': u32(c.numKvHeads),
    'chatglm.attention.layer_norm_rms_epsilon': f32(1e-5), 'chatglm.rope.dimension_count': u32(Math.floor((c.hiddenSize / c.numHeads) * 0.5)),
    'chatglm.rope.freq_base': f32(10000),
    ...familyVocabMetadata('gpt2', c.vocabSize, 'chatglm-bpe'),
    'tokenizer.ggml.add_bos_token': {type: 'bool', value: false},
  }
}

/**
 * GLM-4.1V's text as Glm4Model's converter writes it (use_mrope): each head's first `rotaryDim` rows of q and k (weights
 * and biases) reordered from interleaved pairs to rotate_half's halves (normal_to_neox: evens, then odds), and the
 * checkpoint's mrope_section padded to 4 as rope.dimension_sections.
 */
export function glm4vTextGguf(hf: LoadedModel, sections: readonly number[]): {metadata: Record<string, GgufEntry>; tensors: GgufTensorSpec[]} {
  const c = hf.config
  const rotary = c.rotaryDim ?? c.headDim
  const tensors = denseFamilyTensors(hf, 'glm4').map((t) => {
    if (!/\.attn_[qk]\.(weight|bias)$/.test(t.name)) return t
    const cols = t.dims.length === 2 ? t.dims[0]! : 1
    const values = new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.length))
    const out = values.slice()
    for (let head = 0; head < values.length / cols / c.headDim; head++) {
      for (let r = 0; r < rotary; r++) {
        const from = head * c.headDim + (r < rotary / 2 ? 2 * r : 2 * (r - rotary / 2) + 1)
        out.set(values.subarray(from * cols, (from + 1) * cols), (head * c.headDim + r) * cols)
      }
    }
    return {...t, data: Buffer.from(out.buffer)}
  })
  const metadata = {...denseFamilyMetadata('glm4', c), 'glm4.rope.dimension_sections': {type: 'i32s' as const, value: [...sections, 0, 0, 0, 0].slice(0, 4)}}
  return {metadata, tensors}
}
