// The RMSNorm-family variants' steps around the shared ops: Granite's scaled residual adds and logits, OLMo2's
// residual stream without pre-norms, SmolLM3's layers without rope.
#pragma once
#include <cstddef>
#include <vector>

#include "kernels.h"

namespace pagedllm {
namespace cpu {

// Adds a sublayer's output (Granite: times residual_multiplier) into the residual stream and leaves the next sublayer's
// input in `sublayer_out`: RMSNorm(residual) * norm (Cohere, norm_mean: LayerNorm without bias), or the residual itself
// when `norm` is empty (OLMo2 has no pre-norms). first: nothing to add yet (layer 0's input comes straight from the
// embeddings in `residual`). norm_bias: PhiMoE's LayerNorm bias (norm_mean); empty: none.
void residual_step(ThreadPool& pool, const ModelConfig& config, float* sublayer_out, float* residual,
                   const std::vector<float>& norm, const std::vector<float>& norm_bias, int tokens, bool first);

// residual += out (Cohere's parallel block adds the attention output, then the MLP's through residual_step).
void add_to_residual(const ModelConfig& config, const float* out, float* residual, int tokens);

// SmolLM3's no_rope_layers: false for a layer that attends without rotary positions.
bool layer_has_rope(const ModelConfig& config, int layer);

// OLMo's clip_qkv: every q, k and v value clamped to [-clip_qkv, clip_qkv]; nothing when clip_qkv is 0.
void clip_qkv(const ModelConfig& config, float* qkv, size_t count);

// Granite's logits / logits_scaling (as a multiplier); nothing for other models.
void scale_logits(const ModelConfig& config, float* logits, size_t count);

}  // namespace cpu
}  // namespace pagedllm
