// Writes a loaded Gemma 3n HF test model as llama.cpp's converter writes its GGUF file (conversion/gemma.py
// Gemma3NModel): norms as they are, AltUp's projections stacked into altup_proj / altup_unembd_proj, correct_output_scale
// as altup_correct_scale.weight, the layer pattern as bools, each layer's sparsity as Normal(0, 1).icdf(share) in
// activation_sparsity_scale, and the KV-shared layers' own k / v projections and k norm, which the checkpoint holds and
// llama.cpp loads but never runs (seeded values here). The tokenizer is the test model's as a "llama" vocabulary.
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {readTensorFloat64} from '../../src/engine/model/safetensors.js'
import {SeededRandom} from '../../src/engine/model/seeded-random.js'
import {definedEntries, f32, GGUF_GLOBAL_NAMES, ggufBytes, q8_0Matrices, u32, type GgufEdits, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {familyVocabMetadata} from './llama-gguf.js'

/** llama.cpp's names of the global tensors and of the layer tensors Gemma 3n and Gemma 4 both have (each adds its own layer ones). */
const GLOBAL: Record<string, string> = {
  ...GGUF_GLOBAL_NAMES,
  'model.embed_tokens_per_layer.weight': 'per_layer_token_embd.weight', 'model.per_layer_model_projection.weight': 'per_layer_model_proj.weight',
  'model.per_layer_projection_norm.weight': 'per_layer_proj_norm.weight',
}
export const GEMMA_LAYER_NAMES: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight', 'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight', 'self_attn.o_proj.weight': 'attn_output.weight', 'self_attn.q_norm.weight': 'attn_q_norm.weight',
  'self_attn.k_norm.weight': 'attn_k_norm.weight', 'post_attention_layernorm.weight': 'post_attention_norm.weight',
  'pre_feedforward_layernorm.weight': 'ffn_norm.weight', 'post_feedforward_layernorm.weight': 'post_ffw_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight', 'mlp.up_proj.weight': 'ffn_up.weight', 'mlp.down_proj.weight': 'ffn_down.weight',
  'per_layer_input_gate.weight': 'inp_gate.weight', 'per_layer_projection.weight': 'proj.weight', 'post_per_layer_input_norm.weight': 'post_norm.weight',
}
const LAYER: Record<string, string> = {
  ...GEMMA_LAYER_NAMES,
  'altup.correct_output_scale': 'altup_correct_scale.weight', 'altup.correction_coefs.weight': 'altup_correct_coef.weight',
  'altup.prediction_coefs.weight': 'altup_predict_coef.weight', 'altup.modality_router.weight': 'altup_router.weight',
  'altup.router_norm.weight': 'altup_router_norm.weight', 'laurel.linear_left.weight': 'laurel_l.weight', 'laurel.linear_right.weight': 'laurel_r.weight',
  'laurel.post_laurel_norm.weight': 'laurel_post_norm.weight',
}

/** A checkpoint tensor's llama.cpp name: a global one's, or blk.<i>. and its layer's name in `layerNames`. */
export function gemmaGgufName(name: string, layerNames: Record<string, string>): string {
  const layer = /^model\.layers\.(\d+)\.(.+)$/.exec(name)
  const gguf = layer ? layerNames[layer[2]!] : GLOBAL[name]
  if (gguf === undefined) throw new Error(`no GGUF name for ${name}`)
  return layer ? `blk.${layer[1]}.${gguf}` : gguf
}

const floats = (values: ArrayLike<number>): Buffer => Buffer.from(Float32Array.from(values).buffer)

/** Every tensor under llama.cpp's names, AltUp's per-stream projections stacked, the shared layers' unused k / v added. */
export function gemma3nTensors(hf: LoadedModel): GgufTensorSpec[] {
  const stacks = new Map<string, Buffer[]>()
  const specs: GgufTensorSpec[] = []
  for (const tensor of hf.tensors) {
    const data = floats(readTensorFloat64(tensor))
    const stream = /^model\.(altup_projections|altup_unembed_projections)\.\d+\.weight$/.exec(tensor.name)
    if (stream) {
      const name = stream[1] === 'altup_projections' ? 'altup_proj.weight' : 'altup_unembd_proj.weight'
      stacks.set(name, [...(stacks.get(name) ?? []), data])
      continue
    }
    specs.push({name: gemmaGgufName(tensor.name, LAYER), dims: [...tensor.shape].reverse(), data})
  }
  const hidden = hf.config.hiddenSize
  for (const [name, parts] of stacks) specs.push({name, dims: [hidden, hidden, parts.length], data: Buffer.concat(parts)})
  const random = new SeededRandom(11)
  hf.config.gemma4!.layers.forEach((layer, i) => {
    if (layer.kvSource === i) return
    const kv = layer.numKvHeads * layer.headDim
    const seeded = (length: number) => floats(Array.from({length}, () => random.nextFloat() - 0.5))
    specs.push(
      {name: `blk.${i}.attn_k.weight`, dims: [hidden, kv], data: seeded(kv * hidden)}, {name: `blk.${i}.attn_v.weight`, dims: [hidden, kv], data: seeded(kv * hidden)},
      {name: `blk.${i}.attn_k_norm.weight`, dims: [layer.headDim], data: seeded(layer.headDim)},
    )
  })
  return specs
}

/**
 * Normal(0, 1).icdf(share) as the converter computes it for activation_sparsity_scale (-inf for 0), here independently of
 * the loader's CDF: bisection on the density integrated by Simpson's rule, rounded to float32 as the file stores it.
 */
export function normalQuantile(share: number): number {
  if (share === 0) return -Infinity
  const cdf = (m: number): number => {
    const steps = 4000, h = Math.abs(m) / steps
    const density = (t: number) => Math.exp((-t * t) / 2) / Math.sqrt(2 * Math.PI)
    let sum = density(0) + density(Math.abs(m))
    for (let i = 1; i < steps; i++) sum += (i % 2 ? 4 : 2) * density(i * h)
    return 0.5 + Math.sign(m) * (sum * h) / 3
  }
  let low = -10, high = 10
  for (let i = 0; i < 100; i++) {
    const mid = (low + high) / 2
    if (cdf(mid) < Math.fround(share)) low = mid
    else high = mid
  }
  return Math.fround((low + high) / 2)
}

/** The gemma3n.* keys Gemma3NModel.set_gguf_parameters (with Gemma3Model's and TextModel's) writes for `hf`'s config. */
export function gemma3nMetadata(hf: LoadedModel): Record<string, GgufEntry> {
  const c = hf.config
  const g = c.gemma4!
  const n = c.gemma3n!
  const widths = g.layers.map((l) => l.intermediateSize)
  return {
    'general.architecture': {type: 'string', value: 'gemma3n'},
    'gemma3n.context_length': u32(c.maxPositionEmbeddings), 'gemma3n.embedding_length': u32(c.hiddenSize), 'gemma3n.block_count': u32(c.numLayers),
    'gemma3n.feed_forward_length': widths.every((w) => w === widths[0]) ? u32(widths[0]!) : {type: 'i32s', value: widths},
    'gemma3n.attention.head_count': u32(c.numHeads), 'gemma3n.attention.head_count_kv': u32(c.numKvHeads),
    'gemma3n.attention.layer_norm_rms_epsilon': f32(c.rmsNormEps),
    'gemma3n.attention.key_length': u32(c.headDim), 'gemma3n.attention.value_length': u32(c.headDim),
    'gemma3n.rope.freq_base': f32(c.ropeTheta), 'gemma3n.rope.freq_base_swa': f32(g.localRopeTheta),
    'gemma3n.final_logit_softcapping': f32(c.finalLogitSoftcap),
    'gemma3n.attention.sliding_window': u32(Math.max(...(c.layerWindows ?? [0]))),
    'gemma3n.altup.active_idx': u32(n.altupActiveIdx), 'gemma3n.altup.num_inputs': u32(n.altupInputs),
    'gemma3n.embedding_length_per_layer_input': u32(g.perLayerInputSize),
    'gemma3n.attention.shared_kv_layers': u32(g.layers.filter((l, i) => l.kvSource !== i).length),
    'gemma3n.activation_sparsity_scale': {type: 'f32s', value: n.activationSparsity.map(normalQuantile)},
    'gemma3n.attention.sliding_window_pattern': {type: 'bools', value: (c.layerWindows ?? []).map((w) => w > 0)},
    ...familyVocabMetadata('llama2', c.vocabSize),
  }
}

export interface Gemma3nGgufOptions extends GgufEdits {
  q8_0?: boolean
}

/** The file's bytes; at q8_0, matrices whose rows are whole blocks (AltUp's router and coefficients stay F32, as vectors do). */
export function gemma3nGgufBytes(hf: LoadedModel, options: Gemma3nGgufOptions = {}): Buffer {
  const metadata = (options.edit ?? ((m) => m))(gemma3nMetadata(hf))
  const tensors = (options.tensors ?? ((t) => t))(gemma3nTensors(hf))
  const quantized = options.q8_0 ? tensors.map((t) => (t.dims[0]! % 32 === 0 && !/altup_(router|predict_coef|correct_coef)/.test(t.name) ? q8_0Matrices([t])[0]! : t)) : tensors
  return ggufBytes(definedEntries(metadata), {tensors: quantized})
}
