// Scalar multipliers on activations (Falcon-H1's muP multipliers: mamba2_config.h FalconH1Multipliers), in place.
#pragma once
#include <cstddef>

namespace pagedllm {
namespace cpu {

inline void scale_values(float* x, size_t count, float factor) {
  for (size_t i = 0; i < count; ++i) x[i] *= factor;
}

// The first `width` values of each of `rows` rows `stride` apart.
inline void scale_columns(float* x, int rows, int stride, int width, float factor) {
  for (int r = 0; r < rows; ++r) scale_values(x + static_cast<size_t>(r) * stride, static_cast<size_t>(width), factor);
}

// out = out * a + other * b.
inline void add_scaled_pair(float* out, float a, const float* other, float b, size_t count) {
  for (size_t i = 0; i < count; ++i) out[i] = out[i] * a + other[i] * b;
}

}  // namespace cpu
}  // namespace pagedllm
