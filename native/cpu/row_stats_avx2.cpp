// AVX2 row max/argmax and sum of exp(x - max): a max pass, then one pass that sums a vector exp (in double) and
// finds the first index holding the max. A 32000-logit row stays in L2 between the two passes.
#include <immintrin.h>

#include "kernels_avx2.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {
// The last `count` (< 8) floats of a row in the low lanes, -inf in the others (they win no max and add exp 0).
inline __m256 load_tail(const float* x, int count) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i in_row = _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lane);
  return _mm256_blendv_ps(_mm256_set1_ps(-__builtin_inff()), _mm256_maskload_ps(x, in_row), _mm256_castsi256_ps(in_row));
}
}  // namespace

RowExpSum row_exp_sum(const float* row, int vocab) {
  RowExpSum result{-__builtin_inff(), 0, 0.0, false};
  const __m256 neg_inf = _mm256_set1_ps(-__builtin_inff());
  // Pass 1: the max. max_ps returns its second operand when either is NaN, so NaN logits never enter the max.
  __m256 m0 = neg_inf, m1 = neg_inf, m2 = neg_inf, m3 = neg_inf;
  __m256 nan_lanes = _mm256_setzero_ps();
  int i = 0;
  for (; i + 32 <= vocab; i += 32) {
    const __m256 x0 = _mm256_loadu_ps(row + i), x1 = _mm256_loadu_ps(row + i + 8);
    const __m256 x2 = _mm256_loadu_ps(row + i + 16), x3 = _mm256_loadu_ps(row + i + 24);
    m0 = _mm256_max_ps(x0, m0);
    m1 = _mm256_max_ps(x1, m1);
    m2 = _mm256_max_ps(x2, m2);
    m3 = _mm256_max_ps(x3, m3);
    nan_lanes = _mm256_or_ps(nan_lanes, _mm256_or_ps(_mm256_cmp_ps(x0, x1, _CMP_UNORD_Q), _mm256_cmp_ps(x2, x3, _CMP_UNORD_Q)));
  }
  for (; i < vocab; i += 8) {
    const __m256 x = vocab - i >= 8 ? _mm256_loadu_ps(row + i) : load_tail(row + i, vocab - i);
    m0 = _mm256_max_ps(x, m0);
    nan_lanes = _mm256_or_ps(nan_lanes, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  result.max = horizontal_max(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
  result.has_nan = _mm256_movemask_ps(nan_lanes) != 0;
  if (!(result.max > -__builtin_inff() && result.max < __builtin_inff())) {
    // No finite max (all -inf, or a +inf): no sum to take, only the first index holding the max.
    for (int j = 0; j < vocab; ++j) {
      if (row[j] == result.max) {
        result.argmax = j;
        break;
      }
    }
    return result;
  }
  // Pass 2: sum of exp(x - max) in double (float lanes would lose ~1e-5 over 150k terms) and the first max.
  const __m256 max = _mm256_set1_ps(result.max);
  __m256d sum_low = _mm256_setzero_pd(), sum_high = _mm256_setzero_pd();
  int argmax = -1;
  const auto add_exps = [&](__m256 x, int at) {
    const __m256 e = exp256(_mm256_sub_ps(x, max));
    sum_low = _mm256_add_pd(sum_low, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    sum_high = _mm256_add_pd(sum_high, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    if (argmax < 0) {
      const int equal = _mm256_movemask_ps(_mm256_cmp_ps(x, max, _CMP_EQ_OQ));
      if (equal) argmax = at + __builtin_ctz(equal);
    }
  };
  for (i = 0; i + 8 <= vocab; i += 8) add_exps(_mm256_loadu_ps(row + i), i);
  if (i < vocab) add_exps(load_tail(row + i, vocab - i), i);
  double lanes[4];
  _mm256_storeu_pd(lanes, _mm256_add_pd(sum_low, sum_high));
  result.shifted_exp_sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  result.argmax = argmax;
  return result;
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
