// AVX2 SwiGLU: silu(gate) * up with a vector exp (scalar expf made this op a visible share of a batched step).
#include <immintrin.h>

#include "kernels_avx2.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

void silu_and_mul_rows(const float* gate_up, float* out, int row_begin, int row_end, int dim) {
  const __m256 one = _mm256_set1_ps(1.f);
  const __m256 sign = _mm256_set1_ps(-0.f);
  for (int r = row_begin; r < row_end; ++r) {
    const float* gate = gate_up + static_cast<size_t>(r) * 2 * dim;
    const float* up = gate + dim;
    float* out_row = out + static_cast<size_t>(r) * dim;
    int i = 0;
    for (; i + 8 <= dim; i += 8) {
      const __m256 g = _mm256_loadu_ps(gate + i);
      const __m256 denominator = _mm256_add_ps(one, exp256(_mm256_xor_ps(g, sign)));
      _mm256_storeu_ps(out_row + i, _mm256_mul_ps(_mm256_div_ps(g, denominator), _mm256_loadu_ps(up + i)));
    }
    for (; i < dim; ++i) {
      // The tail goes through the same exp as the vector lanes, so every element rounds alike.
      const float e = exp256(_mm256_set1_ps(-gate[i]))[0];
      out_row[i] = gate[i] / (1.f + e) * up[i];
    }
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
