// The config.json of each LayerNorm-family test model (OPT pre- and post-LN, GPT-NeoX parallel and serial, GPT-2), in
// the keys their transformers config classes read.
import {specialTokenId, TOKENIZER_FAMILIES} from './tokenizer-families.js'

/**
 * opt: OPT-125m's layout (pre-LN, ReLU, biases). opt-post-ln: OPT-350m's (do_layer_norm_before false, so no final norm,
 * and word_embed_proj_dim half of hidden_size through project_in / project_out), tied as OPT ships. gpt-neox: Pythia's
 * (parallel residual, a quarter of each head rotated, exact gelu, untied embed_out). gpt-neox-serial: use_parallel_residual
 * false and rotary_pct 0.5. gpt2: Conv1D weights, learned positions, gelu_new, untied here (see test-model.ts).
 */
export type LayerNormTestVariant = 'opt' | 'opt-post-ln' | 'gpt-neox' | 'gpt-neox-serial' | 'gpt2'
export const LAYERNORM_TEST_VARIANTS: readonly LayerNormTestVariant[] = ['opt', 'opt-post-ln', 'gpt-neox', 'gpt-neox-serial', 'gpt2']

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
