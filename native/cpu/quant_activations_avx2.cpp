// AVX2 rounding of activation rows to 8-bit blocks, the same values as quantize_activations in quant_formats.cpp
// (same d, same 1 / d, x * (1 / d) rounded half to even), eight lanes at a time.
#include <immintrin.h>

#include "quant_linear.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

// q[0..n) = round(x * (1 / d)) for n a multiple of 32, d = max|x| / 127; returns d. |x * (1 / d)| rounds to at most
// 127, so the saturating packs never clip.
float round_to_int8(const float* x, int8_t* q, int n) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 amax = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 8) amax = _mm256_max_ps(amax, _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask));
  const float d = horizontal_max(amax) / 127.f;
  const __m256 inverse = _mm256_set1_ps(d > 0 ? 1.f / d : 0.f);
  // packs interleaves 128-bit lanes; this puts the 32 codes back in order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int i = 0; i < n; i += 32) {
    __m256i v[4];
    for (int c = 0; c < 4; ++c) v[c] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * c), inverse));
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), _mm256_permutevar8x32_epi32(packed, order));
  }
  return d;
}

// The sum of 16 codes.
int sum16(const int8_t* q) {
  const __m128i pairs = _mm_maddubs_epi16(_mm_set1_epi8(1), _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
  __m128i sums = _mm_madd_epi16(pairs, _mm_set1_epi16(1));
  sums = _mm_add_epi32(sums, _mm_shuffle_epi32(sums, _MM_SHUFFLE(1, 0, 3, 2)));
  sums = _mm_add_epi32(sums, _mm_shuffle_epi32(sums, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(sums);
}

}  // namespace

void quantize_activations(const float* x, ActivationBlock* out, int n) {
  for (int b = 0; b < n / kQuantBlock; ++b) {
    out[b].d = round_to_int8(x + kQuantBlock * b, out[b].q, kQuantBlock);
    out[b].sum = sum16(out[b].q) + sum16(out[b].q + 16);
  }
}

void quantize_activations(const float* x, ActivationSuperBlock* out, int n) {
  for (int b = 0; b < n / kSuperBlock; ++b) {
    out[b].d = round_to_int8(x + kSuperBlock * b, out[b].q, kSuperBlock);
    for (int g = 0; g < 16; ++g) out[b].sums[g] = static_cast<int16_t>(sum16(out[b].q + 16 * g));
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
