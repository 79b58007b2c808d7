// The config.json of each ALiBi-family test model (BLOOM, Falcon's three layouts, MPT), in the keys their transformers
// config classes read. bloom: 6 heads (tiny; half again as many as the preset), so ALiBi's extra interleaved slopes past the power of two 4 are in play; untied.
// falcon: new_decoder_architecture (ln_attn / ln_mlp, 4 query heads in 2 KV groups of the grouped query_key_value,
// rotary), no biases. falcon-mq: Falcon-7B's multi_query (one KV head), one norm for the parallel block, rope_theta
// 20000. falcon-rw: Falcon-RW's ALiBi (scaled with the scores), serial blocks, per-head q|k|v, biases. mpt: 6 heads
// (MPT's own slopes past a power of two), clip_qkv low enough to clamp, softmax_scale apart from 1/sqrt(head size),
// bias-free LayerNorms, tied head.
import {specialTokenId, TOKENIZER_FAMILIES} from './tokenizer-families.js'

export type AlibiTestVariant = 'bloom' | 'falcon' | 'falcon-mq' | 'falcon-rw' | 'mpt'
export const ALIBI_TEST_VARIANTS: readonly AlibiTestVariant[] = ['bloom', 'falcon', 'falcon-mq', 'falcon-rw', 'mpt']

export function isAlibiTestVariant(variant: string): variant is AlibiTestVariant {
  return (ALIBI_TEST_VARIANTS as readonly string[]).includes(variant)
}

interface Shape {
  vocabSize: number
  hiddenSize: number
  numLayers: number
  numHeads: number
  maxPositionEmbeddings: number
}

/** `common` carries the generator's bookkeeping (torch_dtype, pagedllm_test_model); the rest is each class's own keys. */
export function alibiTestConfig(variant: AlibiTestVariant, shape: Shape, common: Record<string, unknown>): Record<string, unknown> {
  const endOfText = specialTokenId(TOKENIZER_FAMILIES.gpt2, '<|endoftext|>')
  // BLOOM and MPT with half again as many heads as the preset (6 for tiny's 4), so the head count is no power of two.
  const [narrow, sixths] = [shape.hiddenSize * 3 / 4, shape.numHeads * 3 / 2]
  const ids = {bos_token_id: endOfText, eos_token_id: endOfText, torch_dtype: common.torch_dtype, pagedllm_test_model: common.pagedllm_test_model}
  if (variant === 'bloom') {
    return {architectures: ['BloomForCausalLM'], model_type: 'bloom', vocab_size: shape.vocabSize, hidden_size: narrow, n_layer: shape.numLayers, n_head: sixths,
      layer_norm_epsilon: 1e-5, apply_residual_connection_post_layernorm: false, pretraining_tp: 1, slow_but_exact: false, tie_word_embeddings: false, ...ids}
  }
  if (variant === 'mpt') {
    return {architectures: ['MptForCausalLM'], model_type: 'mpt', vocab_size: shape.vocabSize, d_model: narrow, n_layers: shape.numLayers, n_heads: sixths, expansion_ratio: 4,
      max_seq_len: shape.maxPositionEmbeddings, layer_norm_epsilon: 1e-5, no_bias: true, norm_type: 'low_precision_layernorm', learned_pos_emb: true, logit_scale: null,
      attn_config: {attn_type: 'multihead_attention', attn_impl: 'torch', alibi: true, alibi_bias_max: 8, clip_qkv: 1.5, softmax_scale: 0.5, qk_ln: false, prefix_lm: false},
      tie_word_embeddings: true, ...ids}
  }
  const sizes = {vocab_size: shape.vocabSize, hidden_size: shape.hiddenSize, num_hidden_layers: shape.numLayers, num_attention_heads: shape.numHeads,
    max_position_embeddings: shape.maxPositionEmbeddings, layer_norm_epsilon: 1e-5, activation: 'gelu', tie_word_embeddings: false, ...ids}
  if (variant === 'falcon') {
    return {architectures: ['FalconForCausalLM'], model_type: 'falcon', ...sizes, new_decoder_architecture: true, num_kv_heads: shape.numHeads / 2, parallel_attn: true,
      multi_query: true, alibi: false, bias: false, rope_parameters: {rope_type: 'default', rope_theta: 10000}}
  }
  if (variant === 'falcon-mq') {
    return {architectures: ['FalconForCausalLM'], model_type: 'falcon', ...sizes, new_decoder_architecture: false, multi_query: true, parallel_attn: true, alibi: false,
      bias: false, ffn_hidden_size: 3 * shape.hiddenSize, rope_parameters: {rope_type: 'default', rope_theta: 20000}}
  }
  return {architectures: ['FalconForCausalLM'], model_type: 'falcon', ...sizes, new_decoder_architecture: false, multi_query: false, parallel_attn: false, alibi: true, bias: true}
}
