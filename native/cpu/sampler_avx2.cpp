// AVX2 temperature weights for the sampler: one vector exp per 8 logits, the sum kept in double lanes.
#include <immintrin.h>

#include "sampler.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

double temperature_weights(const float* row, int vocab, float max, float inverse_temperature, float* weights) {
  const __m256 shift = _mm256_set1_ps(max), scale = _mm256_set1_ps(inverse_temperature);
  __m256d sum_low = _mm256_setzero_pd(), sum_high = _mm256_setzero_pd();
  int i = 0;
  for (; i + 8 <= vocab; i += 8) {
    const __m256 w = exp256(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + i), shift), scale));
    _mm256_storeu_ps(weights + i, w);
    sum_low = _mm256_add_pd(sum_low, _mm256_cvtps_pd(_mm256_castps256_ps128(w)));
    sum_high = _mm256_add_pd(sum_high, _mm256_cvtps_pd(_mm256_extractf128_ps(w, 1)));
  }
  double lanes[4];
  _mm256_storeu_pd(lanes, _mm256_add_pd(sum_low, sum_high));
  double total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < vocab; ++i) {
    const float x = (row[i] - max) * inverse_temperature;
    float lane[8] = {x, 0, 0, 0, 0, 0, 0, 0};
    float e[8];
    _mm256_storeu_ps(e, exp256(_mm256_loadu_ps(lane)));
    weights[i] = e[0];
    total += e[0];
  }
  return total;
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
