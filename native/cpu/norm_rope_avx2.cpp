// AVX2/FMA RMSNorm (mean square accumulated in double, 4 lanes x 2 chains; of whole rows or of each head) and rotary
// embedding (8 frequencies per step), for the rows a pool task owns; cpu::rms_norm, fused_add_rms_norm, head_rms_norm
// and rotary dispatch here.
#include <immintrin.h>

#include <cmath>

#include "kernels_avx2.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

// Sum of squares of 8 floats added into two double accumulators (low and high 4 lanes).
inline void add_squares(__m256 v, __m256d& low, __m256d& high) {
  const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
  low = _mm256_fmadd_pd(a, a, low);
  high = _mm256_fmadd_pd(b, b, high);
}

inline double horizontal_sum_pd(__m256d v) {
  const __m128d pair = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)));
}

// out = row * scale * weight.
inline void scale_row(const float* row, const float* weight, float scale, float* out, int dim) {
  const __m256 s = _mm256_set1_ps(scale);
  int i = 0;
  for (; i + 8 <= dim; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(row + i), s), _mm256_loadu_ps(weight + i)));
  }
  for (; i < dim; ++i) out[i] = row[i] * scale * weight[i];
}

// Mean square of a row whose squares are in the accumulators plus the tail [from, dim).
inline float inverse_rms(__m256d low, __m256d high, const float* row, int from, int dim, float eps) {
  double sum = horizontal_sum_pd(_mm256_add_pd(low, high));
  for (int i = from; i < dim; ++i) sum += static_cast<double>(row[i]) * row[i];
  return static_cast<float>(1.0 / std::sqrt(sum / dim + eps));
}

// out = row / rms(row) * weight; out may be row.
inline void normalize_row(const float* row, const float* weight, float* out, int dim, float eps) {
  __m256d low = _mm256_setzero_pd(), high = _mm256_setzero_pd();
  int i = 0;
  for (; i + 8 <= dim; i += 8) add_squares(_mm256_loadu_ps(row + i), low, high);
  scale_row(row, weight, inverse_rms(low, high, row, i, dim, eps), out, dim);
}

}  // namespace

void rms_norm_rows(const float* x, const float* weight, float* out, int row_begin, int row_end, int dim, float eps) {
  for (int r = row_begin; r < row_end; ++r) {
    normalize_row(x + static_cast<size_t>(r) * dim, weight, out + static_cast<size_t>(r) * dim, dim, eps);
  }
}

void head_rms_norm_rows(float* x, int row_begin, int row_end, int row_stride, int num_heads, int head_dim, const float* weight,
                        float eps) {
  for (int r = row_begin; r < row_end; ++r) {
    for (int h = 0; h < num_heads; ++h) {
      float* head = x + static_cast<size_t>(r) * row_stride + static_cast<size_t>(h) * head_dim;
      normalize_row(head, weight, head, head_dim, eps);
    }
  }
}

void fused_add_rms_norm_rows(float* x, float* residual, const float* weight, int row_begin, int row_end, int dim, float eps) {
  for (int r = row_begin; r < row_end; ++r) {
    float* x_row = x + static_cast<size_t>(r) * dim;
    float* res_row = residual + static_cast<size_t>(r) * dim;
    __m256d low = _mm256_setzero_pd(), high = _mm256_setzero_pd();
    int i = 0;
    for (; i + 8 <= dim; i += 8) {
      const __m256 sum = _mm256_add_ps(_mm256_loadu_ps(res_row + i), _mm256_loadu_ps(x_row + i));
      _mm256_storeu_ps(res_row + i, sum);
      add_squares(sum, low, high);
    }
    for (int k = i; k < dim; ++k) res_row[k] += x_row[k];
    scale_row(res_row, weight, inverse_rms(low, high, res_row, i, dim, eps), x_row, dim);
  }
}

void rotary_rows(float* x, int row_begin, int row_end, int row_stride, int num_heads, int head_dim, int head_stride, const float* cos_sin) {
  const int half = head_dim / 2;
  for (int r = row_begin; r < row_end; ++r) {
    const float* cos_row = cos_sin + static_cast<size_t>(r) * head_dim;
    const float* sin_row = cos_row + half;
    float* row = x + static_cast<size_t>(r) * row_stride;
    for (int h = 0; h < num_heads; ++h) {
      float* first = row + static_cast<size_t>(h) * head_stride;
      float* second = first + half;
      int i = 0;
      for (; i + 8 <= half; i += 8) {
        const __m256 a = _mm256_loadu_ps(first + i), b = _mm256_loadu_ps(second + i);
        const __m256 c = _mm256_loadu_ps(cos_row + i), s = _mm256_loadu_ps(sin_row + i);
        _mm256_storeu_ps(first + i, _mm256_fmsub_ps(a, c, _mm256_mul_ps(b, s)));
        _mm256_storeu_ps(second + i, _mm256_fmadd_ps(b, c, _mm256_mul_ps(a, s)));
      }
      for (; i < half; ++i) {
        const float a = first[i], b = second[i];
        first[i] = a * cos_row[i] - b * sin_row[i];
        second[i] = b * cos_row[i] + a * sin_row[i];
      }
    }
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
