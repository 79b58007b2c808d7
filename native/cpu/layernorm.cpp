// RMSNorm (Llama): plain, fused with the residual add, and per attention head (Qwen3's q/k norm), accumulating the mean
// square in double (portable path; norm_rope_avx2.cpp holds the vector one).
#include <cmath>

#include "kernels_avx2.h"
#include "row_parallel.h"

namespace pagedllm {
namespace cpu {

namespace {
inline float inverse_rms(const float* row, int dim, float eps) {
  double sum_squares = 0;
  for (int i = 0; i < dim; ++i) sum_squares += static_cast<double>(row[i]) * row[i];
  return static_cast<float>(1.0 / std::sqrt(sum_squares / dim + eps));
}
}  // namespace

void rms_norm(ThreadPool& pool, const float* x, const float* weight, float* out, int num_rows, int dim, float eps) {
  const bool vector = avx2_enabled();
  for_row_ranges(pool, num_rows, dim, [&](int begin, int end) {
    if (vector) return avx2::rms_norm_rows(x, weight, out, begin, end, dim, eps);
    for (int r = begin; r < end; ++r) {
      const float* in_row = x + static_cast<size_t>(r) * dim;
      float* out_row = out + static_cast<size_t>(r) * dim;
      float scale = inverse_rms(in_row, dim, eps);
      for (int i = 0; i < dim; ++i) out_row[i] = in_row[i] * scale * weight[i];
    }
  });
}

void fused_add_rms_norm(ThreadPool& pool, float* x, float* residual, const float* weight, int num_rows, int dim,
                        float eps) {
  const bool vector = avx2_enabled();
  for_row_ranges(pool, num_rows, dim, [&](int begin, int end) {
    if (vector) return avx2::fused_add_rms_norm_rows(x, residual, weight, begin, end, dim, eps);
    for (int r = begin; r < end; ++r) {
      float* x_row = x + static_cast<size_t>(r) * dim;
      float* res_row = residual + static_cast<size_t>(r) * dim;
      double sum_squares = 0;
      for (int i = 0; i < dim; ++i) {
        float sum = res_row[i] + x_row[i];
        res_row[i] = sum;
        sum_squares += static_cast<double>(sum) * sum;
      }
      float scale = static_cast<float>(1.0 / std::sqrt(sum_squares / dim + eps));
      for (int i = 0; i < dim; ++i) x_row[i] = res_row[i] * scale * weight[i];
    }
  });
}

void head_rms_norm(ThreadPool& pool, float* x, int num_rows, int row_stride, int num_heads, int head_dim, const float* weight,
                   float eps) {
  const bool vector = avx2_enabled();
  for_row_ranges(pool, num_rows, static_cast<size_t>(num_heads) * head_dim, [&](int begin, int end) {
    if (vector) return avx2::head_rms_norm_rows(x, begin, end, row_stride, num_heads, head_dim, weight, eps);
    for (int r = begin; r < end; ++r) {
      for (int h = 0; h < num_heads; ++h) {
        float* head = x + static_cast<size_t>(r) * row_stride + static_cast<size_t>(h) * head_dim;
        const float scale = inverse_rms(head, head_dim, eps);
        for (int i = 0; i < head_dim; ++i) head[i] = head[i] * scale * weight[i];
      }
    }
  });
}

}  // namespace cpu
}  // namespace pagedllm
