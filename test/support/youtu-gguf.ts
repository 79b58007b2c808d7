// A Youtu-LLM (YoutuForCausalLM) test checkpoint as llama.cpp's converter writes it: DeepseekV2Model's deepseek2 file,
// latent attention with kv_b split, no expert_count and every layer dense (leading_dense_block_count = block_count).
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {readCheckpointTensors, readTensorFloat32} from '../../src/engine/model/safetensors.js'
import {f32, GGUF_GLOBAL_NAMES, u32, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {familyVocabMetadata} from './llama-gguf.js'


/** Checkpoint module -> GGUF name for DeepseekV2Model's dense layers (mistral4-gguf.ts adds the experts'). */
export const DEEPSEEK2_LAYER: Record<string, string> = {
  input_layernorm: 'attn_norm', post_attention_layernorm: 'ffn_norm', 'self_attn.q_a_proj': 'attn_q_a', 'self_attn.q_a_layernorm': 'attn_q_a_norm',
  'self_attn.q_b_proj': 'attn_q_b', 'self_attn.q_proj': 'attn_q', 'self_attn.kv_a_proj_with_mqa': 'attn_kv_a_mqa', 'self_attn.kv_a_layernorm': 'attn_kv_a_norm',
  'self_attn.o_proj': 'attn_output', 'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
}

/** A float tensor of PyTorch shape `shape` as a GGUF F32 tensor (ggml dims are the shape reversed). */
export function floatTensor(name: string, shape: number[], values: Float32Array): GgufTensorSpec {
  return {name, dims: [...shape].reverse(), data: Buffer.from(values.buffer, values.byteOffset, values.byteLength)}
}

/** The checkpoint's tensors as DeepseekV2Model writes them: llama.cpp's names, kv_b as attn_k_b [heads, rank, nope] (each head's k rows transposed) and attn_v_b [heads, v, rank]. */
export function youtuTensors(source: string, c: LoadedModel['config']): GgufTensorSpec[] {
  return readCheckpointTensors(source).flatMap((t): GgufTensorSpec[] => {
    const values = readTensorFloat32(t)
    if (GGUF_GLOBAL_NAMES[t.name]) return [floatTensor(GGUF_GLOBAL_NAMES[t.name]!, t.shape, values)]
    const [, layer, part, kind] = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(t.name)!
    if (part !== 'self_attn.kv_b_proj') return [floatTensor(`blk.${layer}.${DEEPSEEK2_LAYER[part!]!}.${kind}`, t.shape, values)]
    return kvBSplit(layer!, values, c)
  })
}

/** A layer's kv_b_proj as DeepseekV2Model splits it: attn_k_b [heads, rank, nope] (each head's k rows transposed) and attn_v_b [heads, v, rank]. */
export function kvBSplit(layer: string, values: Float32Array, c: LoadedModel['config']): GgufTensorSpec[] {
  const {kvLoraRank: rank, vHeadDim: v} = c.mla!
  const nope = c.headDim - c.rotaryDim!
  const [k, vb] = [new Float32Array(c.numHeads * nope * rank), new Float32Array(c.numHeads * v * rank)]
  for (let h = 0; h < c.numHeads; h++) {
    for (let r = 0; r < nope + v; r++) {
      for (let j = 0; j < rank; j++) {
        const value = values[(h * (nope + v) + r) * rank + j]!
        if (r < nope) k[(h * rank + j) * nope + r] = value
        else vb[(h * v + r - nope) * rank + j] = value
      }
    }
  }
  return [floatTensor(`blk.${layer}.attn_k_b.weight`, [c.numHeads, rank, nope], k), floatTensor(`blk.${layer}.attn_v_b.weight`, [c.numHeads, v, rank], vb)]
}

/** deepseek2.* metadata as DeepseekV2Model writes a Youtu checkpoint's: MQA of kv_lora_rank + rope, no expert count, every layer dense. */
export function youtuMetadata(c: LoadedModel['config'], mscaleAllDim: number): Record<string, GgufEntry> {
  const mla = c.mla!, rope = c.rotaryDim!
  const yarn = c.ropeScaling as {factor: number; originalMaxPosition: number}
  const keys: Record<string, GgufEntry> = {
    context_length: u32(c.maxPositionEmbeddings), embedding_length: u32(c.hiddenSize), block_count: u32(c.numLayers), feed_forward_length: u32(c.intermediateSize),
    'attention.head_count': u32(c.numHeads), 'attention.head_count_kv': u32(1), 'rope.freq_base': f32(c.ropeTheta), 'attention.layer_norm_rms_epsilon': f32(c.rmsNormEps),
    leading_dense_block_count: u32(c.numLayers), vocab_size: u32(c.vocabSize), 'attention.q_lora_rank': u32(mla.qLoraRank), 'attention.kv_lora_rank': u32(mla.kvLoraRank),
    'attention.key_length': u32(mla.kvLoraRank + rope), 'attention.value_length': u32(mla.kvLoraRank), 'attention.key_length_mla': u32(c.headDim), 'attention.value_length_mla': u32(mla.vHeadDim),
    expert_feed_forward_length: u32(c.intermediateSize), expert_shared_count: u32(0), 'rope.dimension_count': u32(rope),
    'rope.scaling.type': {type: 'string', value: 'yarn'}, 'rope.scaling.factor': f32(yarn.factor), 'rope.scaling.original_context_length': u32(yarn.originalMaxPosition),
    'rope.scaling.yarn_log_multiplier': f32(0.1 * mscaleAllDim),
  }
  return {
    'general.architecture': {type: 'string', value: 'deepseek2'},
    ...Object.fromEntries(Object.entries(keys).map(([key, value]) => [`deepseek2.${key}`, value])),
    // Our reading: Youtu's tokenizer under llama.cpp's llama-bpe split (the test checkpoint's is Llama 3's).
    ...familyVocabMetadata('llama3', c.vocabSize, 'llama-bpe'),
  }
}
