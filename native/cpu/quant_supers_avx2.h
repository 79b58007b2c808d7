// AVX2 unpacking of ggml's 256-value super-blocks (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) into unsigned int8 codes with
// integer sub-block scales, and the fp32 step of each super-block (add_super): shared by the dot-product kernel
// (quant_linear_avx2.cpp) and the packed-panel kernel (quant_packed_supers.h), so both see the same codes and sum
// each output in the same order. Include only from *_avx2.cpp files.
#pragma once
#include <immintrin.h>

#include <cstring>

#include "quant_blocks_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

// Per format: the block type, and whether it subtracts a min per sub-block (x = d * s * q - dmin * m: Q2_K, Q4_K,
// Q5_K) or centres its codes with an offset (x = d * s * (q - offset): Q3_K 4, Q6_K 32).
template <WeightFormat F> struct SuperTraits;
template <> struct SuperTraits<WeightFormat::Q2_K> { using Block = BlockQ2_K; static constexpr bool kMin = true; };
template <> struct SuperTraits<WeightFormat::Q3_K> { using Block = BlockQ3_K; static constexpr bool kMin = false; };
template <> struct SuperTraits<WeightFormat::Q4_K> { using Block = BlockQ4_K; static constexpr bool kMin = true; };
template <> struct SuperTraits<WeightFormat::Q5_K> { using Block = BlockQ5_K; static constexpr bool kMin = true; };
template <> struct SuperTraits<WeightFormat::Q6_K> { using Block = BlockQ6_K; static constexpr bool kMin = false; };

// The per-super-block part of an unpacked super-block: per 16 values, the integer coefficient of the activation sum
// (the sub-block's min, scaled by dmin; or offset times its scale, scaled by d: the codes are kept unsigned and
// their offset taken back through the sums).
struct SuperScales {
  __m256i offsets16;
  float d;
  float dmin;
};

// Q4_K's / Q5_K's eight 6-bit scales (bytes 0..7 of out) and mins (bytes 8..15); see q4_k_scale_min.
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

// Q3_K's sixteen 6-bit scales (bytes 0..15, not yet less 32): low 4 bits of i in byte i % 8 (nibble i / 8), high 2
// at byte 8 + i % 4 >> 2 (i / 4); four lanes at a time from three 4-byte loads.
inline __m128i q3_k_scales(const uint8_t* packed) {
  uint32_t w[3];
  for (int i = 0; i < 3; ++i) std::memcpy(&w[i], packed + 4 * i, 4);
  const uint32_t low4 = 0x0F0F0F0F, low2 = 0x03030303;
  auto lane = [&](uint32_t low, int high_shift) { return static_cast<int>((low & low4) | (((w[2] >> high_shift) & low2) << 4)); };
  return _mm_set_epi32(lane(w[1] >> 4, 6), lane(w[0] >> 4, 4), lane(w[1], 2), lane(w[0], 0));
}

// The scales16 of 32-value block 4 half + k in the formats with 16 sub-blocks of 16 (Q2_K, Q3_K, Q6_K), from their
// 16 int16 scales: sub-block 8 half + 2k in the low 128-bit lane (values 0..15), 8 half + 2k + 1 in the high one.
inline __m256i sixteen_scale(__m256i all_scales, int half, int k) {
  const __m256i scales = half ? _mm256_permute2x128_si256(all_scales, all_scales, 0x11) : _mm256_permute2x128_si256(all_scales, all_scales, 0x00);
  const int16_t low = static_cast<int16_t>(((4 * k + 1) << 8) | 4 * k), high = static_cast<int16_t>(((4 * k + 3) << 8) | (4 * k + 2));
  return _mm256_shuffle_epi8(scales, _mm256_set_m128i(_mm_set1_epi16(high), _mm_set1_epi16(low)));
}

// The 2 bits of 32-value block 4 half + k in the Q2_K / Q3_K / Q6_K order: (packed >> 2k) & 3.
inline __m256i two_bits(__m256i packed, int k) { return _mm256_and_si256(_mm256_srli_epi16(packed, 2 * k), _mm256_set1_epi8(3)); }

// Unpacks one super-block: calls fn(k, codes, scales16) for its 32-value blocks k = 0..7 in order (unsigned codes;
// scales16 = each int16 product lane's integer sub-block scale) and returns the SuperScales.
template <WeightFormat F, typename Fn>
inline SuperScales unpack_super(const uint8_t* bytes, Fn&& fn) {
  const auto& block = *reinterpret_cast<const typename SuperTraits<F>::Block*>(bytes);
  if constexpr (F == WeightFormat::Q4_K || F == WeightFormat::Q5_K) {
    const __m128i scales_mins = q4_k_scales_mins(block.scales);
    const __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(scales_mins, 8));
    // The 8 scales as int16 in both 128-bit lanes; block j's is spread to every lane by one byte shuffle.
    const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_mins));
    auto scale_of = [&](int j) { return _mm256_shuffle_epi8(scales, _mm256_set1_epi16(static_cast<int16_t>(((2 * j + 1) << 8) | 2 * j))); };
    // Q5_K's fifth bit of block j's element l: bit j of qh[l], moved to bit 4.
    [[maybe_unused]] __m256i qh = _mm256_setzero_si256();
    if constexpr (F == WeightFormat::Q5_K) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qh));
    auto high_bit = [&](int j) {
      if constexpr (F == WeightFormat::Q5_K) return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, j), _mm256_set1_epi8(1)), 4);
      else return _mm256_setzero_si256();
    };
    #pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs + 32 * c));
      fn(2 * c, _mm256_or_si256(low_nibbles(packed), high_bit(2 * c)), scale_of(2 * c));
      fn(2 * c + 1, _mm256_or_si256(high_nibbles(packed), high_bit(2 * c + 1)), scale_of(2 * c + 1));
    }
    const __m256i offsets16 = _mm256_set_m128i(_mm_unpackhi_epi16(mins, mins), _mm_unpacklo_epi16(mins, mins));
    return SuperScales{offsets16, half_to_float(block.d), half_to_float(block.dmin)};
  } else if constexpr (F == WeightFormat::Q6_K) {
    const __m256i three = _mm256_set1_epi8(3);
    const __m256i all_scales = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block.scales)));
    #pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.ql + 64 * half));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.ql + 64 * half + 32));
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qh + 32 * half));
      // Quarter k: low bits from ql0 / ql1 (k even / odd), low or high nibble (k < 2 / k >= 2), high bits at qh >> 2k.
      auto quarter = [&](int k, __m256i low, __m256i high) {
        const __m256i codes = _mm256_or_si256(low, _mm256_slli_epi16(_mm256_and_si256(high, three), 4));
        fn(4 * half + k, codes, sixteen_scale(all_scales, half, k));
      };
      quarter(0, low_nibbles(ql0), qh);
      quarter(1, low_nibbles(ql1), _mm256_srli_epi16(qh, 2));
      quarter(2, high_nibbles(ql0), _mm256_srli_epi16(qh, 4));
      quarter(3, high_nibbles(ql1), _mm256_srli_epi16(qh, 6));
    }
    return SuperScales{_mm256_slli_epi16(all_scales, 5), half_to_float(block.d), 0.f};
  } else if constexpr (F == WeightFormat::Q3_K) {
    const __m256i all_scales = _mm256_cvtepi8_epi16(_mm_sub_epi8(q3_k_scales(block.scales), _mm_set1_epi8(32)));
    const __m256i hmask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.hmask));
    #pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs + 32 * half));
      #pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m256i high = _mm256_and_si256(_mm256_srli_epi16(hmask, 4 * half + k), _mm256_set1_epi8(1));
        fn(4 * half + k, _mm256_or_si256(two_bits(qs, k), _mm256_slli_epi16(high, 2)), sixteen_scale(all_scales, half, k));
      }
    }
    return SuperScales{_mm256_slli_epi16(all_scales, 2), half_to_float(block.d), 0.f};
  } else {
    static_assert(F == WeightFormat::Q2_K, "K-quant formats only");
    const __m128i packed_scales = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block.scales));
    const __m256i all_scales = _mm256_cvtepu8_epi16(_mm_and_si128(packed_scales, _mm_set1_epi8(0x0F)));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed_scales, 4), _mm_set1_epi8(0x0F)));
    #pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs + 32 * half));
      #pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) fn(4 * half + k, two_bits(qs, k), sixteen_scale(all_scales, half, k));
    }
    return SuperScales{mins, half_to_float(block.d), half_to_float(block.dmin)};
  }
}

// The integer products of one 32-value K-quant block (unsigned codes) with 32 activation codes, in 8 int32 lanes.
inline __m256i block_products(__m256i codes, __m256i scales16, __m256i acts) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(codes, acts), scales16);
}
inline __m256i load_codes(const int8_t* acts) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acts)); }

// acc + one super-block's term of an output: products = the sum of its 8 block_products (exact in int32, so any order
// gives the same lanes), then one fp32 multiply-add per lane (two for the formats with mins). The one place this
// arithmetic is written, for the decode and the packed kernels alike.
template <WeightFormat F>
inline __m256 add_super(__m256 acc, __m256i products, const SuperScales& w, const ActivationSuperBlock& a) {
  const __m256i offsets = _mm256_madd_epi16(w.offsets16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.sums)));
  if constexpr (!SuperTraits<F>::kMin) {
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
