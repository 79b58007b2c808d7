// AVX2 bitmask application: each byte of the mask becomes an 8-lane select between the logits and -inf.
#include <immintrin.h>

#include "token_mask.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

void apply_token_mask(const float* row, const int32_t* mask, int vocab, float* out) {
  const __m256 neg_inf = _mm256_set1_ps(-__builtin_inff());
  const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(mask);  // little endian: byte k holds tokens 8k..8k+7
  int i = 0;
  for (; i + 8 <= vocab; i += 8) {
    const __m256i bits = _mm256_and_si256(_mm256_set1_epi32(bytes[i >> 3]), lane_bit);
    const __m256 keep = _mm256_castsi256_ps(_mm256_cmpeq_epi32(bits, lane_bit));
    _mm256_storeu_ps(out + i, _mm256_blendv_ps(neg_inf, _mm256_loadu_ps(row + i), keep));
  }
  for (; i < vocab; ++i) out[i] = (static_cast<uint32_t>(mask[i >> 5]) >> (i & 31)) & 1u ? row[i] : -__builtin_inff();
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
