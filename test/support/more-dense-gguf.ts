// Writes a loaded HF test model of the minicpm3 / apertus / jais2 / bitnet families as llama.cpp's converter writes its
// GGUF file (conversion/minicpm.py, apertus.py, jais.py, bitnet.py): tensor names, q/k rows as in HF (each family
// rotates NEOX-style in llama.cpp), Apertus's xIELU scalars as per-layer xielu.* metadata arrays, and the metadata
// keys each converter writes.
import {cpSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {llama3RopeFactors} from '../../src/engine/model/llama3-rope.js'
import {readCheckpointTensors, readTensorFloat64, writeSafetensors} from '../../src/engine/model/safetensors.js'
import {f32, u32, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {familyVocabMetadata} from './llama-gguf.js'

export type MoreDenseArch = 'minicpm3' | 'apertus' | 'jais2' | 'bitnet'

/** Engine tensor suffix -> GGUF suffix, as gguf-py's tensor map writes these families. */
const LAYER: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight', 'input_layernorm.bias': 'attn_norm.bias',
  'post_attention_layernorm.weight': 'ffn_norm.weight', 'post_attention_layernorm.bias': 'ffn_norm.bias',
  'self_attn.q_norm.weight': 'attn_q_norm.weight', 'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'self_attn.q_a_proj.weight': 'attn_q_a.weight', 'self_attn.q_a_layernorm.weight': 'attn_q_a_norm.weight', 'self_attn.q_b_proj.weight': 'attn_q_b.weight',
  'self_attn.kv_a_proj_with_mqa.weight': 'attn_kv_a_mqa.weight', 'self_attn.kv_a_layernorm.weight': 'attn_kv_a_norm.weight', 'self_attn.kv_b_proj.weight': 'attn_kv_b.weight',
  'self_attn.attn_sub_norm.weight': 'attn_sub_norm.weight', 'mlp.ffn_sub_norm.weight': 'ffn_sub_norm.weight',
}
for (const [hf, gguf] of [['q', 'q'], ['k', 'k'], ['v', 'v'], ['o', 'output']]) for (const kind of ['weight', 'bias']) LAYER[`self_attn.${hf}_proj.${kind}`] = `attn_${gguf}.${kind}`
for (const part of ['gate', 'up', 'down']) for (const kind of ['weight', 'bias']) LAYER[`mlp.${part}_proj.${kind}`] = `ffn_${part}.${kind}`
const GLOBAL: Record<string, string> = {'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight', 'model.norm.bias': 'output_norm.bias', 'lm_head.weight': 'output.weight'}
const XIELU = /^model\.layers\.(\d+)\.mlp\.act_fn\.(alpha_p|alpha_n|beta|eps)$/

function ggufName(name: string): string {
  const layer = /^model\.layers\.(\d+)\.(.+)$/.exec(name)
  const gguf = layer ? LAYER[layer[2]!] : GLOBAL[name]
  if (gguf === undefined) throw new Error(`no GGUF name for ${name}`)
  return layer ? `blk.${layer[1]}.${gguf}` : gguf
}

/** Every tensor of `hf` under llama.cpp's names (Apertus's xIELU scalars go to metadata: moreDenseMetadata); Llama 3 rope as rope_freqs.weight. */
export function moreDenseTensors(hf: LoadedModel): GgufTensorSpec[] {
  const c = hf.config
  const specs: GgufTensorSpec[] = hf.tensors.filter((t) => !XIELU.test(t.name)).map((t) => ({name: ggufName(t.name), dims: [...t.shape].reverse(), data: Buffer.from(Float32Array.from(readTensorFloat64(t)).buffer)}))
  if (c.ropeScaling.type === 'llama3') {
    const factors = llama3RopeFactors(c.ropeScaling, c.headDim, c.ropeTheta)
    specs.push({name: 'rope_freqs.weight', dims: [factors.length], data: Buffer.from(factors.buffer)})
  }
  return specs
}

/** Apertus's xielu.* arrays: each layer's learned scalar, as ApertusModel.modify_tensors collects them. */
function xieluMetadata(hf: LoadedModel): Record<string, GgufEntry> {
  const values: Record<string, number[]> = {alpha_p: [], alpha_n: [], beta: [], eps: []}
  for (const t of hf.tensors) {
    const match = XIELU.exec(t.name)
    if (match) values[match[2]!]![Number(match[1])] = readTensorFloat64(t)[0]!
  }
  return Object.fromEntries(Object.entries(values).map(([key, list]) => [`xielu.${key}`, {type: 'f32s', value: list}]))
}

/** The metadata the family's converter writes for `hf`. */
export function moreDenseMetadata(arch: MoreDenseArch, hf: LoadedModel): Record<string, GgufEntry> {
  const c = hf.config
  const common: Record<string, GgufEntry> = {
    'general.architecture': {type: 'string', value: arch},
    [`${arch}.context_length`]: u32(c.maxPositionEmbeddings), [`${arch}.embedding_length`]: u32(c.hiddenSize), [`${arch}.block_count`]: u32(c.numLayers),
    [`${arch}.feed_forward_length`]: u32(c.intermediateSize), [`${arch}.attention.head_count`]: u32(c.numHeads), [`${arch}.attention.head_count_kv`]: u32(c.numKvHeads),
    [`${arch}.vocab_size`]: u32(c.vocabSize),
  }
  const vocab = familyVocabMetadata(arch === 'minicpm3' ? 'llama2' : arch === 'bitnet' ? 'llama3' : 'gpt2', c.vocabSize, arch === 'bitnet' ? 'llama-bpe' : 'default')
  if (arch === 'minicpm3') {
    const mla = c.mla!
    return {
      ...common, 'minicpm3.attention.layer_norm_rms_epsilon': f32(c.rmsNormEps), 'minicpm3.attention.q_lora_rank': u32(mla.qLoraRank!), 'minicpm3.attention.kv_lora_rank': u32(mla.kvLoraRank),
      'minicpm3.attention.key_length': u32(c.headDim), 'minicpm3.rope.dimension_count': u32(c.rotaryDim!), ...vocab,
    }
  }
  const rope = {[`${arch}.rope.freq_base`]: f32(c.ropeTheta), [`${arch}.rope.dimension_count`]: u32(c.headDim), [`${arch}.attention.key_length`]: u32(c.headDim), [`${arch}.attention.value_length`]: u32(c.headDim)}
  if (arch === 'jais2') return {...common, ...rope, 'jais2.attention.layer_norm_epsilon': f32(c.rmsNormEps), ...vocab}
  if (arch === 'apertus') return {...common, ...rope, 'apertus.attention.layer_norm_rms_epsilon': f32(c.rmsNormEps), ...xieluMetadata(hf), ...vocab}
  // BitnetModel writes rope scaling linear x1 (none); bitnet.hidden_activation names the MLP's activation (SiLU without it).
  return {...common, ...rope, 'bitnet.attention.layer_norm_rms_epsilon': f32(c.rmsNormEps), 'bitnet.rope.scaling.type': {type: 'string', value: 'linear'}, 'bitnet.rope.scaling.factor': f32(1),
    'bitnet.hidden_activation': {type: 'string', value: c.hiddenAct}, ...vocab}
}

/** A projection as BitnetModel.weight_quant stores it in f32: round(w / s) clamped to [-1, 1], divided by 1 / s, s = mean|w| (at least 1e-5). */
function ternarized(values: Float64Array): Float32Array {
  const w = Float32Array.from(values)
  const scale = Math.max(Math.fround(w.reduce((sum, v) => sum + Math.abs(v), 0) / w.length), 1e-5)
  const inverse = Math.fround(1 / scale)
  return w.map((v) => Math.min(1, Math.max(-1, Math.round(Math.fround(v * inverse)))) / inverse)
}

/**
 * The bitnet test checkpoint in `dir` as llama.cpp's converter leaves it, copied to `out`: every decoder projection
 * ternarized once (ternarized), no quantization_config (so nothing ternarizes them again or quantizes activations),
 * the head tied (llama.cpp's bitnet graph projects with token_embd), with `hiddenAct` as its MLP's activation.
 */
export function ternarizedBitnetCheckpoint(dir: string, out: string, hiddenAct: 'silu' | 'relu2'): string {
  cpSync(dir, out, {recursive: true})
  const {quantization_config: _quantization, ...config} = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
  writeFileSync(join(out, 'config.json'), JSON.stringify({...config, hidden_act: hiddenAct, tie_word_embeddings: true}))
  const projection = /\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.weight$/
  const tensors = readCheckpointTensors(dir).filter((t) => t.name !== 'lm_head.weight')
  writeSafetensors(join(out, 'model.safetensors'), tensors.map((t) => ({name: t.name, dtype: 'F32' as const, shape: t.shape,
    data: () => new Uint8Array((projection.test(t.name) ? ternarized(readTensorFloat64(t)) : Float32Array.from(readTensorFloat64(t))).buffer)})))
  return out
}
