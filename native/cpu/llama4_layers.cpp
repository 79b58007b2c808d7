#include "llama4_layers.h"

#include <cmath>
#include <vector>

namespace pagedllm {
namespace cpu {

void unit_qk_norm(ThreadPool& pool, const ModelConfig& config, float* qkv, int num_rows, int row_stride) {
  // Weights of one: the shared per-head RMSNorm then multiplies by 1, exactly.
  const std::vector<float> ones(config.head_dim, 1.f);
  head_rms_norm(pool, qkv, num_rows, row_stride, config.num_heads, config.head_dim, ones.data(), config.rms_norm_eps);
  float* keys = qkv + static_cast<size_t>(config.num_heads) * config.head_dim;
  head_rms_norm(pool, keys, num_rows, row_stride, config.num_kv_heads, config.head_dim, ones.data(), config.rms_norm_eps);
}

void temperature_tune_queries(const ModelConfig& config, float* qkv, int num_rows, int row_stride, const int32_t* positions) {
  const int width = config.num_heads * config.head_dim;
  const float floor_scale = static_cast<float>(config.attn_floor_scale);
  for (int r = 0; r < num_rows; ++r) {
    const float scale = std::log1p(std::floor((static_cast<float>(positions[r]) + 1.f) / floor_scale)) * config.attn_temperature_scale + 1.f;
    float* q = qkv + static_cast<size_t>(r) * row_stride;
    for (int i = 0; i < width; ++i) q[i] *= scale;
  }
}

}  // namespace cpu
}  // namespace pagedllm
