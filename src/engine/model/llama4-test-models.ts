// The config.json of the llama4 test-model variant, for test-model.ts: three layers (0 and 2 dense rope layers attending
// in chunks of 8 positions, so every test prompt crosses a chunk; 1 a sparse NoPE layer attending globally), 4 experts
// top-2 of half the dense width with the shared expert, use_qk_norm, and temperature tuning with floor_scale 4 and
// attn_scale 0.5, so the NoPE queries' temperature changes within a prompt. llama3 rope scaling over a short original
// context, as the llama3 variant's. The layer lists come from interleave_moe_layer_step and no_rope_layer_interval
// (Llama4TextConfig derives moe_layers [1] and no_rope_layers [1, 0, 1]).
export function llama4TestModelConfigJson(common: Record<string, unknown> & {intermediate_size: number}): Record<string, unknown> {
  return {
    architectures: ['Llama4ForCausalLM'], model_type: 'llama4_text', ...common, num_hidden_layers: 3,
    intermediate_size_mlp: common.intermediate_size, intermediate_size: common.intermediate_size / 2,
    rms_norm_eps: 1e-5, rope_theta: 500000.0,
    rope_scaling: {rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 64},
    num_local_experts: 4, num_experts_per_tok: 2, interleave_moe_layer_step: 2, no_rope_layer_interval: 2,
    attention_chunk_size: 8, use_qk_norm: true, attn_temperature_tuning: true, floor_scale: 4, attn_scale: 0.5,
    attention_bias: false, tie_word_embeddings: false,
  }
}
