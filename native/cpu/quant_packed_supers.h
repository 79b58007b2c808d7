// Packed-panel kernel for K-quant (Q2_K..Q6_K) linear layers with many rows: a column chunk of W is unpacked once into a
// panel of super-blocks, then an MR x NR register tile walks all rows over it, summing each output's super-block in
// int32 and adding it with add_super, as the dot-product kernel (quant_linear_avx2.cpp) does, so results are
// bit-identical whichever kernel a batch takes. The panel holds the 32-value blocks in pairs (k, k + 1), their codes
// and the row tile's activation codes interleaved by 16 bits (pair_even / pair_odd), so that two maddubs added in
// int16 hold, per int32 lane l, quad l of block k next to quad l of block k + 1, and one madd against the pair's
// scales gives exactly the lane sums the decode kernel's two madds give: a madd per 64 values instead of per 32.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "int8_steps.h"
#include "quant_packed.h"
#include "quant_supers_avx2.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {
namespace packed_k {

constexpr int kTileRows = 4;
constexpr int kTileCols = 2;
constexpr int kPairs = 4;  // block pairs per super-block

// The first / second halves of quads: 16-bit unit 2l of block k (the first two bytes of quad l) at 16-bit lane 2l,
// block k + 1's at lane 2l + 1 / the same with the last two bytes of each quad. A maddubs of each with the
// activations paired the same way, added in int16, holds quad l of block k at lane 2l and of block k + 1 at 2l + 1:
// at most 4 products of a code (< 64) and an activation (|q| <= 127), 32004, within int16.
inline __m256i pair_even(__m256i first, __m256i second) { return _mm256_blend_epi16(first, _mm256_slli_epi32(second, 16), 0xAA); }
inline __m256i pair_odd(__m256i first, __m256i second) { return _mm256_blend_epi16(_mm256_srli_epi32(first, 16), second, 0xAA); }

// One column's unpacked super-block: per block pair, its codes paired and its per-lane integer scales (block k's in
// the even 16-bit lanes, block k + 1's in the odd ones).
struct PackedSuper {
  __m256i even[kPairs];
  __m256i odd[kPairs];
  __m256i scales16[kPairs];
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
      __m256i first_codes = _mm256_setzero_si256(), first_scales = _mm256_setzero_si256();
      out.scales = unpack_super<F>(row + s * super_bytes, [&](int k, __m256i codes, __m256i scales16) {
        if (k % 2 == 0) {
          first_codes = codes, first_scales = scales16;
          return;
        }
        _mm256_store_si256(out.even + k / 2, pair_even(first_codes, codes));
        _mm256_store_si256(out.odd + k / 2, pair_odd(first_codes, codes));
        _mm256_store_si256(out.scales16 + k / 2, _mm256_blend_epi16(first_scales, scales16, 0xAA));
      });
    }
  }
  return panel;
}

// Rows [m, m + rows) of the activation codes paired as the panel's codes are: row i super-block s pair p at
// (i * num_supers + s) * 2 * kPairs + 2 p (even) and + 1 (odd).
const __m256i* pair_activations(const ActivationSuperBlock* acts, int m, int rows, int num_supers, Scratch& scratch) {
  const size_t count = static_cast<size_t>(rows) * num_supers * 2 * kPairs;
  float* base = scratch.floats(count * 8 + 8);
  auto* out = reinterpret_cast<__m256i*>((reinterpret_cast<uintptr_t>(base) + 31) & ~uintptr_t{31});
  for (int i = 0; i < rows; ++i) {
    for (int s = 0; s < num_supers; ++s) {
      const int8_t* q = acts[static_cast<size_t>(m + i) * num_supers + s].q;
      __m256i* at = out + (static_cast<size_t>(i) * num_supers + s) * 2 * kPairs;
      for (int p = 0; p < kPairs; ++p) {
        const __m256i first = load_codes(q + 64 * p), second = load_codes(q + 64 * p + 32);
        _mm256_store_si256(at + 2 * p, pair_even(first, second));
        _mm256_store_si256(at + 2 * p + 1, pair_odd(first, second));
      }
    }
  }
  return out;
}

// out[i * out_stride + j] = rows[i] . panel column col + j, for an MR x NR tile (paired: the rows' paired codes).
template <WeightFormat F, int MR, int NR>
void dot_tile(const PackedSuper* panel, int num_supers, int col, const ActivationSuperBlock* const* rows,
              const __m256i* paired, float* out, size_t out_stride) {
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
    for (int p = 0; p < kPairs; ++p) {
      __m256i even[NR], odd[NR], scales16[NR];
      #pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) {
        even[j] = _mm256_load_si256(w[j]->even + p), odd[j] = _mm256_load_si256(w[j]->odd + p);
        scales16[j] = _mm256_load_si256(w[j]->scales16 + p);
      }
      #pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) {
        const __m256i* a = paired + (static_cast<size_t>(i) * num_supers + s) * 2 * kPairs + 2 * p;
        const __m256i a_even = _mm256_load_si256(a), a_odd = _mm256_load_si256(a + 1);
        #pragma GCC unroll 4
        for (int j = 0; j < NR; ++j) {
          const __m256i quads = _mm256_add_epi16(_mm256_maddubs_epi16(even[j], a_even), _mm256_maddubs_epi16(odd[j], a_odd));
          products[i][j] = dot_pairs16(products[i][j], quads, scales16[j]);
        }
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
void dot_row_tile(const PackedSuper* panel, int num_supers, int cols, const ActivationSuperBlock* const* rows,
                  const __m256i* paired, float* out, size_t out_stride) {
  int col = 0;
  for (; col + kTileCols <= cols; col += kTileCols) dot_tile<F, MR, kTileCols>(panel, num_supers, col, rows, paired, out, out_stride);
  for (; col < cols; ++col) dot_tile<F, MR, 1>(panel, num_supers, col, rows, paired, out, out_stride);
}

template <WeightFormat F>
void packed(const ActivationSuperBlock* acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
            int col_end, const float* bias, float* y, int y_stride) {
  static thread_local Scratch panel_scratch, paired_scratch;
  const int cols = col_end - col_begin, num_supers = w.cols / kSuperBlock;
  const PackedSuper* panel = pack_panel<F>(w, col_begin, cols, num_supers, panel_scratch);
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int count = std::min(kTileRows, row_end - m);
    const ActivationSuperBlock* rows[kTileRows];
    for (int i = 0; i < count; ++i) rows[i] = acts + static_cast<size_t>(m + i) * num_supers;
    const __m256i* paired = pair_activations(acts, m, count, num_supers, paired_scratch);
    float* out = y + static_cast<size_t>(m) * y_stride + col_begin;
    if (count == kTileRows) {
      dot_row_tile<F, kTileRows>(panel, num_supers, cols, rows, paired, out, y_stride);
    } else {
      const size_t row_vectors = static_cast<size_t>(num_supers) * 2 * kPairs;
      for (int i = 0; i < count; ++i) {
        dot_row_tile<F, 1>(panel, num_supers, cols, rows + i, paired + i * row_vectors, out + static_cast<size_t>(i) * y_stride, y_stride);
      }
    }
    if (bias) {
      for (int i = 0; i < count; ++i)
        for (int j = 0; j < cols; ++j) out[static_cast<size_t>(i) * y_stride + j] += bias[col_begin + j];
    }
  }
}

// The K-quant half of run_packed (quant_packed_blocks.h); acts holds w.cols / 256 blocks per row.
inline void run_packed_supers(const ActivationSuperBlock* acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
                              int col_end, const float* bias, float* y, int y_stride) {
  switch (w.format) {
    case WeightFormat::Q2_K: packed<WeightFormat::Q2_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q3_K: packed<WeightFormat::Q3_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_K: packed<WeightFormat::Q4_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q5_K: packed<WeightFormat::Q5_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q6_K: packed<WeightFormat::Q6_K>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    default: break;
  }
}

}  // namespace packed_k
}  // namespace

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
