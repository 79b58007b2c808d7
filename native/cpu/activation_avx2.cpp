// AVX2 gated activations: silu(gate) * up and gelu_tanh(gate) * up with a vector exp (scalar expf made this op a
// visible share of a batched step).
#include <immintrin.h>

#include "kernels_avx2.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {
// gate / (1 + e^(-scale(gate))) * up over rows; `exponent_of` gives the exp's argument for 8 gates. The tail goes
// through the same exp on a broadcast, so every element rounds alike wherever it sits in the row.
template <typename ExponentOf>
inline void sigmoid_gated_rows(const float* gate_up, float* out, int row_begin, int row_end, int dim, ExponentOf exponent_of) {
  const __m256 one = _mm256_set1_ps(1.f);
  for (int r = row_begin; r < row_end; ++r) {
    const float* gate = gate_up + static_cast<size_t>(r) * 2 * dim;
    const float* up = gate + dim;
    float* out_row = out + static_cast<size_t>(r) * dim;
    int i = 0;
    for (; i + 8 <= dim; i += 8) {
      const __m256 g = _mm256_loadu_ps(gate + i);
      const __m256 denominator = _mm256_add_ps(one, exp256(exponent_of(g)));
      _mm256_storeu_ps(out_row + i, _mm256_mul_ps(_mm256_div_ps(g, denominator), _mm256_loadu_ps(up + i)));
    }
    for (; i < dim; ++i) {
      const __m256 g = _mm256_set1_ps(gate[i]);
      const __m256 denominator = _mm256_add_ps(one, exp256(exponent_of(g)));
      out_row[i] = _mm256_mul_ps(_mm256_div_ps(g, denominator), _mm256_set1_ps(up[i]))[0];
    }
  }
}
}  // namespace

void silu_and_mul_rows(const float* gate_up, float* out, int row_begin, int row_end, int dim) {
  const __m256 sign = _mm256_set1_ps(-0.f);
  sigmoid_gated_rows(gate_up, out, row_begin, row_end, dim, [&](__m256 g) { return _mm256_xor_ps(g, sign); });
}

// gelu_tanh(x) = x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)), as in activation.cpp.
void gelu_tanh_and_mul_rows(const float* gate_up, float* out, int row_begin, int row_end, int dim) {
  const __m256 minus_scale = _mm256_set1_ps(-2.f * 0.7978845608028654f);
  const __m256 cubic = _mm256_set1_ps(0.044715f);
  sigmoid_gated_rows(gate_up, out, row_begin, row_end, dim, [&](__m256 g) {
    const __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(cubic, g), _mm256_mul_ps(g, g), g);
    return _mm256_mul_ps(minus_scale, inner);
  });
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
