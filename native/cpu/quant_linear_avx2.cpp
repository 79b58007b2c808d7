// AVX2 integer dot products of quantized weight rows with 8-bit activation blocks: each block is unpacked to int8
// codes, multiplied with maddubs (signed codes lend their sign to the activations) and summed to 8 int32 lanes, then
// scaled in fp32 per 32-value block (Q8_0, Q4_0) or, K-quants, per 256-value super-block after an int32 sum over its
// integer sub-block scales. Up to four activation rows share one unpacked weight block; every output keeps its own
// accumulators in the same order, so a row's result does not depend on how many rows run with it.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "quant_blocks_avx2.h"
#include "quant_linear.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

constexpr int kTileRows = 4;

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

// The same for Q4_K / Q6_K against 256-value activation blocks: per super-block an int32 sum per row, then
// add_super; one accumulator per row (one fp32 step per 256 values leaves no latency to hide).
template <WeightFormat F, int MR>
void dot_rows_k(const uint8_t* w_row, int num_supers, const ActivationSuperBlock* const* act_rows, float* out) {
  __m256 acc[MR];
  for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
  constexpr size_t super_bytes = F == WeightFormat::Q4_K ? sizeof(BlockQ4_K) : sizeof(BlockQ6_K);
  for (int s = 0; s < num_supers; ++s) {
    __m256i products[MR];
    for (int i = 0; i < MR; ++i) products[i] = _mm256_setzero_si256();
    const SuperScales w = unpack_super<F>(w_row + s * super_bytes, [&](int k, __m256i codes, __m256i scales16) {
      for (int i = 0; i < MR; ++i) products[i] = _mm256_add_epi32(products[i], block_products(codes, scales16, load_codes(act_rows[i][s].q + 32 * k)));
    });
    for (int i = 0; i < MR; ++i) acc[i] = add_super<F>(acc[i], products[i], w, act_rows[i][s]);
  }
  for (int i = 0; i < MR; ++i) out[i] = horizontal_sum(acc[i]);
}

// Calls dot(MR, out) with MR = rows as a compile-time constant (1..kTileRows).
template <typename Dot>
inline void with_rows(int rows, Dot&& dot) {
  switch (rows) {
    case 1: dot(std::integral_constant<int, 1>{}); break;
    case 2: dot(std::integral_constant<int, 2>{}); break;
    case 3: dot(std::integral_constant<int, 3>{}); break;
    default: dot(std::integral_constant<int, 4>{}); break;
  }
}

template <WeightFormat F>
void block(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin, int col_end,
           const float* bias, float* y, int y_stride) {
  constexpr bool kSuper = F == WeightFormat::Q4_K || F == WeightFormat::Q6_K;
  const int num_blocks = w.cols / (kSuper ? kSuperBlock : kQuantBlock);
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int rows = std::min(kTileRows, row_end - m);
    const ActivationBlock* act_rows[kTileRows];
    const ActivationSuperBlock* super_rows[kTileRows];
    for (int i = 0; i < rows; ++i) {
      if constexpr (kSuper) super_rows[i] = acts.supers + static_cast<size_t>(m + i) * num_blocks;
      else act_rows[i] = acts.blocks + static_cast<size_t>(m + i) * num_blocks;
    }
    for (int n = col_begin; n < col_end; ++n) {
      const auto* w_row = static_cast<const uint8_t*>(w.row_ptr(n));
      float out[kTileRows];
      with_rows(rows, [&](auto mr) {
        if constexpr (kSuper) dot_rows_k<F, decltype(mr)::value>(w_row, num_blocks, super_rows, out);
        else dot_rows<F, decltype(mr)::value>(w_row, num_blocks, act_rows, out);
      });
      for (int i = 0; i < rows; ++i) y[static_cast<size_t>(m + i) * y_stride + n] = out[i] + (bias ? bias[n] : 0.f);
    }
  }
}

}  // namespace

void quant_linear_block(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
                        int col_end, const float* bias, float* y, int y_stride) {
  switch (w.format) {
    case WeightFormat::Q8_0: block<WeightFormat::Q8_0>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_0: block<WeightFormat::Q4_0>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_K: block<WeightFormat::Q4_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q6_K: block<WeightFormat::Q6_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    default: break;
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
