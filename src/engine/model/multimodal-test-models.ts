// The config.json and tensor names of the multimodal test-model variants (multimodal-text.ts), for test-model.ts: a
// vision-language checkpoint whose language model is the tiny preset's, with a vision tower too small to cost anything
// (transformers builds it for the fixture; the engine never loads it).

export type MultimodalTestVariant = 'mistral3' | 'ministral3' | 'llava' | 'qwen2-vl' | 'qwen3-vl'
export const MULTIMODAL_TEST_VARIANTS: readonly MultimodalTestVariant[] = ['mistral3', 'ministral3', 'llava', 'qwen2-vl', 'qwen3-vl']

export function isMultimodalTestVariant(variant: string): variant is MultimodalTestVariant {
  return (MULTIMODAL_TEST_VARIANTS as readonly string[]).includes(variant)
}

/**
 * mistral3: Mistral Small 3.1's layout (text_config a Mistral without a window, rope base 1e9, a Pixtral tower), saved
 * as transformers 5 saves it (model.language_model.*). ministral3: the same wrapper over Ministral 3's text model (YaRN x4
 * over an original context of 64 with llama_4_scaling_beta 0.1, so the context is capped at 64, past the longest prompt). llava: a Llama text_config under a CLIP tower, saved as
 * transformers 4 saved it (language_model.model.*, language_model.lm_head). qwen2-vl: a flat hub config (the text keys
 * at the top level, "mrope" rope_scaling with sections 2 + 3 + 3) and the old names (model.layers.*). qwen3-vl: text_config
 * with Qwen3's head size twice hidden / heads, interleaved mrope sections 6 + 5 + 5, transformers 5's names. All untied.
 */
export function multimodalTestModelConfigJson(variant: MultimodalTestVariant, common: Record<string, unknown>): Record<string, unknown> {
  const {bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model, ...sizes} = common
  const top = {bos_token_id, eos_token_id, torch_dtype, pagedllm_test_model, tie_word_embeddings: false}
  if (variant === 'mistral3') {
    return {architectures: ['Mistral3ForConditionalGeneration'], model_type: 'mistral3', ...top, image_token_index: 10, spatial_merge_size: 2,
      text_config: {model_type: 'mistral', ...sizes, rms_norm_eps: 1e-5, rope_theta: 1e9, sliding_window: null},
      vision_config: {model_type: 'pixtral', hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, head_dim: 8, image_size: 32, patch_size: 16}}
  }
  if (variant === 'ministral3') {
    return {architectures: ['Mistral3ForConditionalGeneration'], model_type: 'mistral3', ...top, image_token_index: 10, spatial_merge_size: 2,
      text_config: {model_type: 'ministral3', ...sizes, rms_norm_eps: 1e-5, sliding_window: null,
        rope_parameters: {type: 'yarn', rope_theta: 1e6, factor: 4, original_max_position_embeddings: 64, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1, llama_4_scaling_beta: 0.1}},
      vision_config: {model_type: 'pixtral', hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, head_dim: 8, image_size: 32, patch_size: 16}}
  }
  if (variant === 'llava') {
    return {architectures: ['LlavaForConditionalGeneration'], model_type: 'llava', ...top, image_token_index: 511,
      text_config: {model_type: 'llama', ...sizes, rms_norm_eps: 1e-5, rope_theta: 10000},
      vision_config: {model_type: 'clip_vision_model', hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, image_size: 32, patch_size: 16, projection_dim: 16}}
  }
  if (variant === 'qwen2-vl') {
    return {architectures: ['Qwen2VLForConditionalGeneration'], model_type: 'qwen2_vl', ...top, ...sizes, rms_norm_eps: 1e-6, rope_theta: 1e6,
      rope_scaling: {type: 'mrope', mrope_section: [2, 3, 3]}, use_sliding_window: false, image_token_id: 505, video_token_id: 506, vision_start_token_id: 507, vision_end_token_id: 508,
      vision_config: {depth: 1, embed_dim: 16, hidden_size: sizes.hidden_size, num_heads: 2, mlp_ratio: 2, patch_size: 14, spatial_merge_size: 2, temporal_patch_size: 2}}
  }
  const headDim = 2 * (sizes.head_dim as number)
  return {architectures: ['Qwen3VLForConditionalGeneration'], model_type: 'qwen3_vl', ...top, image_token_id: 505, video_token_id: 506, vision_start_token_id: 507, vision_end_token_id: 508,
    text_config: {model_type: 'qwen3_vl_text', ...sizes, head_dim: headDim, rms_norm_eps: 1e-6, attention_bias: false,
      rope_parameters: {rope_type: 'default', rope_theta: 5e6, mrope_section: [6, 5, 5], mrope_interleaved: true}},
    vision_config: {depth: 1, hidden_size: 16, intermediate_size: 32, num_heads: 2, out_hidden_size: sizes.hidden_size, patch_size: 16, spatial_merge_size: 2, temporal_patch_size: 2,
      deepstack_visual_indexes: [0], num_position_embeddings: 16}}
}

/** A language-model tensor's name in the variant's checkpoint (the engine's name is the text model's). */
export function multimodalCheckpointName(variant: MultimodalTestVariant, name: string): string {
  if (variant === 'qwen2-vl') return name
  if (variant === 'llava') return `language_model.${name}`
  return name.startsWith('model.') ? `model.language_model.${name.slice('model.'.length)}` : name
}
