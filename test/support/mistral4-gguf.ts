// A Mistral Small 4 (Mistral4ForCausalLM) test checkpoint as llama.cpp's converter writes it: Mistral3Model's
// Mistral4Model, a DeepseekV2Model under general.architecture mistral4. Latent attention with kv_b split as Youtu's
// (youtu-gguf.ts); the checkpoint's stacked experts kept as they are (merge_expert off: mlp.experts.gate_up_proj as
// ffn_gate_up_exps, down_proj as ffn_down_exps); the router as ffn_gate_inp, the shared experts as ffn_*_shexp.
import type {LoadedModel} from '../../src/engine/model/load-model.js'
import {readCheckpointTensors, readTensorFloat32} from '../../src/engine/model/safetensors.js'
import {f32, GGUF_GLOBAL_NAMES, u32, type GgufEntry, type GgufTensorSpec} from './gguf-file.js'
import {familyVocabMetadata} from './llama-gguf.js'
import {DEEPSEEK2_LAYER, floatTensor, kvBSplit} from './youtu-gguf.js'


const MOE_LAYER: Record<string, string> = {
  'mlp.gate': 'ffn_gate_inp', 'mlp.experts.gate_up_proj': 'ffn_gate_up_exps', 'mlp.experts.down_proj': 'ffn_down_exps',
  'mlp.shared_experts.gate_proj': 'ffn_gate_shexp', 'mlp.shared_experts.up_proj': 'ffn_up_shexp', 'mlp.shared_experts.down_proj': 'ffn_down_shexp',
}

/** The checkpoint's tensors under llama.cpp's names (the fused experts, stored without a .weight suffix, get one as Mistral4Model adds it). */
export function mistral4Tensors(source: string, c: LoadedModel['config']): GgufTensorSpec[] {
  return readCheckpointTensors(source).flatMap((t): GgufTensorSpec[] => {
    const values = readTensorFloat32(t)
    if (GGUF_GLOBAL_NAMES[t.name]) return [floatTensor(GGUF_GLOBAL_NAMES[t.name]!, t.shape, values)]
    const [, layer, part] = /^model\.layers\.(\d+)\.(.+?)(?:\.weight)?$/.exec(t.name)!
    if (part === 'self_attn.kv_b_proj') return kvBSplit(layer!, values, c)
    return [floatTensor(`blk.${layer}.${MOE_LAYER[part!] ?? DEEPSEEK2_LAYER[part!]!}.weight`, t.shape, values)]
  })
}

/**
 * mistral4.* metadata as Mistral4Model writes `c`: DeepseekV2Model's MQA of kv_lora_rank + rope, its routing keys (no
 * gating function: softmax), the base's YaRN and group keys, mscale_all_dim as yarn_log_multiplier; no temperature scale.
 */
export function mistral4Metadata(c: LoadedModel['config'], mscaleAllDim: number): Record<string, GgufEntry> {
  const mla = c.mla!, rope = c.rotaryDim!, moe = c.moe!, grouped = moe.grouped!
  const yarn = c.ropeScaling as {factor: number; originalMaxPosition: number; betaFast: number; betaSlow: number}
  const keys: Record<string, GgufEntry> = {
    context_length: u32(c.maxPositionEmbeddings), embedding_length: u32(c.hiddenSize), block_count: u32(c.numLayers), feed_forward_length: u32(c.intermediateSize),
    'attention.head_count': u32(c.numHeads), 'attention.head_count_kv': u32(1), 'rope.freq_base': f32(c.ropeTheta), 'attention.layer_norm_rms_epsilon': f32(c.rmsNormEps),
    expert_count: u32(moe.numExperts), expert_used_count: u32(moe.numExpertsPerToken), expert_group_count: u32(grouped.groups), expert_group_used_count: u32(grouped.topkGroups),
    leading_dense_block_count: u32(moe.sparseLayers.indexOf(true)), vocab_size: u32(c.vocabSize), 'attention.q_lora_rank': u32(mla.qLoraRank), 'attention.kv_lora_rank': u32(mla.kvLoraRank),
    'attention.key_length': u32(mla.kvLoraRank + rope), 'attention.value_length': u32(mla.kvLoraRank), 'attention.key_length_mla': u32(c.headDim), 'attention.value_length_mla': u32(mla.vHeadDim),
    expert_feed_forward_length: u32(moe.expertIntermediateSize), expert_shared_count: u32(moe.sharedExpertIntermediateSize / moe.expertIntermediateSize),
    expert_weights_scale: f32(grouped.routedScalingFactor), ...(moe.normTopkProb ? {expert_weights_norm: {type: 'bool', value: true}} : {}), 'rope.dimension_count': u32(rope),
    'rope.scaling.type': {type: 'string', value: 'yarn'}, 'rope.scaling.factor': f32(yarn.factor), 'rope.scaling.original_context_length': u32(yarn.originalMaxPosition),
    'rope.scaling.yarn_beta_fast': f32(yarn.betaFast), 'rope.scaling.yarn_beta_slow': f32(yarn.betaSlow), 'rope.scaling.yarn_log_multiplier': f32(0.1 * mscaleAllDim),
  }
  return {
    'general.architecture': {type: 'string', value: 'mistral4'},
    ...Object.fromEntries(Object.entries(keys).map(([key, value]) => [`mistral4.${key}`, value])),
    ...familyVocabMetadata('llama2', c.vocabSize),
  }
}
