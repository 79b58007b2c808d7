// Writes a loaded Llama 4 test model as llama.cpp's converter writes its GGUF file (conversion/llama4.py): q/k rows as
// in the checkpoint, each layer's experts transposed to [out, in] with gate and up apart (ffn_gate_exps, ffn_up_exps)
// and down as ffn_down_exps, the router as ffn_gate_inp, Llama 3 rope scaling as rope_freqs.weight, and the llama4.*
// keys the converter writes (its vocabulary with the `llama4` pre-tokenizer name).
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {llama3RopeFactors} from '../../src/engine/model/llama3-rope.js'
import {readTensorFloat64, type TensorInfo} from '../../src/engine/model/safetensors.js'
import {f32, GGUF_GLOBAL_NAMES, u32, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {familyVocabMetadata} from './llama-gguf.js'

const LAYER: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight', 'post_attention_layernorm.weight': 'ffn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight', 'self_attn.v_proj.weight': 'attn_v.weight', 'self_attn.o_proj.weight': 'attn_output.weight',
  'mlp.gate.weight': 'ffn_gate_inp.weight', 'mlp.gate_proj.weight': 'ffn_gate.weight', 'mlp.up_proj.weight': 'ffn_up.weight', 'mlp.down_proj.weight': 'ffn_down.weight',
  'mlp.shared_expert.gate_proj.weight': 'ffn_gate_shexp.weight', 'mlp.shared_expert.up_proj.weight': 'ffn_up_shexp.weight', 'mlp.shared_expert.down_proj.weight': 'ffn_down_shexp.weight',
}

/** A tensor's values in the [out, in] order its engine shape names (a transposed one is stored [in, out]). */
function rows(tensor: TensorInfo): Float32Array<ArrayBuffer> {
  const stored = Float32Array.from(readTensorFloat64(tensor))
  if (!tensor.transposed) return stored
  const [out, inner] = tensor.shape as [number, number]
  return Float32Array.from({length: stored.length}, (_, i) => stored[(i % inner) * out + Math.floor(i / inner)]!)
}

/** The file's tensors; `gateUpFused`: each layer's experts as one ffn_gate_up_exps (gate rows, then up rows). */
export function llama4Tensors(hf: LoadedModel, {gateUpFused = false} = {}): GgufTensorSpec[] {
  const c = hf.config
  const specs: GgufTensorSpec[] = []
  const experts = new Map<string, Float32Array[]>()
  const add = (name: string, expert: number, values: Float32Array) => experts.set(name, Object.assign(experts.get(name) ?? [], {[expert]: values}))
  for (const tensor of hf.tensors) {
    const values = rows(tensor)
    const expert = /^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(gate_up|down)_proj\.weight$/.exec(tensor.name)
    if (expert) {
      const [layer, e] = [expert[1], Number(expert[2])]
      if (expert[3] === 'down') add(`blk.${layer}.ffn_down_exps.weight`, e, values)
      else if (gateUpFused) add(`blk.${layer}.ffn_gate_up_exps.weight`, e, values)
      else {
        add(`blk.${layer}.ffn_gate_exps.weight`, e, values.subarray(0, values.length / 2))
        add(`blk.${layer}.ffn_up_exps.weight`, e, values.subarray(values.length / 2))
      }
      continue
    }
    const layer = /^model\.layers\.(\d+)\.(.+)$/.exec(tensor.name)
    const name = layer ? `blk.${layer[1]}.${LAYER[layer[2]!]}` : GGUF_GLOBAL_NAMES[tensor.name]!
    specs.push({name, dims: [...tensor.shape].reverse(), data: Buffer.from(values.buffer)})
  }
  const inter = c.moe!.expertIntermediateSize
  for (const [name, parts] of experts) {
    const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
    parts.forEach((p, e) => all.set(p, e * p.length))
    const out = name.includes('down') ? c.hiddenSize : name.includes('gate_up') ? 2 * inter : inter
    specs.push({name, dims: [all.length / out / parts.length, out, parts.length], data: Buffer.from(all.buffer)})
  }
  if (c.ropeScaling.type === 'llama3') {
    const factors = llama3RopeFactors(c.ropeScaling, c.headDim, c.ropeTheta)
    specs.push({name: 'rope_freqs.weight', dims: [factors.length], data: Buffer.from(factors.buffer)})
  }
  return specs
}

export function llama4Metadata(hf: LoadedModel): Record<string, GgufEntry> {
  const c = hf.config
  const moe = c.moe!
  const step = moe.sparseLayers.indexOf(true) + 1
  return {
    'general.architecture': {type: 'string', value: 'llama4'},
    'llama4.context_length': u32(c.maxPositionEmbeddings), 'llama4.embedding_length': u32(c.hiddenSize), 'llama4.block_count': u32(c.numLayers),
    'llama4.feed_forward_length': u32(c.intermediateSize), 'llama4.attention.head_count': u32(c.numHeads), 'llama4.attention.head_count_kv': u32(c.numKvHeads),
    'llama4.attention.key_length': u32(c.headDim), 'llama4.attention.value_length': u32(c.headDim), 'llama4.rope.dimension_count': u32(c.headDim),
    'llama4.rope.freq_base': f32(c.ropeTheta), 'llama4.attention.layer_norm_rms_epsilon': f32(c.rmsNormEps),
    'llama4.expert_count': u32(moe.numExperts), 'llama4.expert_used_count': u32(moe.numExpertsPerToken),
    'llama4.interleave_moe_layer_step': u32(step), 'llama4.expert_feed_forward_length': u32(moe.expertIntermediateSize), 'llama4.vocab_size': u32(c.vocabSize),
    ...familyVocabMetadata('llama3', c.vocabSize, 'llama4'),
  }
}
