// AVX2 integer dot products of quantized weight rows with 8-bit activation blocks: each 32-value block is
// unpacked to int8 codes, multiplied with maddubs (signed codes lend their sign to the activations), summed to 8 int32 lanes,
// scaled in fp32. Up to four activation rows share one unpacked weight block; every output keeps its own
// accumulators in the same order, so a row's result does not depend on how many rows run with it.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "quant_linear.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

constexpr int kTileRows = 4;

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

// out[i] = w_row . act_rows[i] for MR activation rows. Two accumulators (even / odd blocks) per row hide FMA latency.
template <WeightFormat F, int MR>
void dot_rows(const uint8_t* w_row, int num_blocks, const ActivationBlock* const* act_rows, float* out) {
  __m256 acc[MR][2];
  float min_terms[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps(), min_terms[i][0] = min_terms[i][1] = 0.f;
  // maddubs multiplies unsigned by signed bytes: 4-bit codes go in as they are, signed codes lend their sign to the
  // activations.
  constexpr bool kUnsignedCodes = F == WeightFormat::Q4_0 || F == WeightFormat::Q4_K;
  for_each_block<F>(w_row, num_blocks, [&](int b, const WeightBlock& w, auto parity) {
    constexpr int p = decltype(parity)::value;
    const __m256i magnitudes = kUnsignedCodes ? w.codes : _mm256_sign_epi8(w.codes, w.codes);
    for (int i = 0; i < MR; ++i) {
      const ActivationBlock& a = act_rows[i][b];
      const __m256i acts = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q));
      const __m256i signed_acts = kUnsignedCodes ? acts : _mm256_sign_epi8(acts, w.codes);
      const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(magnitudes, signed_acts), w.scales16);
      const float scale = w.scale * a.d;
      acc[i][p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(scale), acc[i][p]);
      if constexpr (kUnsignedCodes) {
        const float min_term = w.min * a.d_sum;
        min_terms[i][p] += min_term;
      }
    }
  });
  for (int i = 0; i < MR; ++i) out[i] = horizontal_sum(_mm256_add_ps(acc[i][0], acc[i][1])) - (min_terms[i][0] + min_terms[i][1]);
}

template <WeightFormat F>
void block(const ActivationBlock* acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin, int col_end,
           const float* bias, float* y) {
  const int num_blocks = w.cols / kQuantBlock;
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int rows = std::min(kTileRows, row_end - m);
    const ActivationBlock* act_rows[kTileRows];
    for (int i = 0; i < rows; ++i) act_rows[i] = acts + static_cast<size_t>(m + i) * num_blocks;
    for (int n = col_begin; n < col_end; ++n) {
      const auto* w_row = static_cast<const uint8_t*>(w.row_ptr(n));
      float out[kTileRows];
      switch (rows) {
        case 1: dot_rows<F, 1>(w_row, num_blocks, act_rows, out); break;
        case 2: dot_rows<F, 2>(w_row, num_blocks, act_rows, out); break;
        case 3: dot_rows<F, 3>(w_row, num_blocks, act_rows, out); break;
        default: dot_rows<F, 4>(w_row, num_blocks, act_rows, out); break;
      }
      for (int i = 0; i < rows; ++i) y[static_cast<size_t>(m + i) * w.rows + n] = out[i] + (bias ? bias[n] : 0.f);
    }
  }
}

}  // namespace

void quant_linear_block(const ActivationBlock* acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
                        int col_end, const float* bias, float* y) {
  switch (w.format) {
    case WeightFormat::Q8_0: block<WeightFormat::Q8_0>(acts, row_begin, row_end, w, col_begin, col_end, bias, y); break;
    case WeightFormat::Q4_0: block<WeightFormat::Q4_0>(acts, row_begin, row_end, w, col_begin, col_end, bias, y); break;
    case WeightFormat::Q4_K: block<WeightFormat::Q4_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y); break;
    case WeightFormat::Q6_K: block<WeightFormat::Q6_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y); break;
    default: break;
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
