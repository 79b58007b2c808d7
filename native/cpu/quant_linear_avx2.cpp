// AVX2 integer dot products of quantized weight rows, read as stored, with 8-bit activation blocks (the kernel for
// few rows: decode). 32-value formats: per group of 8 blocks, each block's exact int32 dot product scaled in fp32
// (tile_group); K-quants: each 256-value super-block summed in int32 over its integer sub-block scales and scaled in
// fp32 once (add_super). Up to four activation rows share each unpacked weight block, and every output is summed
// in the same order however many rows run with it.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "quant_blocks_avx2.h"
#include "quant_linear.h"
#include "quant_supers_avx2.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

constexpr int kTileRows = 4;

// out[i] = w_row . activation row i for MR rows, over whole groups of 8 blocks (tile_group). A row whose blocks do
// not fill its last group is first copied into row_copy, zero-padded (its codes and scales then add exact zeros).
template <WeightFormat F, int MR>
void dot_rows(const uint8_t* w_row, int num_blocks, const ActivationRows& acts, uint8_t* row_copy, float* out) {
  const int padded = (num_blocks + 7) / 8 * 8;
  if (padded != num_blocks) {
    std::memset(row_copy, 0, padded * sizeof(Block32<F>));
    std::memcpy(row_copy, w_row, num_blocks * sizeof(Block32<F>));
    w_row = row_copy;
  }
  __m256 acc[MR];
  for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
  const StoredRow<F> row{w_row};
  for (int b = 0; b < padded; b += 8) tile_group<F, MR, 1>(&row, b, acts, acc);
  for (int i = 0; i < MR; ++i) out[i] = horizontal_sum(acc[i]);
}

// out[i] = w_row . act_rows[i] for MR activation rows against 256-value activation blocks: per super-block an int32
// sum per row, then add_super; one accumulator per row (one fp32 step per 256 values leaves no latency to hide).
template <WeightFormat F, int MR>
void dot_rows_k(const uint8_t* w_row, int num_supers, const ActivationSuperBlock* const* act_rows, float* out) {
  __m256 acc[MR];
  for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
  constexpr size_t super_bytes = sizeof(typename SuperTraits<F>::Block);
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

// Calls dot(MR) with MR = rows as a compile-time constant (1..kTileRows).
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
void block32(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
             int col_end, const float* bias, float* y, int y_stride) {
  const int num_blocks = w.cols / kQuantBlock;
  static thread_local Scratch copy_scratch;
  auto* row_copy = reinterpret_cast<uint8_t*>(copy_scratch.floats(static_cast<size_t>(num_blocks + 8) * sizeof(Block32<F>) / 4 + 1));
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int rows = std::min(kTileRows, row_end - m);
    const ActivationRows act_rows = activation_rows(acts, m, rows, num_blocks);
    for (int n = col_begin; n < col_end; ++n) {
      const auto* w_row = static_cast<const uint8_t*>(w.row_ptr(n));
      float out[kTileRows];
      with_rows(rows, [&](auto mr) { dot_rows<F, decltype(mr)::value>(w_row, num_blocks, act_rows, row_copy, out); });
      for (int i = 0; i < rows; ++i) y[static_cast<size_t>(m + i) * y_stride + n] = out[i] + (bias ? bias[n] : 0.f);
    }
  }
}

template <WeightFormat F>
void block256(const ActivationSuperBlock* acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
              int col_end, const float* bias, float* y, int y_stride) {
  const int num_supers = w.cols / kSuperBlock;
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int rows = std::min(kTileRows, row_end - m);
    const ActivationSuperBlock* act_rows[kTileRows];
    for (int i = 0; i < rows; ++i) act_rows[i] = acts + static_cast<size_t>(m + i) * num_supers;
    for (int n = col_begin; n < col_end; ++n) {
      const auto* w_row = static_cast<const uint8_t*>(w.row_ptr(n));
      float out[kTileRows];
      with_rows(rows, [&](auto mr) { dot_rows_k<F, decltype(mr)::value>(w_row, num_supers, act_rows, out); });
      for (int i = 0; i < rows; ++i) y[static_cast<size_t>(m + i) * y_stride + n] = out[i] + (bias ? bias[n] : 0.f);
    }
  }
}

}  // namespace

void quant_linear_block(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w,
                        int col_begin, int col_end, const float* bias, float* y, int y_stride) {
  switch (w.format) {
    case WeightFormat::Q8_0: block32<WeightFormat::Q8_0>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_0: block32<WeightFormat::Q4_0>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_1: block32<WeightFormat::Q4_1>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q5_0: block32<WeightFormat::Q5_0>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q5_1: block32<WeightFormat::Q5_1>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::IQ4_NL: block32<WeightFormat::IQ4_NL>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q2_K: block256<WeightFormat::Q2_K>(acts.supers, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q3_K: block256<WeightFormat::Q3_K>(acts.supers, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_K: block256<WeightFormat::Q4_K>(acts.supers, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q5_K: block256<WeightFormat::Q5_K>(acts.supers, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q6_K: block256<WeightFormat::Q6_K>(acts.supers, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    default: break;
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
