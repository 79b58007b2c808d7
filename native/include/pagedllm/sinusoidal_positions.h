// XGLM's position embeddings (transformers' XGLMSinusoidalPositionalEmbedding.get_embedding): row r holds
// sin(r * f_i) for i < dim / 2 then cos(r * f_i), f_i = exp(-i * ln(10000) / (dim / 2 - 1)), a zero column when dim is
// odd and a zero padding row; each step rounded to float as torch's float32 ops round it (its vectorised exp is off by
// an ulp in a few frequencies: at position 2048 of 1024 values the two tables differ by 3e-5 at most). Plain C++; rows
// are computed as tokens read them, so no table of max_position_embeddings rows is held (the checkpoint stores none).
#pragma once
#include <cmath>
#include <vector>

namespace pagedllm {

// The dim / 2 frequencies f_i.
inline std::vector<float> sinusoidal_frequencies(int dim) {
  const int half = dim / 2;
  const float step = static_cast<float>(-std::log(10000.0) / (half - 1));
  std::vector<float> freq(half);
  for (int i = 0; i < half; ++i) freq[i] = static_cast<float>(std::exp(static_cast<double>(static_cast<float>(i) * step)));
  return freq;
}

// Row `row` of the table ([dim] values into out).
inline void sinusoidal_position_row(int row, int dim, int padding_row, const std::vector<float>& freq, float* out) {
  const int half = static_cast<int>(freq.size());
  for (int i = 0; i < dim; ++i) out[i] = 0.f;
  if (row == padding_row) return;
  for (int i = 0; i < half; ++i) {
    const double angle = static_cast<float>(row) * freq[i];
    out[i] = static_cast<float>(std::sin(angle));
    out[half + i] = static_cast<float>(std::cos(angle));
  }
}

}  // namespace pagedllm
