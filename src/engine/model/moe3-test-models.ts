// The config.json and tensor names of the third batch of MoE test-model variants (Qwen3-VL-MoE's text model, DBRX,
// Cohere2-MoE, AFMoE) and GLM-4.1V's and GLM-4.5V's text models, for test-model.ts.

export type Moe3TestVariant = 'qwen3-vl-moe' | 'dbrx' | 'cohere2-moe' | 'cohere2-moe-sigmoid' | 'afmoe' | 'glm4v' | 'glm4v-moe'
export const MOE3_TEST_VARIANTS: readonly Moe3TestVariant[] = ['qwen3-vl-moe', 'dbrx', 'cohere2-moe', 'cohere2-moe-sigmoid', 'afmoe', 'glm4v', 'glm4v-moe']

export function isMoe3TestVariant(variant: string): variant is Moe3TestVariant {
  return (MOE3_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * qwen3-vl-moe: Qwen3-VL-30B-A3B's layout: text_config with Qwen3's head size twice hidden / heads, interleaved mrope
 * sections 6 + 5 + 5, 4 experts top-2 (always renormalised) stored fused and transposed, 2 x 48 wide apart from hidden
 * 64 (transformers' loader transposes only shapes that differ), layer 0 dense by mlp_only_layers, transformers 5's
 * names (model.language_model.*), a vision tower too small to cost anything; untied.
 * dbrx: DbrxConfig's own keys (d_model, n_heads, attn_config, ffn_config), 2 KV heads, q/k/v clamped at 1.5 (a visible
 * share of them), 4 experts top-2 of 48 renormalised (moe_normalize_expert_weights left to its 1.0: JSON's 1 fails
 * transformers' float check), the rope base both where transformers reads it (rope_theta) and where databricks' files
 * keep it (attn_config).
 * cohere2-moe: three layers: layer 0 a dense prefix (first_k_dense_replace 1) twice the experts' width, full attention
 * rotated all the same (prefix_dense_sliding_window_pattern 1); then sliding_window_pattern 2: layer 1 sliding (a window
 * of 8) with rope, layer 2 full without. 4 experts top-2 of 48 (softmax of the top-k logits), one shared MLP averaged in
 * (the default strategy), LayerNorms without bias, logit_scale 0.25, untied. cohere2-moe-sigmoid: its other choices:
 * RMSNorms (rms_norm_eps set), every layer sparse, sigmoid routing left unnormalised (norm_topk_prob false), the shared
 * MLP summed in, layer 0 sliding, layer 1 full.
 * afmoe: three layers, global_attn_every_n_layers 2 (layers 0 and 2 sliding with rope, a window of 8; layer 1 full
 * without), layer 0 dense, 4 experts top-2 of 32 chosen with expert_bias and scaled by route_scale 1.5, one shared MLP,
 * muP's embedding scale on, untied.
 * glm4v: GLM-4.1V's layout: text_config GLM-4-0414's layers (fused gate_up_proj, sandwich norms, q/k/v biases) rotating
 * interleaved pairs on half of each head (partial_rotary_factor 0.5) under mrope sections 2 + 1 + 1, no head_dim (heads
 * hidden / heads wide), transformers 5's names (model.language_model.*), a vision tower too small to cost anything; untied.
 * glm4v-moe: GLM-4.5V's layout: text_config GLM-4.5's layers (q/k/v biases by default, half of each head rotated in
 * rotate_half's halves) under mrope sections 2 + 1 + 1, layer 0 dense, 8 experts in 2 groups (one kept) top-2 scaled by
 * 1.5 with one shared expert, the wrapper as glm4v's.
 */
export function moe3TestModelConfigJson(variant: Moe3TestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const {bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model, ...sizes} = common
  if (variant === 'cohere2-moe') {
    return {
      architectures: ['Cohere2MoeForCausalLM'], model_type: 'cohere2_moe', ...common, num_hidden_layers: 3, intermediate_size: 48, prefix_dense_intermediate_size: 96,
      layer_norm_eps: 1e-5, logit_scale: 0.25, rope_theta: 10000.0, sliding_window: 8, sliding_window_pattern: 2, first_k_dense_replace: 1, prefix_dense_sliding_window_pattern: 1,
      num_experts: 4, num_experts_per_tok: 2, num_shared_experts: 1, tie_word_embeddings: false, pad_token_id: common.eos_token_id,
    }
  }
  if (variant === 'cohere2-moe-sigmoid') {
    return {
      architectures: ['Cohere2MoeForCausalLM'], model_type: 'cohere2_moe', ...common, intermediate_size: 48, rms_norm_eps: 1e-6, logit_scale: 0.25, rope_theta: 10000.0,
      sliding_window: 8, sliding_window_pattern: 2, num_experts: 4, num_experts_per_tok: 2, expert_selection_fn: 'sigmoid', norm_topk_prob: false,
      num_shared_experts: 1, shared_expert_combination_strategy: 'sum',
      tie_word_embeddings: false, pad_token_id: common.eos_token_id,
    }
  }
  if (variant === 'glm4v') {
    const {head_dim: _, ...text} = sizes
    return {
      architectures: ['Glm4vForConditionalGeneration'], model_type: 'glm4v', bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model, tie_word_embeddings: false,
      image_token_id: 505, video_token_id: 506, image_start_token_id: 507, image_end_token_id: 508, video_start_token_id: 509, video_end_token_id: 510,
      text_config: {model_type: 'glm4v_text', ...text, rms_norm_eps: 1e-5, partial_rotary_factor: 0.5,
        rope_parameters: {rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.5, mrope_section: [2, 1, 1]}},
      vision_config: {depth: 1, hidden_size: 16, intermediate_size: 32, num_heads: 2, out_hidden_size: sizes.hidden_size, image_size: 28, patch_size: 14, spatial_merge_size: 2, temporal_patch_size: 2},
    }
  }
  if (variant === 'glm4v-moe') {
    return {
      architectures: ['Glm4vMoeForConditionalGeneration'], model_type: 'glm4v_moe', bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model, tie_word_embeddings: false,
      image_token_id: 505, video_token_id: 506, image_start_token_id: 507, image_end_token_id: 508, video_start_token_id: 509, video_end_token_id: 510,
      text_config: {model_type: 'glm4v_moe_text', ...sizes, rms_norm_eps: 1e-5, n_routed_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 32, n_shared_experts: 1,
        n_group: 2, topk_group: 1, routed_scaling_factor: 1.5, first_k_dense_replace: 1, norm_topk_prob: true,
        rope_parameters: {rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.5, mrope_section: [2, 1, 1]}},
      vision_config: {depth: 1, hidden_size: 16, intermediate_size: 32, num_heads: 2, out_hidden_size: sizes.hidden_size, image_size: 28, patch_size: 14, spatial_merge_size: 2, temporal_patch_size: 2},
    }
  }
  if (variant === 'afmoe') {
    return {
      architectures: ['AfmoeForCausalLM'], model_type: 'afmoe', ...common, num_hidden_layers: 3, moe_intermediate_size: 32, rms_norm_eps: 1e-5, rope_theta: 10000.0,
      sliding_window: 8, global_attn_every_n_layers: 2, num_dense_layers: 1, num_experts: 4, num_experts_per_tok: 2, num_shared_experts: 1, route_scale: 1.5,
      mup_enabled: true, attention_bias: false, tie_word_embeddings: false, pad_token_id: common.eos_token_id,
    }
  }
  if (variant === 'dbrx') {
    return {
      architectures: ['DbrxForCausalLM'], model_type: 'dbrx', bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model, tie_word_embeddings: false,
      vocab_size: sizes.vocab_size, d_model: sizes.hidden_size, n_heads: sizes.num_attention_heads, n_layers: sizes.num_hidden_layers, max_seq_len: sizes.max_position_embeddings, rope_theta: 5e5,
      attn_config: {kv_n_heads: sizes.num_key_value_heads, clip_qkv: 1.5, rope_theta: 5e5},
      ffn_config: {ffn_hidden_size: 48, moe_num_experts: 4, moe_top_k: 2, ffn_act_fn: {name: 'silu'}},
    }
  }
  return {
    architectures: ['Qwen3VLMoeForConditionalGeneration'], model_type: 'qwen3_vl_moe', bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model, tie_word_embeddings: false,
    image_token_id: 505, video_token_id: 506, vision_start_token_id: 507, vision_end_token_id: 508,
    text_config: {model_type: 'qwen3_vl_moe_text', ...sizes, head_dim: 2 * (sizes.head_dim as number), rms_norm_eps: 1e-6, attention_bias: false,
      num_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 48, decoder_sparse_step: 1, mlp_only_layers: [0],
      rope_parameters: {rope_type: 'default', rope_theta: 5e6, mrope_section: [6, 5, 5], mrope_interleaved: true}},
    vision_config: {depth: 1, hidden_size: 16, intermediate_size: 32, num_heads: 2, out_hidden_size: sizes.hidden_size, patch_size: 16, spatial_merge_size: 2, temporal_patch_size: 2,
      deepstack_visual_indexes: [0], num_position_embeddings: 16},
  }
}

/** A tensor's name in the variant's checkpoint, from the engine's (with the experts already fused: llama4-tensors.ts, dbrx-tensors.ts). */
export function moe3CheckpointName(variant: Moe3TestVariant, name: string): string {
  if (variant === 'afmoe') return name.replace(/\.mlp\.gate\.e_score_correction_bias$/, '.mlp.expert_bias')
  return (variant === 'qwen3-vl-moe' || variant === 'glm4v' || variant === 'glm4v-moe') && name.startsWith('model.') ? `model.language_model.${name.slice('model.'.length)}` : name
}
