// Writes a mixture-of-experts test model as the GGUF file llama.cpp's converter makes of it (F32): experts as 3D ffn_*_exps tensors (or one tensor per expert), llama q/k rows interleaved.
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {readTensorFloat64} from '../../src/engine/model/safetensors.js'
import type {TokenizerFamilyName} from '../../src/engine/model/tokenizer-families.js'
import {ggufBytes, u32, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {familyVocabMetadata} from './llama-gguf.js'

const LAYER_NAMES: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight', 'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight', 'self_attn.o_proj.weight': 'attn_output.weight', 'post_attention_layernorm.weight': 'ffn_norm.weight',
  'self_attn.q_proj.bias': 'attn_q.bias', 'self_attn.k_proj.bias': 'attn_k.bias', 'self_attn.v_proj.bias': 'attn_v.bias',
  'self_attn.q_norm.weight': 'attn_q_norm.weight', 'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight', 'mlp.up_proj.weight': 'ffn_up.weight', 'mlp.down_proj.weight': 'ffn_down.weight',
  'mlp.gate.weight': 'ffn_gate_inp.weight', 'mlp.shared_expert.gate_proj.weight': 'ffn_gate_shexp.weight',
  'mlp.shared_expert.up_proj.weight': 'ffn_up_shexp.weight', 'mlp.shared_expert.down_proj.weight': 'ffn_down_shexp.weight',
  'mlp.shared_expert_gate.weight': 'ffn_gate_inp_shexp.weight',
}

/** llama.cpp's rope order for llama q/k: within each head, rotate_half's (i, i + half) pairs become rows (2i, 2i + 1). */
function interleaveRows(values: Float64Array, rows: number, cols: number, headDim: number): Float64Array {
  const out = new Float64Array(values.length)
  const half = headDim / 2
  for (let row = 0; row < rows; row++) {
    const head = Math.floor(row / headDim), within = row % headDim
    const to = head * headDim + 2 * (within % half) + Math.floor(within / half)
    out.set(values.subarray(row * cols, (row + 1) * cols), to * cols)
  }
  return out
}

export function moeGgufBytes(model: LoadedModel, arch: 'llama' | 'qwen2moe' | 'qwen3moe', family: TokenizerFamilyName, options: {perExpert?: boolean; metadata?: Record<string, GgufEntry | undefined>} = {}): Buffer {
  const c = model.config
  const moe = c.moe!
  const tensors: GgufTensorSpec[] = []
  const f32 = (values: Float64Array) => Buffer.from(Float32Array.from(values).buffer)
  const experts = new Map<string, Float64Array[]>()
  for (const tensor of model.tensors) {
    let values = readTensorFloat64(tensor)
    const global = {'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight', 'lm_head.weight': 'output.weight'}[tensor.name]
    if (global) {
      tensors.push({name: global, dims: [...tensor.shape].reverse(), data: f32(values)})
      continue
    }
    const [, layer, suffix] = /^model\.layers\.(\d+)\.(.+)$/.exec(tensor.name)!
    const expert = /^mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$/.exec(suffix!)
    if (expert && options.perExpert) {
      tensors.push({name: `blk.${layer}.ffn_${expert[2]}.${expert[1]}.weight`, dims: [...tensor.shape].reverse(), data: f32(values)})
    } else if (expert) {
      const key = `blk.${layer}.ffn_${expert[2]}_exps.weight`
      experts.set(key, [...(experts.get(key) ?? []), values])
      if (Number(expert[1]) === moe.numExperts - 1) {
        const all = experts.get(key)!
        const joined = new Float64Array(all.length * values.length)
        all.forEach((part, e) => joined.set(part, e * values.length))
        tensors.push({name: key, dims: [tensor.shape[1]!, tensor.shape[0]!, moe.numExperts], data: f32(joined)})
      }
    } else {
      if (arch === 'llama' && /self_attn\.[qk]_proj\.weight$/.test(suffix!)) values = interleaveRows(values, tensor.shape[0]!, tensor.shape[1]!, c.headDim)
      // The shared expert's gate is a plain [hidden] vector in llama.cpp's files.
      const dims = suffix === 'mlp.shared_expert_gate.weight' ? [tensor.shape[1]!] : [...tensor.shape].reverse()
      tensors.push({name: `blk.${layer}.${LAYER_NAMES[suffix!]!}`, dims, data: f32(values)})
    }
  }
  const metadata: Record<string, GgufEntry | undefined> = {
    'general.architecture': {type: 'string', value: arch},
    [`${arch}.context_length`]: u32(c.maxPositionEmbeddings), [`${arch}.embedding_length`]: u32(c.hiddenSize), [`${arch}.block_count`]: u32(c.numLayers),
    [`${arch}.feed_forward_length`]: u32(c.intermediateSize), [`${arch}.attention.head_count`]: u32(c.numHeads), [`${arch}.attention.head_count_kv`]: u32(c.numKvHeads),
    [`${arch}.attention.key_length`]: u32(c.headDim), [`${arch}.attention.value_length`]: u32(c.headDim),
    [`${arch}.attention.layer_norm_rms_epsilon`]: {type: 'f32', value: c.rmsNormEps}, [`${arch}.rope.freq_base`]: {type: 'f32', value: c.ropeTheta},
    [`${arch}.expert_count`]: u32(moe.numExperts), [`${arch}.expert_used_count`]: u32(moe.numExpertsPerToken),
    ...(arch === 'llama' ? {} : {[`${arch}.expert_feed_forward_length`]: u32(moe.expertIntermediateSize)}),
    ...(moe.sharedExpertIntermediateSize > 0 ? {[`${arch}.expert_shared_feed_forward_length`]: u32(moe.sharedExpertIntermediateSize)} : {}),
    ...familyVocabMetadata(family, c.vocabSize),
    ...options.metadata,
  }
  return ggufBytes(Object.fromEntries(Object.entries(metadata).filter((entry): entry is [string, GgufEntry] => entry[1] !== undefined)), {tensors})
}
