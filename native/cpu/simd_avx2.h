// Inline AVX2 helpers shared by the *_avx2.cpp kernels (include only from files built for x86-64-v3).
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "pagedllm/backend.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {
// Grow-only per-thread scratch memory. Internal linkage on purpose: std::vector's out-of-line members would be
// weak symbols that the linker may share with the portable files, running AVX2 code on the fallback path.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(data_); }

  float* floats(size_t count) {
    if (count > capacity_) {
      std::free(data_);
      data_ = static_cast<float*>(std::malloc(count * sizeof(float)));
      if (!data_) throw std::bad_alloc();
      capacity_ = count;
    }
    return data_;
  }

  float* filled(size_t count, float value) {
    float* out = floats(count);
    for (size_t i = 0; i < count; ++i) out[i] = value;
    return out;
  }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};
}  // namespace

// 8x8 transpose of 32-bit lanes: rows[i] = row i in, column i out.
inline void transpose8(__m256 rows[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(rows[2 * i], rows[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(rows[2 * i], rows[2 * i + 1]);
  }
  for (int half = 0; half < 2; ++half) {
    const int b = 4 * half;
    s[b + 0] = _mm256_shuffle_ps(t[b + 0], t[b + 2], _MM_SHUFFLE(1, 0, 1, 0));
    s[b + 1] = _mm256_shuffle_ps(t[b + 0], t[b + 2], _MM_SHUFFLE(3, 2, 3, 2));
    s[b + 2] = _mm256_shuffle_ps(t[b + 1], t[b + 3], _MM_SHUFFLE(1, 0, 1, 0));
    s[b + 3] = _mm256_shuffle_ps(t[b + 1], t[b + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    rows[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
    rows[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
  }
}

inline float horizontal_sum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

inline float horizontal_max(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// e^x for 8 lanes, within ~2 ulp of expf over the float range: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in
// two parts so r keeps its low bits), e^r by a degree-6 Taylor/minimax polynomial, 2^n built in the exponent field.
// Inputs below -87.3 flush to 0 (softmax feeds large negatives), above 88.7 saturate to +inf.
inline __m256 exp256(__m256 x) {
  const __m256 max_input = _mm256_set1_ps(88.7228f);
  const __m256 min_input = _mm256_set1_ps(-87.3365f);
  const __m256 too_small = _mm256_cmp_ps(x, min_input, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, min_input), max_input);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  // n is in [-126, 128]; build 2^n in two halves so n = 128 does not overflow the exponent field.
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i half_n = _mm256_srai_epi32(ni, 1);
  const __m256 scale_a = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half_n, _mm256_set1_epi32(127)), 23));
  const __m256 scale_b = _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half_n), _mm256_set1_epi32(127)), 23));
  return _mm256_andnot_ps(too_small, _mm256_mul_ps(_mm256_mul_ps(p, scale_a), scale_b));
}

namespace {
// Eight weights of a row from column k widened to fp32: f16 through F16C, bf16 by shifting into the high half.
template <WeightFormat F>
inline __m256 load_weights8(const void* row, int k) {
  if constexpr (F == WeightFormat::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(row) + k);
  } else {
    __m128i halves = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + k));
    if constexpr (F == WeightFormat::F16) {
      return _mm256_cvtph_ps(halves);
    } else {
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(halves), 16));
    }
  }
}

// One weight, widened the same way (for K tails).
template <WeightFormat F>
inline float load_weight1(const void* row, int k) {
  if constexpr (F == WeightFormat::F32) {
    return static_cast<const float*>(row)[k];
  } else if constexpr (F == WeightFormat::F16) {
    return _cvtsh_ss(static_cast<const uint16_t*>(row)[k]);
  } else {
    return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(static_cast<int>(static_cast<const uint16_t*>(row)[k]) << 16)));
  }
}
}  // namespace

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
