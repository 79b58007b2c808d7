// Packed-panel kernel for K-quant (Q2_K..Q6_K) linear layers with many rows: a column chunk of W is unpacked once into a
// panel of super-blocks, then a register tile of 4 rows x 2 panel vectors walks all rows over it, summing each output's
// super-block in int32 (8 lanes per column: one column per Ymm, two per Zmm) and adding it with add_super, as the
// dot-product kernel (quant_linear_avx2.cpp) does, so results are bit-identical whichever kernel and width a batch
// takes. The panel holds the 32-value blocks in pairs (k, k + 1), their codes and the row tile's activation codes
// interleaved by 16 bits (pair_even / pair_odd), so that two maddubs added in int16 hold, per int32 lane l, quad l of
// block k next to quad l of block k + 1, and one madd against the pair's scales gives exactly the lane sums the
// decode kernel's two madds give: a madd per 64 values instead of per 32.
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
constexpr int kPairs = 4;  // block pairs per super-block

// The first / second halves of quads: 16-bit unit 2l of block k (the first two bytes of quad l) at 16-bit lane 2l,
// block k + 1's at lane 2l + 1 / the same with the last two bytes of each quad. A maddubs of each with the
// activations paired the same way, added in int16, holds quad l of block k at lane 2l and of block k + 1 at 2l + 1:
// at most 4 products of a code (< 64) and an activation (|q| <= 127), 32004, within int16.
inline __m256i pair_even(__m256i first, __m256i second) { return _mm256_blend_epi16(first, _mm256_slli_epi32(second, 16), 0xAA); }
inline __m256i pair_odd(__m256i first, __m256i second) { return _mm256_blend_epi16(_mm256_srli_epi32(first, 16), second, 0xAA); }

// Columns per panel vector: a column's super-block sums take the decode kernel's 8 int32 lanes, so a Ymm holds one
// column and a Zmm two (column 2 v + h in 256-bit half h, the row tile's activations in both halves).
template <typename V>
constexpr int kColsPerVector = V::kLanes / 8;

// kColsPerVector columns' unpacked super-block: per block pair, their codes paired and their per-lane integer scales
// (block k's in the even 16-bit lanes, block k + 1's in the odd ones), column h in half h; and each column's scales.
template <typename V>
struct PackedSupers {
  typename V::Int even[kPairs];
  typename V::Int odd[kPairs];
  typename V::Int scales16[kPairs];
  SuperScales scales[kColsPerVector<V>];
};

// The chunk's columns [col_begin, col_begin + cols) unpacked, column vector v super-block s at index v * num_supers +
// s (columns past cols zero).
template <WeightFormat F, typename V>
const PackedSupers<V>* pack_panel(const WeightMatrix& w, int col_begin, int cols, int num_supers, Scratch& scratch) {
  using Packed = PackedSupers<V>;
  constexpr int kCols = kColsPerVector<V>;
  const int vectors = (cols + kCols - 1) / kCols;
  const size_t count = static_cast<size_t>(vectors) * num_supers;
  float* base = scratch.floats((count * sizeof(Packed) + alignof(Packed)) / sizeof(float));
  auto* panel = reinterpret_cast<Packed*>((reinterpret_cast<uintptr_t>(base) + alignof(Packed) - 1) & ~uintptr_t{alignof(Packed) - 1});
  constexpr size_t super_bytes = sizeof(typename SuperTraits<F>::Block);
  for (int j = 0; j < vectors * kCols; ++j) {
    const int h = j % kCols;
    const auto* row = j < cols ? static_cast<const uint8_t*>(w.row_ptr(col_begin + j)) : nullptr;
    for (int s = 0; s < num_supers; ++s) {
      Packed& out = panel[static_cast<size_t>(j / kCols) * num_supers + s];
      if (!row) {  // a padding column: zero codes and scales
        for (int p = 0; p < kPairs; ++p) {
          for (auto* field : {out.even + p, out.odd + p, out.scales16 + p}) _mm256_store_si256(half_of(field, h), _mm256_setzero_si256());
        }
        out.scales[h] = SuperScales{_mm256_setzero_si256(), 0.f, 0.f};
        continue;
      }
      __m256i first_codes = _mm256_setzero_si256(), first_scales = _mm256_setzero_si256();
      out.scales[h] = unpack_super<F>(row + s * super_bytes, [&](int k, __m256i codes, __m256i scales16) {
        if (k % 2 == 0) {
          first_codes = codes, first_scales = scales16;
          return;
        }
        _mm256_store_si256(half_of(out.even + k / 2, h), pair_even(first_codes, codes));
        _mm256_store_si256(half_of(out.odd + k / 2, h), pair_odd(first_codes, codes));
        _mm256_store_si256(half_of(out.scales16 + k / 2, h), _mm256_blend_epi16(first_scales, scales16, 0xAA));
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

// Column vectors per tile: 2, so 4 x 2 outputs on Ymm and 4 x 4 on Zmm (measured faster there than 4 x 2; registers:
// 8 int32 sums, 6 panel vectors, 2 activation vectors, and the 16 outputs' fp32 sums in their low halves).
constexpr int kTileVectors = 2;

// out[i * out_stride + c] = rows[i] . panel column c, for the columns c < cols of column vectors [vec, vec + NV), MR
// rows (paired: the rows' paired codes).
template <WeightFormat F, typename V, int MR, int NV>
void dot_tile(const PackedSupers<V>* panel, int num_supers, int vec, int cols, const ActivationSuperBlock* const* rows,
              const __m256i* paired, float* out, size_t out_stride) {
  using Int = typename V::Int;
  constexpr int kCols = kColsPerVector<V>;
  __m256 acc[MR][NV * kCols];
  #pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
    #pragma GCC unroll 4
    for (int c = 0; c < NV * kCols; ++c) acc[i][c] = _mm256_setzero_ps();
  for (int s = 0; s < num_supers; ++s) {
    const PackedSupers<V>* w[NV];
    #pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) w[j] = panel + static_cast<size_t>(vec + j) * num_supers + s;
    Int products[MR][NV];
    #pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
      #pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) products[i][j] = V::zero();
    for (int p = 0; p < kPairs; ++p) {
      Int even[NV], odd[NV], scales16[NV];
      #pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        even[j] = V::load(w[j]->even + p), odd[j] = V::load(w[j]->odd + p);
        scales16[j] = V::load(w[j]->scales16 + p);
      }
      #pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) {
        const __m256i* a = paired + (static_cast<size_t>(i) * num_supers + s) * 2 * kPairs + 2 * p;
        const Int a_even = V::broadcast_half(a), a_odd = V::broadcast_half(a + 1);
        #pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) {
          const Int quads = V::add16(V::maddubs(even[j], a_even), V::maddubs(odd[j], a_odd));
          products[i][j] = V::dot_pairs16(products[i][j], quads, scales16[j]);
        }
      }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
      #pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        #pragma GCC unroll 2
        for (int h = 0; h < kCols; ++h) {
          __m256& sum = acc[i][j * kCols + h];
          sum = add_super<F>(sum, V::half(products[i][j], h), w[j]->scales[h], rows[i][s]);
        }
  }
  const int first = vec * kCols, count = std::min(NV * kCols, cols - first);
  for (int i = 0; i < MR; ++i)
    for (int c = 0; c < count; ++c) out[i * out_stride + first + c] = horizontal_sum(acc[i][c]);
}

template <WeightFormat F, typename V, int MR>
void dot_row_tile(const PackedSupers<V>* panel, int num_supers, int cols, const ActivationSuperBlock* const* rows,
                  const __m256i* paired, float* out, size_t out_stride) {
  const int vectors = (cols + kColsPerVector<V> - 1) / kColsPerVector<V>;
  int v = 0;
  for (; v + kTileVectors <= vectors; v += kTileVectors) dot_tile<F, V, MR, kTileVectors>(panel, num_supers, v, cols, rows, paired, out, out_stride);
  for (; v < vectors; ++v) dot_tile<F, V, MR, 1>(panel, num_supers, v, cols, rows, paired, out, out_stride);
}

template <WeightFormat F, typename V>
void packed(const ActivationSuperBlock* acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
            int col_end, const float* bias, float* y, int y_stride) {
  static thread_local Scratch panel_scratch, paired_scratch;
  const int cols = col_end - col_begin, num_supers = w.cols / kSuperBlock;
  const PackedSupers<V>* panel = pack_panel<F, V>(w, col_begin, cols, num_supers, panel_scratch);
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int count = std::min(kTileRows, row_end - m);
    const ActivationSuperBlock* rows[kTileRows];
    for (int i = 0; i < count; ++i) rows[i] = acts + static_cast<size_t>(m + i) * num_supers;
    const __m256i* paired = pair_activations(acts, m, count, num_supers, paired_scratch);
    float* out = y + static_cast<size_t>(m) * y_stride + col_begin;
    if (count == kTileRows) {
      dot_row_tile<F, V, kTileRows>(panel, num_supers, cols, rows, paired, out, y_stride);
    } else {
      const size_t row_vectors = static_cast<size_t>(num_supers) * 2 * kPairs;
      for (int i = 0; i < count; ++i) {
        dot_row_tile<F, V, 1>(panel, num_supers, cols, rows + i, paired + i * row_vectors, out + static_cast<size_t>(i) * y_stride, y_stride);
      }
    }
    if (bias) {
      for (int i = 0; i < count; ++i)
        for (int j = 0; j < cols; ++j) out[static_cast<size_t>(i) * y_stride + j] += bias[col_begin + j];
    }
  }
}

// The K-quant half of run_packed (quant_packed_blocks.h); acts holds w.cols / 256 blocks per row.
template <typename V>
inline void run_packed_supers(const ActivationSuperBlock* acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
                              int col_end, const float* bias, float* y, int y_stride) {
  switch (w.format) {
    case WeightFormat::Q2_K: packed<WeightFormat::Q2_K, V>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q3_K: packed<WeightFormat::Q3_K, V>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_K: packed<WeightFormat::Q4_K, V>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q5_K: packed<WeightFormat::Q5_K, V>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q6_K: packed<WeightFormat::Q6_K, V>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    default: break;
  }
}

}  // namespace packed_k
}  // namespace

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
