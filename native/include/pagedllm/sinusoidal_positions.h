// XGLM's position embeddings (transformers' XGLMSinusoidalPositionalEmbedding.get_embedding): row r holds
// sin(r * f_i) for i < dim / 2 then cos(r * f_i), f_i = exp(-i * ln(10000) / (dim / 2 - 1)), a zero column when dim is
// odd and a zero padding row; each step rounded to float as torch's float32 ops round it (its vectorised exp is off by
// an ulp in a few frequencies: at position 2048 of 1024 values the two tables differ by 3e-5 at most). Plain C++, built
// at load in place of a learned table (the checkpoint stores none).
#pragma once
#include <cmath>
#include <cstddef>
#include <vector>

namespace pagedllm {

inline std::vector<float> sinusoidal_position_table(int rows, int dim, int padding_row) {
  const int half = dim / 2;
  std::vector<float> table(static_cast<size_t>(rows) * dim, 0.f);
  const float step = static_cast<float>(-std::log(10000.0) / (half - 1));
  std::vector<float> freq(half);
  for (int i = 0; i < half; ++i) freq[i] = static_cast<float>(std::exp(static_cast<double>(static_cast<float>(i) * step)));
  for (int r = 0; r < rows; ++r) {
    if (r == padding_row) continue;
    float* row = table.data() + static_cast<size_t>(r) * dim;
    for (int i = 0; i < half; ++i) {
      const double angle = static_cast<float>(r) * freq[i];
      row[i] = static_cast<float>(std::sin(angle));
      row[half + i] = static_cast<float>(std::cos(angle));
    }
  }
  return table;
}

}  // namespace pagedllm
