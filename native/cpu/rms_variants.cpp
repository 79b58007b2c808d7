// Granite's scaled residual adds and logits, OLMo2's residual stream without pre-norms, SmolLM3's rope-free layers and
// the LayerNorms of Cohere, OLMo and PhiMoE.
#include "rms_variants.h"

#include <algorithm>

#include "layernorm_family.h"

namespace pagedllm {
namespace cpu {

// A bias of zeros as wide as the rows, kept between calls: the weight-only LayerNorm runs twice per layer per step.
static const float* zero_bias(int width) {
  static thread_local std::vector<float> zeros;
  if (zeros.size() < static_cast<size_t>(width)) zeros.assign(width, 0.f);
  return zeros.data();
}

void residual_step(ThreadPool& pool, const ModelConfig& config, float* sublayer_out, float* residual,
                   const std::vector<float>& norm, const std::vector<float>& norm_bias, int tokens, bool first) {
  const size_t count = static_cast<size_t>(tokens) * config.hidden_size;
  if (!first) {
    // transformers: residual + out * residual_multiplier (the product rounded to fp32 first, as here).
    if (config.residual_multiplier != 1.f) {
      for (size_t i = 0; i < count; ++i) sublayer_out[i] *= config.residual_multiplier;
    }
    if (!norm.empty() && !config.norm_mean) {
      return fused_add_rms_norm(pool, sublayer_out, residual, norm.data(), tokens, config.hidden_size, config.rms_norm_eps);
    }
    add_to_residual(config, sublayer_out, residual, tokens);
  }
  if (norm.empty()) {
    std::copy_n(residual, count, sublayer_out);
  } else if (config.norm_mean) {
    // Without a bias (Cohere, OLMo) one of zeros adds nothing (x + 0 is x), so the weight-only norm is exact.
    const float* bias = norm_bias.empty() ? zero_bias(config.hidden_size) : norm_bias.data();
    layer_norm(pool, residual, norm.data(), bias, sublayer_out, tokens, config.hidden_size, config.rms_norm_eps);
  } else {
    rms_norm(pool, residual, norm.data(), sublayer_out, tokens, config.hidden_size, config.rms_norm_eps);
  }
}

void add_to_residual(const ModelConfig& config, const float* out, float* residual, int tokens) {
  const size_t count = static_cast<size_t>(tokens) * config.hidden_size;
  for (size_t i = 0; i < count; ++i) residual[i] += out[i];
}

bool layer_has_rope(const ModelConfig& config, int layer) {
  return config.rope_layers.empty() || config.rope_layers.at(layer) != 0;
}

void clip_qkv(const ModelConfig& config, float* qkv, size_t count) {
  if (config.clip_qkv <= 0.f) return;
  for (size_t i = 0; i < count; ++i) qkv[i] = std::clamp(qkv[i], -config.clip_qkv, config.clip_qkv);
}

void scale_logits(const ModelConfig& config, float* logits, size_t count) {
  if (config.logits_multiplier == 1.f) return;
  for (size_t i = 0; i < count; ++i) logits[i] *= config.logits_multiplier;
}

}  // namespace cpu
}  // namespace pagedllm
