// SwiGLU activation: silu(gate) * up over rows laid out [gate | up] (the fused gate/up projection's output).
#include <cmath>

#include "kernels_avx2.h"
#include "row_parallel.h"

namespace pagedllm {
namespace cpu {

void silu_and_mul(ThreadPool& pool, const float* gate_up, float* out, int num_rows, int dim) {
  const bool vector = avx2_enabled();
  for_row_ranges(pool, num_rows, static_cast<size_t>(dim) * 8, [&](int begin, int end) {
    if (vector) {
      avx2::silu_and_mul_rows(gate_up, out, begin, end, dim);
      return;
    }
    for (int r = begin; r < end; ++r) {
      const float* gate = gate_up + static_cast<size_t>(r) * 2 * dim;
      const float* up = gate + dim;
      float* out_row = out + static_cast<size_t>(r) * dim;
      for (int i = 0; i < dim; ++i) out_row[i] = gate[i] / (1.f + std::exp(-gate[i])) * up[i];
    }
  });
}

}  // namespace cpu
}  // namespace pagedllm
