// The config.json of each LayerNorm-family test model (OPT pre- and post-LN, GPT-NeoX parallel and serial, GPT-2, Phi,
// StableLM serial and parallel, StarCoder2, GPT-J), in the keys their transformers config classes read.
import {specialTokenId, TOKENIZER_FAMILIES} from './tokenizer-families.js'

/**
 * opt: OPT-125m's layout (pre-LN, ReLU, biases). opt-post-ln: OPT-350m's (do_layer_norm_before false, so no final norm,
 * and word_embed_proj_dim half of hidden_size through project_in / project_out), tied as OPT ships. gpt-neox: Pythia's
 * (parallel residual, a quarter of each head rotated, exact gelu, untied embed_out). gpt-neox-serial: use_parallel_residual
 * false and rotary_pct 0.5. gpt2: Conv1D weights, learned positions, gelu_new, untied here (see test-model.ts). phi:
 * Phi-2's layout (one norm for a parallel block, half of each head rotated, lm_head bias) with qk_layernorm and 2 KV
 * heads. stablelm: StableLM-2's (gated SiLU MLP, q/k/v biases, a quarter rotated) with its per-head q/k norms;
 * stablelm-parallel: use_parallel_residual, no q/k norms. starcoder2: 2 KV heads, biases, gelu tanh, a sliding window of
 * 8 (so every test prompt crosses it). gptj: interleaved rotary over 8 of 16 values per head, lm_head bias. gpt-bigcode:
 * StarCoder's multi-query c_attn (one KV head), learned positions; gpt-bigcode-mha: multi_query false (per-head q|k|v).
 * gpt-neo: GPT-Neo's global then local layer (a window of 8), unscaled scores, q/k/v without biases.
 */
export type LayerNormTestVariant = 'opt' | 'opt-post-ln' | 'gpt-neox' | 'gpt-neox-serial' | 'gpt2' | 'phi' | 'stablelm' | 'stablelm-parallel' | 'starcoder2' | 'gptj' | 'gpt-bigcode' | 'gpt-bigcode-mha' | 'gpt-neo'
export const LAYERNORM_TEST_VARIANTS: readonly LayerNormTestVariant[] = ['opt', 'opt-post-ln', 'gpt-neox', 'gpt-neox-serial', 'gpt2', 'phi', 'stablelm', 'stablelm-parallel', 'starcoder2', 'gptj', 'gpt-bigcode', 'gpt-bigcode-mha', 'gpt-neo']

interface Shape {
  vocabSize: number
  hiddenSize: number
  numLayers: number
  numHeads: number
  intermediateSize: number
  maxPositionEmbeddings: number
}

/** `common` carries the generator's bookkeeping (torch_dtype, pagedllm_test_model); the rest is each class's own keys. */
export function layerNormTestConfig(variant: LayerNormTestVariant, shape: Shape, common: Record<string, unknown>): Record<string, unknown> {
  const bookkeeping = {torch_dtype: common.torch_dtype, pagedllm_test_model: common.pagedllm_test_model}
  if (variant === 'opt' || variant === 'opt-post-ln') {
    const eos = specialTokenId(TOKENIZER_FAMILIES.opt, '</s>')
    const postLn = variant === 'opt-post-ln'
    return {
      architectures: ['OPTForCausalLM'], model_type: 'opt', vocab_size: shape.vocabSize, hidden_size: shape.hiddenSize, ffn_dim: shape.intermediateSize,
      num_hidden_layers: shape.numLayers, num_attention_heads: shape.numHeads, max_position_embeddings: shape.maxPositionEmbeddings,
      do_layer_norm_before: !postLn, word_embed_proj_dim: postLn ? shape.hiddenSize / 2 : shape.hiddenSize, activation_function: 'relu',
      enable_bias: true, layer_norm_elementwise_affine: true, tie_word_embeddings: postLn, bos_token_id: eos, eos_token_id: eos, pad_token_id: 1, ...bookkeeping,
    }
  }
  const endOfText = specialTokenId(TOKENIZER_FAMILIES.gpt2, '<|endoftext|>')
  const ids = {bos_token_id: endOfText, eos_token_id: endOfText, ...bookkeeping}
  const sizes = {vocab_size: shape.vocabSize, hidden_size: shape.hiddenSize, intermediate_size: shape.intermediateSize, num_hidden_layers: shape.numLayers,
    num_attention_heads: shape.numHeads, max_position_embeddings: shape.maxPositionEmbeddings}
  if (variant === 'phi') {
    return {architectures: ['PhiForCausalLM'], model_type: 'phi', ...sizes, num_key_value_heads: shape.numHeads / 2, hidden_act: 'gelu_new', layer_norm_eps: 1e-5,
      rope_parameters: {rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.5}, qk_layernorm: true, tie_word_embeddings: false, ...ids}
  }
  if (variant === 'stablelm' || variant === 'stablelm-parallel') {
    const parallel = variant === 'stablelm-parallel'
    return {architectures: ['StableLmForCausalLM'], model_type: 'stablelm', ...sizes, num_key_value_heads: shape.numHeads / 2, hidden_act: 'silu', layer_norm_eps: 1e-5,
      rope_parameters: {rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.25}, use_qkv_bias: !parallel, qk_layernorm: !parallel,
      use_parallel_residual: parallel, tie_word_embeddings: false, ...ids}
  }
  if (variant === 'starcoder2') {
    return {architectures: ['Starcoder2ForCausalLM'], model_type: 'starcoder2', ...sizes, num_key_value_heads: shape.numHeads / 2, hidden_act: 'gelu_pytorch_tanh',
      norm_epsilon: 1e-5, rope_parameters: {rope_type: 'default', rope_theta: 100000}, sliding_window: 8, use_bias: true, tie_word_embeddings: false, ...ids}
  }
  if (variant === 'gpt-bigcode' || variant === 'gpt-bigcode-mha') {
    return {architectures: ['GPTBigCodeForCausalLM'], model_type: 'gpt_bigcode', vocab_size: shape.vocabSize, n_embd: shape.hiddenSize, n_layer: shape.numLayers,
      n_head: shape.numHeads, n_inner: shape.intermediateSize, n_positions: shape.maxPositionEmbeddings, multi_query: variant === 'gpt-bigcode', activation_function: 'gelu_pytorch_tanh',
      layer_norm_epsilon: 1e-5, scale_attn_weights: true, tie_word_embeddings: false, ...ids}
  }
  if (variant === 'gpt-neo') {
    return {architectures: ['GPTNeoForCausalLM'], model_type: 'gpt_neo', vocab_size: shape.vocabSize, hidden_size: shape.hiddenSize, num_layers: shape.numLayers,
      num_heads: shape.numHeads, intermediate_size: shape.intermediateSize, max_position_embeddings: shape.maxPositionEmbeddings,
      attention_types: [[['global', 'local'], shape.numLayers / 2]], window_size: 8, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: false, ...ids}
  }
  if (variant === 'gptj') {
    return {architectures: ['GPTJForCausalLM'], model_type: 'gptj', vocab_size: shape.vocabSize, n_embd: shape.hiddenSize, n_layer: shape.numLayers, n_head: shape.numHeads,
      n_inner: shape.intermediateSize, n_positions: shape.maxPositionEmbeddings, rotary_dim: shape.hiddenSize / shape.numHeads / 2, activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5, tie_word_embeddings: false, ...ids}
  }
  if (variant === 'gpt2') {
    return {
      architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: shape.vocabSize, n_embd: shape.hiddenSize, n_layer: shape.numLayers, n_head: shape.numHeads,
      n_inner: null, n_positions: shape.maxPositionEmbeddings, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, scale_attn_weights: true,
      scale_attn_by_inverse_layer_idx: false, reorder_and_upcast_attn: false, tie_word_embeddings: false, bos_token_id: endOfText, eos_token_id: endOfText, ...bookkeeping,
    }
  }
  const serial = variant === 'gpt-neox-serial'
  return {
    architectures: ['GPTNeoXForCausalLM'], model_type: 'gpt_neox', vocab_size: shape.vocabSize, hidden_size: shape.hiddenSize, intermediate_size: shape.intermediateSize,
    num_hidden_layers: shape.numLayers, num_attention_heads: shape.numHeads, max_position_embeddings: shape.maxPositionEmbeddings, hidden_act: 'gelu',
    rotary_pct: serial ? 0.5 : 0.25, rotary_emb_base: 10000, layer_norm_eps: 1e-5, use_parallel_residual: !serial, tie_word_embeddings: false,
    bos_token_id: endOfText, eos_token_id: endOfText, ...bookkeeping,
  }
}
