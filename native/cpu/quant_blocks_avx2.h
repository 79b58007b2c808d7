// AVX2 unpacking of ggml's 32-value weight blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL) into int8 codes plus their
// scales, and the fp32 arithmetic of every output (tile_group): the dot-product kernel (quant_linear_avx2.cpp) runs it
// as is; the packed-panel kernel (quant_packed_blocks.h) unpacks the same codes and scales and repeats its fp32 steps
// in a column-interleaved layout, in the same order (the 256-value formats: quant_supers_avx2.h). Include only from
// *_avx2.cpp files.
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

// ---- one fp32 step per 32-value block, 8 blocks per vector ----

// Per format: the block type; whether its codes are signed (Q8_0, IQ4_NL: their sign goes to the activations, as
// maddubs needs one unsigned operand) or unsigned with an offset 2^offset_shift taken back through the activation sums
// (Q4_0: 8, Q5_0: 16), or unsigned with a min m added per block (Q4_1, Q5_1: x = d * q + m).
template <WeightFormat F> struct Block32Traits;
template <> struct Block32Traits<WeightFormat::Q8_0> { using Block = BlockQ8_0; static constexpr bool kSigned = true, kMin = false; static constexpr int kOffsetShift = 0; };
template <> struct Block32Traits<WeightFormat::Q4_0> { using Block = BlockQ4_0; static constexpr bool kSigned = false, kMin = false; static constexpr int kOffsetShift = 3; };
template <> struct Block32Traits<WeightFormat::Q5_0> { using Block = BlockQ5_0; static constexpr bool kSigned = false, kMin = false; static constexpr int kOffsetShift = 4; };
template <> struct Block32Traits<WeightFormat::Q4_1> { using Block = BlockQ4_1; static constexpr bool kSigned = false, kMin = true; static constexpr int kOffsetShift = 0; };
template <> struct Block32Traits<WeightFormat::Q5_1> { using Block = BlockQ5_1; static constexpr bool kSigned = false, kMin = true; static constexpr int kOffsetShift = 0; };
template <> struct Block32Traits<WeightFormat::IQ4_NL> { using Block = BlockIQ4_NL; static constexpr bool kSigned = true, kMin = false; static constexpr int kOffsetShift = 0; };

template <WeightFormat F>
using Block32 = typename Block32Traits<F>::Block;

// The fifth bits of a Q5_0 / Q5_1 block as 0x10 in byte i where bit i of qh is set.
inline __m256i fifth_bits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  // Byte i takes qh's byte i / 8 (each 128-bit lane holds all four), then keeps its bit i % 8.
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
                                             _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                              2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

// The codes of block b of a stored row: Q8_0 and IQ4_NL signed (IQ4_NL's levels looked up by nibble); the others
// unsigned, 0..15 or 0..31.
template <WeightFormat F>
inline __m256i block_codes(const uint8_t* row, int b) {
  const Block32<F>& block = reinterpret_cast<const Block32<F>*>(row)[b];
  if constexpr (F == WeightFormat::Q8_0) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.qs));
  } else {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block.qs));
    const __m256i nibbles = low_nibbles(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed));
    if constexpr (F == WeightFormat::IQ4_NL) {
      return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Values))), nibbles);
    } else if constexpr (F == WeightFormat::Q5_0 || F == WeightFormat::Q5_1) {
      return _mm256_or_si256(nibbles, fifth_bits(block.qh));
    } else {
      return nibbles;
    }
  }
}

// The maddubs-ready (unsigned) weight operand: signed codes lend their sign to the activations.
template <WeightFormat F>
inline __m256i block_magnitudes(__m256i codes) {
  return Block32Traits<F>::kSigned ? _mm256_sign_epi8(codes, codes) : codes;
}

// The exact int32 products of one block with 32 activation codes, in 8 lanes.
template <WeightFormat F>
inline __m256i block_dot(__m256i magnitudes, __m256i codes, __m256i acts) {
  const __m256i signed_acts = Block32Traits<F>::kSigned ? _mm256_sign_epi8(acts, codes) : acts;
  return _mm256_madd_epi16(_mm256_maddubs_epi16(magnitudes, signed_acts), ones16());
}

// The fp16 fields of blocks b..b+7 (d, or Q4_1 / Q5_1's m) as 8 floats.
template <WeightFormat F, typename Field>
inline __m256 halves8(const uint8_t* row, int b, Field field) {
  auto h = [&](int l) { return static_cast<short>(field(reinterpret_cast<const Block32<F>*>(row)[b + l])); };
  return _mm256_cvtph_ps(_mm_setr_epi16(h(0), h(1), h(2), h(3), h(4), h(5), h(6), h(7)));
}

// A weight row as tile_group reads it: codes(b), magnitudes(b) and the fp32 scales (and Q4_1 / Q5_1's mins) of blocks
// b..b+7 (stored blocks for decode, an unpacked panel for prefill).
template <WeightFormat F>
struct StoredRow {
  const uint8_t* row;
  __m256i codes(int b) const { return block_codes<F>(row, b); }
  __m256i magnitudes(int b) const { return block_magnitudes<F>(codes(b)); }
  __m256 scales8(int b) const { return halves8<F>(row, b, [](const Block32<F>& block) { return block.d; }); }
  __m256 mins8(int b) const {
    if constexpr (Block32Traits<F>::kMin) return halves8<F>(row, b, [](const Block32<F>& block) { return block.m; });
    else return _mm256_setzero_ps();
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
// multiply-add per block (Q4_0's / Q5_0's offset taken back in int32 first; Q4_1's / Q5_1's min a second one). So every output is 8 fp32 chains (blocks l,
// l + 8, ... in K order) and a horizontal_sum, however it is tiled. The packed kernel (quant_packed_blocks.h) keeps
// these chains one per vector instead of one per lane: change the two together (test/quant-formats.test.ts compares
// them bit for bit).
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
      if constexpr (Block32Traits<F>::kOffsetShift > 0) {
        dots = _mm256_sub_epi32(dots, _mm256_slli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.sums[i] + b)), Block32Traits<F>::kOffsetShift));
      }
      acc[i * NR + j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dots), _mm256_mul_ps(w_scales[j], a_scales), acc[i * NR + j]);
      if constexpr (Block32Traits<F>::kMin) {
        const __m256 sums = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.sums[i] + b)));
        acc[i * NR + j] = _mm256_fmadd_ps(w[j].mins8(b), _mm256_mul_ps(a_scales, sums), acc[i * NR + j]);
      }
    }
  }
}

}  // namespace

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
