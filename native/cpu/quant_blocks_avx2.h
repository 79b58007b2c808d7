// AVX2 unpacking of ggml weight blocks into int8 codes plus their scales, in row order: the one decoder shared by
// the dot-product kernels (quant_linear_avx2.cpp) and the packed-panel kernel (quant_packed_avx2.cpp), so both see
// the same codes and scales, and (K-quants) the one place a super-block's integer sum becomes fp32. Include only
// from *_avx2.cpp files.
#pragma once
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "quant_formats.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// One unpacked Q8_0 / Q4_0 block: codes (unsigned 0..15 for Q4_0, else signed), per-16 integer scales (ones), the
// fp32 scale and the fp32 coefficient subtracted per unit of activation sum (Q4_0's offset 8; 0 for Q8_0).
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
  } else {
    static_assert(F == WeightFormat::Q8_0 || F == WeightFormat::Q4_0, "32-value block formats only (see unpack_super)");
  }
}

// The per-super-block part of an unpacked Q4_K / Q6_K super-block: per 16 values, the integer coefficient of the
// activation sum (Q4_K: its sub-block's min, scaled by dmin; Q6_K: 32 times its scale, scaled by d: the codes are
// kept unsigned, 0..63, and their offset of 32 taken back through the sums).
struct SuperScales {
  __m256i offsets16;
  float d;
  float dmin;
};

// Q4_K's eight 6-bit scales (bytes 0..7 of out) and mins (bytes 8..15); see q4_k_scale_min.
inline __m128i q4_k_scales_mins(const uint8_t* packed) {
  // Three 4-byte loads straight from the block (one 12-byte copy went through the stack, stalling on forwarding).
  uint32_t w[3];
  for (int i = 0; i < 3; ++i) std::memcpy(&w[i], packed + 4 * i, 4);
  const uint32_t low6 = 0x3F3F3F3F, low4 = 0x0F0F0F0F, low2 = 0x03030303;
  const uint32_t scales_hi = (w[2] & low4) | (((w[0] >> 6) & low2) << 4);
  const uint32_t mins_hi = ((w[2] >> 4) & low4) | (((w[1] >> 6) & low2) << 4);
  return _mm_set_epi32(static_cast<int>(mins_hi), static_cast<int>(w[1] & low6), static_cast<int>(scales_hi),
                       static_cast<int>(w[0] & low6));
}

// Unpacks one Q4_K / Q6_K super-block: calls fn(k, codes, scales16) for its 32-value blocks k = 0..7 in order
// (unsigned codes; scales16 = each int16 product lane's integer sub-block scale) and returns the SuperScales.
template <WeightFormat F, typename Fn>
inline SuperScales unpack_super(const uint8_t* bytes, Fn&& fn) {
  if constexpr (F == WeightFormat::Q4_K) {
    const auto& block = *reinterpret_cast<const BlockQ4_K*>(bytes);
    const __m128i scales_mins = q4_k_scales_mins(block.scales);
    const __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(scales_mins, 8));
    // The 8 scales as int16 in both 128-bit lanes; block j's is spread to every lane by one byte shuffle.
    const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_mins));
    auto scale_of = [&](int j) { return _mm256_shuffle_epi8(scales, _mm256_set1_epi16(static_cast<int16_t>(((2 * j + 1) << 8) | 2 * j))); };
    #pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs + 32 * c));
      fn(2 * c, low_nibbles(packed), scale_of(2 * c));
      fn(2 * c + 1, high_nibbles(packed), scale_of(2 * c + 1));
    }
    const __m256i offsets16 = _mm256_set_m128i(_mm_unpackhi_epi16(mins, mins), _mm_unpacklo_epi16(mins, mins));
    return SuperScales{offsets16, half_to_float(block.d), half_to_float(block.dmin)};
  } else {
    static_assert(F == WeightFormat::Q6_K, "K-quant formats only");
    const auto& block = *reinterpret_cast<const BlockQ6_K*>(bytes);
    const __m256i three = _mm256_set1_epi8(3);
    const __m256i all_scales = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block.scales)));
    #pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.ql + 64 * half));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.ql + 64 * half + 32));
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qh + 32 * half));
      // This half's 8 scales as int16 in both 128-bit lanes; quarter k takes scale 2k in its low lane (values 0..15)
      // and 2k + 1 in its high lane, by one byte shuffle.
      const __m256i scales = half ? _mm256_permute2x128_si256(all_scales, all_scales, 0x11) : _mm256_permute2x128_si256(all_scales, all_scales, 0x00);
      auto scale_of = [&](int k) {
        const int16_t low = static_cast<int16_t>(((4 * k + 1) << 8) | 4 * k), high = static_cast<int16_t>(((4 * k + 3) << 8) | (4 * k + 2));
        return _mm256_shuffle_epi8(scales, _mm256_set_m128i(_mm_set1_epi16(high), _mm_set1_epi16(low)));
      };
      // Quarter k: low bits from ql0 / ql1 (k even / odd), low or high nibble (k < 2 / k >= 2), high bits at qh >> 2k.
      auto quarter = [&](int k, __m256i low, __m256i high) {
        const __m256i codes = _mm256_or_si256(low, _mm256_slli_epi16(_mm256_and_si256(high, three), 4));
        fn(4 * half + k, codes, scale_of(k));
      };
      quarter(0, low_nibbles(ql0), qh);
      quarter(1, low_nibbles(ql1), _mm256_srli_epi16(qh, 2));
      quarter(2, high_nibbles(ql0), _mm256_srli_epi16(qh, 4));
      quarter(3, high_nibbles(ql1), _mm256_srli_epi16(qh, 6));
    }
    return SuperScales{_mm256_slli_epi16(all_scales, 5), half_to_float(block.d), 0.f};
  }
}

// The integer products of one 32-value K-quant block (unsigned codes) with 32 activation codes, in 8 int32 lanes.
inline __m256i block_products(__m256i codes, __m256i scales16, __m256i acts) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(codes, acts), scales16);
}
inline __m256i load_codes(const int8_t* acts) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acts)); }

// acc + one super-block's term of an output: products = the sum of its 8 block_products (exact in int32, so any order
// gives the same lanes), then one fp32 multiply-add per lane (two for Q4_K's mins). The one place this arithmetic
// is written, for the decode and the packed kernels alike.
template <WeightFormat F>
inline __m256 add_super(__m256 acc, __m256i products, const SuperScales& w, const ActivationSuperBlock& a) {
  const __m256i offsets = _mm256_madd_epi16(w.offsets16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.sums)));
  if constexpr (F == WeightFormat::Q6_K) {
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(products, offsets)), _mm256_set1_ps(w.d * a.d), acc);
  } else {
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(products), _mm256_set1_ps(w.d * a.d), acc);
    return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(offsets), _mm256_set1_ps(w.dmin * a.d), acc);
  }
}

}  // namespace

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
