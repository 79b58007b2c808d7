// The config.json and tensor names of the third batch of MoE test-model variants (Qwen3-VL-MoE's text model), for
// test-model.ts.

export type Moe3TestVariant = 'qwen3-vl-moe'
export const MOE3_TEST_VARIANTS: readonly Moe3TestVariant[] = ['qwen3-vl-moe']

export function isMoe3TestVariant(variant: string): variant is Moe3TestVariant {
  return (MOE3_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * qwen3-vl-moe: Qwen3-VL-30B-A3B's layout: text_config with Qwen3's head size twice hidden / heads, interleaved mrope
 * sections 6 + 5 + 5, 4 experts top-2 (always renormalised) stored fused and transposed, 2 x 48 wide apart from hidden
 * 64 (transformers' loader transposes only shapes that differ), layer 0 dense by mlp_only_layers, transformers 5's names (model.language_model.*), a vision tower too small to cost anything; untied.
 */
export function moe3TestModelConfigJson(variant: Moe3TestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const {bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model, ...sizes} = common
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

/** A tensor's name in the variant's checkpoint, from the engine's (with the experts already fused: llama4-tensors.ts). */
export function moe3CheckpointName(_variant: Moe3TestVariant, name: string): string {
  return name.startsWith('model.') ? `model.language_model.${name.slice('model.'.length)}` : name
}
