// AVX2 integer dot products of quantized weight rows, read as stored, with 8-bit activation blocks (the kernel for
// few rows: decode). Q8_0 / Q4_0: 8 weight rows at a time, each block's exact int32 dot products reduced to one sum
// per output and scaled in fp32 (tile8); Q4_K / Q6_K: per output, each 256-value super-block summed in int32 over its
// integer sub-block scales and scaled in fp32 once (add_super). Up to four activation rows share each unpacked
// weight block, and every output is summed in the same order however many rows run with it.
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

// tile8's Columns over 8 stored weight rows.
template <WeightFormat F>
struct StoredColumns {
  const uint8_t* rows[8];
  __m256i codes(int j, int b) const { return block_codes<F>(rows[j], b); }
  __m256i magnitudes(int j, int b) const { return block_magnitudes<F>(codes(j, b)); }
  __m256 scales(int b) const { return block_scales8<F>(rows, b); }
};

// out[i * 8 + j] = w_row[j] . act_rows[i] for MR activation rows.
template <WeightFormat F, int MR>
void dot_rows(const StoredColumns<F>& columns, int num_blocks, const ActivationBlock* const* act_rows, float* out) {
  __m256 acc[MR];
  for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
  tile8<F, MR>(columns, num_blocks, act_rows, acc);
  for (int i = 0; i < MR; ++i) _mm256_storeu_ps(out + 8 * i, acc[i]);
}

// out[i] = w_row . act_rows[i] for MR activation rows against 256-value activation blocks: per super-block an int32
// sum per row, then add_super; one accumulator per row (one fp32 step per 256 values leaves no latency to hide).
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
void block32(const ActivationBlock* acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin, int col_end,
             const float* bias, float* y, int y_stride) {
  const int num_blocks = w.cols / kQuantBlock;
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int rows = std::min(kTileRows, row_end - m);
    const ActivationBlock* act_rows[kTileRows];
    for (int i = 0; i < rows; ++i) act_rows[i] = acts + static_cast<size_t>(m + i) * num_blocks;
    for (int n = col_begin; n < col_end; n += 8) {
      const int count = std::min(8, col_end - n);
      StoredColumns<F> columns;
      // A last group of fewer than 8 columns repeats its last one; those lanes are dropped.
      for (int j = 0; j < 8; ++j) columns.rows[j] = static_cast<const uint8_t*>(w.row_ptr(n + std::min(j, count - 1)));
      float out[kTileRows * 8];
      with_rows(rows, [&](auto mr) { dot_rows<F, decltype(mr)::value>(columns, num_blocks, act_rows, out); });
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < count; ++j) y[static_cast<size_t>(m + i) * y_stride + n + j] = out[8 * i + j] + (bias ? bias[n + j] : 0.f);
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
    case WeightFormat::Q8_0: block32<WeightFormat::Q8_0>(acts.blocks, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_0: block32<WeightFormat::Q4_0>(acts.blocks, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_K: block256<WeightFormat::Q4_K>(acts.supers, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q6_K: block256<WeightFormat::Q6_K>(acts.supers, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    default: break;
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
