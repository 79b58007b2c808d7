// GGUF bloom / falcon / mpt files (llama.cpp's tensor names and metadata) as the config.json they stand for;
// gguf-layernorm.ts names their tensors. llama.cpp's converter stores BLOOM's and Falcon's query_key_value already as
// [all q | all k | all v] and duplicates BLOOM's embedding as output.weight, so the tensors are used as they lie.
import {ModelLoadError} from '../errors.js'
import type {GgufFile} from './gguf-file.js'

export const GGUF_ALIBI_FILES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  bloom: {architecture: 'BloomForCausalLM', modelType: 'bloom', interleavedRope: false},
  falcon: {architecture: 'FalconForCausalLM', modelType: 'falcon', interleavedRope: false},
  mpt: {architecture: 'MptForCausalLM', modelType: 'mpt', interleavedRope: false},
}
export const GGUF_ALIBI_ARCHITECTURES: Record<string, string> = Object.fromEntries(Object.entries(GGUF_ALIBI_FILES).map(([arch, file]) => [arch, file.architecture]))

/** The config.json keys a bloom / falcon / mpt file's metadata says; `common` holds the vocabulary, token ids and tying. */
export function alibiGgufConfigJson(file: GgufFile, arch: string, common: Record<string, unknown>, get: (key: string) => unknown, required: (key: string) => unknown): Record<string, unknown> {
  const has = (name: string) => file.tensors.some((t) => t.name === name)
  const hidden = Number(required('embedding_length')), heads = Number(required('attention.head_count')), ffn = Number(required('feed_forward_length'))
  const kvHeads = Number(get('attention.head_count_kv') ?? heads)
  const eps = get('attention.layer_norm_epsilon') ?? 1e-5
  if (arch === 'bloom') {
    if (kvHeads !== heads || ffn !== 4 * hidden) throw new ModelLoadError(`${file.path}: a bloom file needs head_count_kv = head_count and feed_forward_length = 4 x embedding_length (BLOOM's layout).`)
    return {architectures: ['BloomForCausalLM'], model_type: 'bloom', hidden_size: hidden, n_layer: required('block_count'), n_head: heads, layer_norm_epsilon: eps,
      seq_length: required('context_length'), ...common}
  }
  if (arch === 'falcon') {
    // llama.cpp runs every falcon file as a parallel block: two norms (attn_norm, attn_norm_2) or one, KV heads grouped.
    const twoNorms = has('blk.0.attn_norm_2.weight')
    const newArch = twoNorms || (kvHeads !== 1 && kvHeads !== heads)
    return {architectures: ['FalconForCausalLM'], model_type: 'falcon', hidden_size: hidden, num_hidden_layers: required('block_count'), num_attention_heads: heads,
      num_kv_heads: kvHeads, new_decoder_architecture: newArch, multi_query: kvHeads === 1, parallel_attn: true, ...(newArch ? {num_ln_in_parallel_attn: twoNorms ? 2 : 1} : {}),
      bias: has('blk.0.attn_qkv.bias'), ffn_hidden_size: ffn, max_position_embeddings: required('context_length'), layer_norm_epsilon: eps, alibi: false,
      rope_theta: get('rope.freq_base') ?? 10000, ...common}
  }
  // mpt: max_alibi_bias 0 is a model without ALiBi (learned positions), which transformers' MPT does not have.
  if (ffn % hidden !== 0) throw new ModelLoadError(`${file.path}: mpt feed_forward_length ${ffn} is not a multiple of embedding_length ${hidden}.`)
  const maxAlibiBias = Number(get('attention.max_alibi_bias') ?? 8)
  return {architectures: ['MptForCausalLM'], model_type: 'mpt', d_model: hidden, n_layers: required('block_count'), n_heads: heads, expansion_ratio: ffn / hidden,
    max_seq_len: required('context_length'), layer_norm_epsilon: eps, no_bias: !has('blk.0.attn_qkv.bias'),
    attn_config: {alibi: maxAlibiBias > 0, alibi_bias_max: maxAlibiBias, clip_qkv: get('attention.clamp_kqv') ?? null, attn_type: kvHeads === heads ? 'multihead_attention' : 'grouped_query_attention'},
    ...common}
}
