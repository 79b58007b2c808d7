// AVX2/FMA LayerNorm with bias: the row's sum and then its squared deviations accumulated in double (4 lanes x 2
// chains, then the tail), the same sums for a row whatever else is in the batch; cpu::layer_norm dispatches here.
#include <immintrin.h>

#include <cmath>

#include "layernorm_family.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {
inline double horizontal_sum_pd(__m256d v) {
  const __m128d pair = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)));
}

inline __m256d low_half(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
inline __m256d high_half(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

void normalize_row(const float* row, const float* weight, const float* bias, float* out, int dim, float eps) {
  __m256d low = _mm256_setzero_pd(), high = _mm256_setzero_pd();
  int i = 0;
  for (; i + 8 <= dim; i += 8) {
    const __m256 v = _mm256_loadu_ps(row + i);
    low = _mm256_add_pd(low, low_half(v));
    high = _mm256_add_pd(high, high_half(v));
  }
  double sum = horizontal_sum_pd(_mm256_add_pd(low, high));
  for (int j = i; j < dim; ++j) sum += row[j];
  const double mean = sum / dim;
  const __m256d mean_v = _mm256_set1_pd(mean);
  low = _mm256_setzero_pd();
  high = _mm256_setzero_pd();
  for (i = 0; i + 8 <= dim; i += 8) {
    const __m256 v = _mm256_loadu_ps(row + i);
    const __m256d a = _mm256_sub_pd(low_half(v), mean_v), b = _mm256_sub_pd(high_half(v), mean_v);
    low = _mm256_fmadd_pd(a, a, low);
    high = _mm256_fmadd_pd(b, b, high);
  }
  double squares = horizontal_sum_pd(_mm256_add_pd(low, high));
  for (int j = i; j < dim; ++j) squares += (row[j] - mean) * (row[j] - mean);
  const float inverse_std = static_cast<float>(1.0 / std::sqrt(squares / dim + eps));
  const float mean_f = static_cast<float>(mean);
  const __m256 m = _mm256_set1_ps(mean_f), s = _mm256_set1_ps(inverse_std);
  for (i = 0; i + 8 <= dim; i += 8) {
    const __m256 centred = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + i), m), s);
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(centred, _mm256_loadu_ps(weight + i), _mm256_loadu_ps(bias + i)));
  }
  for (; i < dim; ++i) out[i] = (row[i] - mean_f) * inverse_std * weight[i] + bias[i];
}
}  // namespace

void layer_norm_rows(const float* x, const float* weight, const float* bias, float* out, int row_begin, int row_end, int dim, float eps) {
  for (int r = row_begin; r < row_end; ++r) normalize_row(x + static_cast<size_t>(r) * dim, weight, bias, out + static_cast<size_t>(r) * dim, dim, eps);
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
