// AVX2 unpacking of ggml weight blocks into int8 codes plus their scales, and the fp32 arithmetic of every output
// (tile_group, add_super): shared by the dot-product kernel (quant_linear_avx2.cpp) and the packed-panel kernels
// (quant_packed_avx2.cpp, quant_packed_k_avx2.cpp), so all see the same codes and scales and sum each output in the
// same order. Include only from *_avx2.cpp files.
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

inline __m256i ones16() { return _mm256_set1_epi16(1); }
inline __m256i low_nibbles(__m256i v) { return _mm256_and_si256(v, _mm256_set1_epi8(0x0F)); }
inline __m256i high_nibbles(__m256i v) { return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F)); }

// ---- Q8_0 / Q4_0: one fp32 step per 32-value block, 8 blocks per vector ----

template <WeightFormat F>
using Block32 = std::conditional_t<F == WeightFormat::Q8_0, BlockQ8_0, BlockQ4_0>;

// The codes of block b of a stored row: Q8_0 signed; Q4_0 unsigned 0..15 (its offset of 8 is taken back through the
// activation sum, see tile_group).
template <WeightFormat F>
inline __m256i block_codes(const uint8_t* row, int b) {
  const Block32<F>& block = reinterpret_cast<const Block32<F>*>(row)[b];
  if constexpr (F == WeightFormat::Q8_0) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs));
  } else {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block.qs));
    return low_nibbles(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed));
  }
}

// The maddubs-ready (unsigned) weight operand: Q8_0's codes lend their sign to the activations.
template <WeightFormat F>
inline __m256i block_magnitudes(__m256i codes) {
  return F == WeightFormat::Q8_0 ? _mm256_sign_epi8(codes, codes) : codes;
}

// The exact int32 products of one block with 32 activation codes, in 8 lanes.
template <WeightFormat F>
inline __m256i block_dot(__m256i magnitudes, __m256i codes, __m256i acts) {
  const __m256i signed_acts = F == WeightFormat::Q8_0 ? _mm256_sign_epi8(acts, codes) : acts;
  return _mm256_madd_epi16(_mm256_maddubs_epi16(magnitudes, signed_acts), ones16());
}

// A weight row as tile_group reads it: codes(b), magnitudes(b) and the fp32 scales of blocks b..b+7 (stored blocks for
// decode, an unpacked panel for prefill).
template <WeightFormat F>
struct StoredRow {
  const uint8_t* row;
  __m256i codes(int b) const { return block_codes<F>(row, b); }
  __m256i magnitudes(int b) const { return block_magnitudes<F>(codes(b)); }
  __m256 scales8(int b) const {
    auto d = [&](int l) { return static_cast<short>(reinterpret_cast<const Block32<F>*>(row)[b + l].d); };
    return _mm256_cvtph_ps(_mm_setr_epi16(d(0), d(1), d(2), d(3), d(4), d(5), d(6), d(7)));
  }
};

// MR activation rows as tile_group reads them: the codes of each block, and (padded to whole groups of 8 blocks with
// zeros) the blocks' scales and integer sums in order.
struct ActivationRows {
  const ActivationBlock* blocks[4];
  const float* scales[4];
  const int32_t* sums[4];
};

// Rows m..m+rows-1 (rows <= 4) of the step's quantized activations, as one tile reads them.
inline ActivationRows activation_rows(const QuantizedActivations& acts, int m, int rows, int num_blocks) {
  ActivationRows act_rows{};
  for (int i = 0; i < rows; ++i) {
    act_rows.blocks[i] = acts.blocks + static_cast<size_t>(m + i) * num_blocks;
    act_rows.scales[i] = acts.block_scales + static_cast<size_t>(m + i) * acts.padded_blocks;
    act_rows.sums[i] = acts.block_sums + static_cast<size_t>(m + i) * acts.padded_blocks;
  }
  return act_rows;
}

// acc[i * NR + j] + the terms of blocks b..b+7 of weight row w[j] for activation row i (MR x NR outputs), lane l
// for block b + l: each block's 8 x int32 products reduced to its exact sum by a horizontal-add tree, then one fp32
// multiply-add per block (Q4_0's offset 8 taken back in int32 first). So every output is 8 fp32 chains (blocks l,
// l + 8, ... in K order) and a horizontal_sum, however it is tiled: the one place this arithmetic is written, for the
// decode and packed kernels alike.
template <WeightFormat F, int MR, int NR, typename Row>
inline void tile_group(const Row* w, int b, const ActivationRows& a, __m256* acc) {
  __m256i quads[MR][NR][2];
  #pragma GCC unroll 2
  for (int half = 0; half < 2; ++half) {
    __m256i pairs[MR][NR][2];
    #pragma GCC unroll 2
    for (int p = 0; p < 2; ++p) {
      const int l = 4 * half + 2 * p;
      __m256i c0[NR], c1[NR], m0[NR], m1[NR];
      #pragma GCC unroll 2
      for (int j = 0; j < NR; ++j) {
        c0[j] = w[j].codes(b + l), c1[j] = w[j].codes(b + l + 1);
        m0[j] = w[j].magnitudes(b + l), m1[j] = w[j].magnitudes(b + l + 1);
      }
      #pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) {
        const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.blocks[i][b + l].q));
        const __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.blocks[i][b + l + 1].q));
        #pragma GCC unroll 2
        for (int j = 0; j < NR; ++j) pairs[i][j][p] = _mm256_hadd_epi32(block_dot<F>(m0[j], c0[j], a0), block_dot<F>(m1[j], c1[j], a1));
      }
    }
    // Lanes: the sums of blocks 4 half + 0..3 over their low 128 bits, then over their high 128 bits.
    #pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
      #pragma GCC unroll 2
      for (int j = 0; j < NR; ++j) quads[i][j][half] = _mm256_hadd_epi32(pairs[i][j][0], pairs[i][j][1]);
  }
  __m256 w_scales[NR];
  #pragma GCC unroll 2
  for (int j = 0; j < NR; ++j) w_scales[j] = w[j].scales8(b);
  #pragma GCC unroll 4
  for (int i = 0; i < MR; ++i) {
    const __m256 a_scales = _mm256_loadu_ps(a.scales[i] + b);
    #pragma GCC unroll 2
    for (int j = 0; j < NR; ++j) {
      __m256i dots = _mm256_add_epi32(_mm256_permute2x128_si256(quads[i][j][0], quads[i][j][1], 0x20),
                                      _mm256_permute2x128_si256(quads[i][j][0], quads[i][j][1], 0x31));
      if constexpr (F == WeightFormat::Q4_0) {
        dots = _mm256_sub_epi32(dots, _mm256_slli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.sums[i] + b)), 3));
      }
      acc[i * NR + j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dots), _mm256_mul_ps(w_scales[j], a_scales), acc[i * NR + j]);
    }
  }
}

// ---- Q4_K / Q6_K: one fp32 step per 256-value super-block ----

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
