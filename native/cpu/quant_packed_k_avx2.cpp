// Packed-panel AVX2 kernel for K-quant (Q2_K..Q6_K) linear layers with many rows: a column chunk of W is unpacked once into a
// panel of super-blocks (codes, per-lane integer scales, SuperScales), then an MR x NR register tile walks all rows
// over it, summing each output's super-block in int32 and adding it with add_super, as the dot-product kernel
// (quant_linear_avx2.cpp) does, so results are bit-identical whichever kernel a batch takes.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "quant_supers_avx2.h"
#include "quant_packed.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

constexpr int kTileRows = 4;
constexpr int kTileCols = 2;

// One column's unpacked super-block.
struct PackedSuper {
  __m256i codes[8];
  __m256i scales16[8];
  SuperScales scales;
};

// The chunk's columns [col_begin, col_begin + cols) unpacked, column j super-block s at index j * num_supers + s.
template <WeightFormat F>
const PackedSuper* pack_panel(const WeightMatrix& w, int col_begin, int cols, int num_supers, Scratch& scratch) {
  const size_t count = static_cast<size_t>(cols) * num_supers;
  float* base = scratch.floats(count * sizeof(PackedSuper) / sizeof(float) + 8);
  auto* panel = reinterpret_cast<PackedSuper*>((reinterpret_cast<uintptr_t>(base) + 31) & ~uintptr_t{31});
  constexpr size_t super_bytes = sizeof(typename SuperTraits<F>::Block);
  for (int j = 0; j < cols; ++j) {
    const auto* row = static_cast<const uint8_t*>(w.row_ptr(col_begin + j));
    for (int s = 0; s < num_supers; ++s) {
      PackedSuper& out = panel[static_cast<size_t>(j) * num_supers + s];
      out.scales = unpack_super<F>(row + s * super_bytes, [&](int k, __m256i codes, __m256i scales16) {
        _mm256_store_si256(out.codes + k, codes);
        _mm256_store_si256(out.scales16 + k, scales16);
      });
    }
  }
  return panel;
}

// out[i * out_stride + j] = rows[i] . panel column col + j, for an MR x NR tile.
template <WeightFormat F, int MR, int NR>
void dot_tile(const PackedSuper* panel, int num_supers, int col, const ActivationSuperBlock* const* rows, float* out,
              size_t out_stride) {
  __m256 acc[MR][NR];
  #pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
    #pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
  for (int s = 0; s < num_supers; ++s) {
    const PackedSuper* w[NR];
    #pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) w[j] = panel + static_cast<size_t>(col + j) * num_supers + s;
    __m256i products[MR][NR];
    #pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
      #pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) products[i][j] = _mm256_setzero_si256();
    for (int k = 0; k < 8; ++k) {
      __m256i codes[NR], scales16[NR];
      #pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) codes[j] = _mm256_load_si256(w[j]->codes + k), scales16[j] = _mm256_load_si256(w[j]->scales16 + k);
      #pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) {
        const __m256i acts = load_codes(rows[i][s].q + 32 * k);
        #pragma GCC unroll 4
        for (int j = 0; j < NR; ++j) products[i][j] = _mm256_add_epi32(products[i][j], block_products(codes[j], scales16[j], acts));
      }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
      #pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) acc[i][j] = add_super<F>(acc[i][j], products[i][j], w[j]->scales, rows[i][s]);
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) out[i * out_stride + col + j] = horizontal_sum(acc[i][j]);
}

template <WeightFormat F, int MR>
void dot_row_tile(const PackedSuper* panel, int num_supers, int cols, const ActivationSuperBlock* const* rows, float* out,
                  size_t out_stride) {
  int col = 0;
  for (; col + kTileCols <= cols; col += kTileCols) dot_tile<F, MR, kTileCols>(panel, num_supers, col, rows, out, out_stride);
  for (; col < cols; ++col) dot_tile<F, MR, 1>(panel, num_supers, col, rows, out, out_stride);
}

template <WeightFormat F>
void packed(const ActivationSuperBlock* acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
            int col_end, const float* bias, float* y, int y_stride) {
  static thread_local Scratch panel_scratch;
  const int cols = col_end - col_begin, num_supers = w.cols / kSuperBlock;
  const PackedSuper* panel = pack_panel<F>(w, col_begin, cols, num_supers, panel_scratch);
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int count = std::min(kTileRows, row_end - m);
    const ActivationSuperBlock* rows[kTileRows];
    for (int i = 0; i < count; ++i) rows[i] = acts + static_cast<size_t>(m + i) * num_supers;
    float* out = y + static_cast<size_t>(m) * y_stride + col_begin;
    if (count == kTileRows) dot_row_tile<F, kTileRows>(panel, num_supers, cols, rows, out, y_stride);
    else for (int i = 0; i < count; ++i) dot_row_tile<F, 1>(panel, num_supers, cols, rows + i, out + static_cast<size_t>(i) * y_stride, y_stride);
    if (bias) {
      for (int i = 0; i < count; ++i)
        for (int j = 0; j < cols; ++j) out[static_cast<size_t>(i) * y_stride + j] += bias[col_begin + j];
    }
  }
}

}  // namespace

void quant_packed_super_block(const ActivationSuperBlock* acts, int row_begin, int row_end, const WeightMatrix& w,
                              int col_begin, int col_end, const float* bias, float* y, int y_stride) {
  switch (w.format) {
    case WeightFormat::Q2_K: packed<WeightFormat::Q2_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q3_K: packed<WeightFormat::Q3_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_K: packed<WeightFormat::Q4_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q5_K: packed<WeightFormat::Q5_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q6_K: packed<WeightFormat::Q6_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    default: break;
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
