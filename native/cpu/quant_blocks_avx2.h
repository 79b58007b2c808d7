// AVX2 unpacking of ggml weight blocks into 32 int8 codes plus their scales, in row order: the one decoder shared by
// the dot-product kernels (quant_linear_avx2.cpp) and the packed-panel kernel (quant_packed_avx2.cpp), so both see
// the same codes and the same fp32 scales. Include only from *_avx2.cpp files.
#pragma once
#include <immintrin.h>

#include <type_traits>

#include "quant_formats.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// One unpacked 32-value weight block: codes (unsigned 0..15 for Q4_0 / Q4_K, else signed), per-16 integer scales
// (Q6_K; else ones), the fp32 scale and the fp32 coefficient subtracted per unit of activation sum (Q4_K's min,
// Q4_0's offset 8; 0 elsewhere).
struct WeightBlock {
  __m256i codes;
  __m256i scales16;
  float scale;
  float min;
};

inline __m256i ones16() { return _mm256_set1_epi16(1); }
inline __m256i low_nibbles(__m256i v) { return _mm256_and_si256(v, _mm256_set1_epi8(0x0F)); }
inline __m256i high_nibbles(__m256i v) { return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F)); }

using Even = std::integral_constant<int, 0>;
using Odd = std::integral_constant<int, 1>;

// Calls fn(block_index, WeightBlock, parity) for the 32-value blocks of a row in order; the parity (block_index & 1)
// is a compile-time constant so that callers can keep one accumulator per parity in registers.
template <WeightFormat F, typename Fn>
inline void for_each_block(const uint8_t* row, int num_blocks, Fn&& fn) {
  if constexpr (F == WeightFormat::Q8_0 || F == WeightFormat::Q4_0) {
    using Block = std::conditional_t<F == WeightFormat::Q8_0, BlockQ8_0, BlockQ4_0>;
    const auto* blocks = reinterpret_cast<const Block*>(row);
    auto unpack = [&](int b) {
      if constexpr (F == WeightFormat::Q8_0) {
        return WeightBlock{_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks[b].qs)), ones16(), half_to_float(blocks[b].d), 0.f};
      } else {
        // Codes kept unsigned (0..15); the offset 8 becomes a "min" of 8 d against the activation sum.
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks[b].qs));
        const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
        const float d = half_to_float(blocks[b].d);
        return WeightBlock{low_nibbles(both), ones16(), d, 8.f * d};
      }
    };
    int b = 0;
    for (; b + 2 <= num_blocks; b += 2) {
      fn(b, unpack(b), Even{});
      fn(b + 1, unpack(b + 1), Odd{});
    }
    if (b < num_blocks) fn(b, unpack(b), Even{});
  } else if constexpr (F == WeightFormat::Q4_K) {
    const auto* blocks = reinterpret_cast<const BlockQ4_K*>(row);
    for (int s = 0; s < num_blocks / 8; ++s) {
      const BlockQ4_K& block = blocks[s];
      const float d = half_to_float(block.d), dmin = half_to_float(block.dmin);
      int scales[8], mins[8];
      for (int j = 0; j < 8; ++j) q4_k_scale_min(block.scales, j, &scales[j], &mins[j]);
      for (int c = 0; c < 4; ++c) {
        const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs + 32 * c));
        fn(8 * s + 2 * c, WeightBlock{low_nibbles(packed), ones16(), d * scales[2 * c], dmin * mins[2 * c]}, Even{});
        fn(8 * s + 2 * c + 1, WeightBlock{high_nibbles(packed), ones16(), d * scales[2 * c + 1], dmin * mins[2 * c + 1]}, Odd{});
      }
    }
  } else {
    static_assert(F == WeightFormat::Q6_K, "quantized formats only");
    const auto* blocks = reinterpret_cast<const BlockQ6_K*>(row);
    const __m256i three = _mm256_set1_epi8(3), bias = _mm256_set1_epi8(32);
    for (int s = 0; s < num_blocks / 8; ++s) {
      const BlockQ6_K& block = blocks[s];
      const float d = half_to_float(block.d);
      for (int half = 0; half < 2; ++half) {
        const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.ql + 64 * half));
        const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.ql + 64 * half + 32));
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qh + 32 * half));
        const int8_t* scales = block.scales + 8 * half;
        // Quarter k: low bits from ql0 / ql1 (k even / odd), low or high nibble (k < 2 / k >= 2), high bits at qh >> 2k.
        auto quarter = [&](int k, __m256i low, __m256i high) {
          const __m256i codes = _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(_mm256_and_si256(high, three), 4)), bias);
          const __m256i scales16 = _mm256_set_m128i(_mm_set1_epi16(scales[2 * k + 1]), _mm_set1_epi16(scales[2 * k]));
          return WeightBlock{codes, scales16, d, 0.f};
        };
        const int b = 8 * s + 4 * half;
        fn(b, quarter(0, low_nibbles(ql0), qh), Even{});
        fn(b + 1, quarter(1, low_nibbles(ql1), _mm256_srli_epi16(qh, 2)), Odd{});
        fn(b + 2, quarter(2, high_nibbles(ql0), _mm256_srli_epi16(qh, 4)), Even{});
        fn(b + 3, quarter(3, high_nibbles(ql1), _mm256_srli_epi16(qh, 6)), Odd{});
      }
    }
  }
}

}  // namespace

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
