// The config.json of the Gemma-family test-model variants (gemma, gemma2, gemma3, gemma4, gemma4-keqv, gemma4-moe, gemma3n, gemma3n-defaults), for test-model.ts.

export const GEMMA_TEST_VARIANTS = ['gemma', 'gemma2', 'gemma3', 'gemma4', 'gemma4-keqv', 'gemma4-moe', 'gemma3n', 'gemma3n-defaults'] as const
export type GemmaTestVariant = (typeof GEMMA_TEST_VARIANTS)[number]

export function isGemmaTestVariant(variant: string): variant is GemmaTestVariant {
  return (GEMMA_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * gemma: one KV head, GeGLU, tied. gemma2: soft caps large enough to bend random scores and logits, a query scalar
 * apart from head_dim, a window of 16 on every other layer. gemma3: gemma2's layout without soft caps (q/k norms come
 * with the architecture), a window of 8 on layer 0 (pattern 2) with rope_local_base_freq there and rope_theta 1e6
 * with linear scaling 8 on the full layer. Head size twice hidden / heads, as real Gemma's 256 is. gemma4 (as Gemma 4
 * E2B/E4B): four layers (sliding, full, sliding, full) with a window of 8, full layers of twice the head size with
 * proportional rope on a quarter of it, per-layer inputs of 8, the last two layers sharing the first two's K/V with
 * double-wide MLPs, a final soft cap. gemma4-keqv (as Gemma 4 31B): no per-layer inputs or sharing, the full layer's
 * keys as values with one KV head, its shape given as transformers 5.18 saves it (per_layer_config). gemma4-moe (as
 * Gemma 4 26B-A4B): the MoE block of 4 experts, 2 per token, beside each layer's dense MLP. gemma4 and gemma4-moe are
 * untied, so their greedy tokens vary (a random tied model repeats its last token); gemma4-keqv keeps Gemma's tying.
 * gemma3n (as Gemma 3n E2B/E4B, untied): five layers (sliding, sliding, full, sliding, full) with a window of 8, the last
 * two sharing layers 1's and 2's K/V, MLP widths per layer, every gate cut by a gaussian top-k (from the top 5% to the
 * top 70%: cutoffs above and below the mean), 3 AltUp streams acting on stream 1 (not the released 0, so the index is
 * read), LAuReL of rank 8, per-layer inputs of 8. gemma3n-defaults: eleven layers with Gemma3nTextConfig's defaults for
 * what sets Gemma 3n apart (every 5th layer full, the first 10 gates cut at 0.95 and the last layer dense, 4 AltUp
 * streams on stream 0, LAuReL of rank 64, both ropes default, a soft cap of 30), the last four layers KV-shared.
 */
export function gemmaTestModelConfigJson(variant: GemmaTestVariant, common: Record<string, unknown> & {hidden_size: number; num_attention_heads: number}): Record<string, unknown> {
  const base = {...common, head_dim: (2 * common.hidden_size) / common.num_attention_heads, rms_norm_eps: 1e-6, attention_bias: false, tie_word_embeddings: true}
  if (variant === 'gemma') {
    return {architectures: ['GemmaForCausalLM'], model_type: 'gemma', ...base, num_key_value_heads: 1, hidden_act: 'gelu_pytorch_tanh', rope_theta: 10000.0}
  }
  // Gemma2Config and Gemma3TextConfig read hidden_activation.
  const later = {...base, num_key_value_heads: 2, hidden_act: undefined, hidden_activation: 'gelu_pytorch_tanh', query_pre_attn_scalar: 24}
  if (variant === 'gemma2') {
    return {
      architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2', ...later, rope_theta: 10000.0,
      attn_logit_softcapping: 5.5, // not whole numbers: Gemma2Config wants floats and JSON writes 5.0 as 5
      final_logit_softcapping: 12.5,
      sliding_window: 16,
    }
  }
  if (variant === 'gemma4' || variant === 'gemma4-keqv' || variant === 'gemma4-moe') return gemma4TestConfig(variant, later)
  if (variant === 'gemma3n' || variant === 'gemma3n-defaults') return gemma3nTestConfig(variant, later)
  return {
    architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', ...later,
    rope_theta: 1000000.0, rope_local_base_freq: 10000.0, rope_scaling: {rope_type: 'linear', factor: 8.0},
    sliding_window: 8, sliding_window_pattern: 2,
  }
}

function gemma4TestConfig(variant: 'gemma4' | 'gemma4-keqv' | 'gemma4-moe', later: Record<string, unknown>): Record<string, unknown> {
  const {query_pre_attn_scalar: _, ...base} = later
  const headDim = base.head_dim as number
  const common = {
    architectures: ['Gemma4ForCausalLM'], model_type: 'gemma4_text', ...base, sliding_window: 8,
    rope_parameters: {sliding_attention: {rope_type: 'default', rope_theta: 10000.0}, full_attention: {rope_type: 'proportional', partial_rotary_factor: 0.25, rope_theta: 1000000.0}},
  }
  if (variant === 'gemma4') {
    return {
      ...common, num_hidden_layers: 4, layer_types: ['sliding_attention', 'full_attention', 'sliding_attention', 'full_attention'],
      global_head_dim: 2 * headDim, hidden_size_per_layer_input: 8, vocab_size_per_layer_input: base.vocab_size,
      num_kv_shared_layers: 2, use_double_wide_mlp: true, final_logit_softcapping: 12.5, tie_word_embeddings: false,
    }
  }
  if (variant === 'gemma4-moe') {
    return {
      ...common, num_hidden_layers: 2, layer_types: ['sliding_attention', 'full_attention'], global_head_dim: headDim, hidden_size_per_layer_input: 0,
      enable_moe_block: true, num_experts: 4, top_k_experts: 2, moe_intermediate_size: 32, tie_word_embeddings: false,
    }
  }
  return {
    ...common, num_hidden_layers: 2, layer_types: ['sliding_attention', 'full_attention'], hidden_size_per_layer_input: 0, attention_k_eq_v: true,
    per_layer_config: {1: {head_dim: (3 * headDim) / 2, num_key_value_heads: 1}},
  }
}

function gemma3nTestConfig(variant: 'gemma3n' | 'gemma3n-defaults', later: Record<string, unknown>): Record<string, unknown> {
  const {query_pre_attn_scalar: _, ...base} = later
  const common = {
    architectures: ['Gemma3nForCausalLM'], model_type: 'gemma3n_text', ...base, sliding_window: 8, tie_word_embeddings: false,
    hidden_size_per_layer_input: 8, vocab_size_per_layer_input: base.vocab_size,
  }
  if (variant === 'gemma3n-defaults') return {...common, num_hidden_layers: 11, num_kv_shared_layers: 4}
  return {
    ...common, num_hidden_layers: 5,
    layer_types: ['sliding_attention', 'sliding_attention', 'full_attention', 'sliding_attention', 'full_attention'], num_kv_shared_layers: 2,
    // Not whole numbers: Gemma3nTextConfig wants floats and JSON writes 0.0 as 0 (so no layer here is dense).
    intermediate_size: [128, 96, 128, 64, 96], activation_sparsity_pattern: [0.95, 0.9, 0.75, 0.5, 0.3], altup_coef_clip: 100.5,
    altup_num_inputs: 3, altup_active_idx: 1, altup_correct_scale: true, laurel_rank: 8,
    final_logit_softcapping: 12.5,
    rope_parameters: {sliding_attention: {rope_type: 'default', rope_theta: 10000.0}, full_attention: {rope_type: 'default', rope_theta: 1000000.0}},
  }
}
