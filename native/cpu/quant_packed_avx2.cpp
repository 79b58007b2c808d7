// Packed-panel AVX2 kernel for the 32-value block formats' linear layers with many rows (K-quants: quant_packed_k_avx2.cpp), and the
// entry point for all block formats: a column chunk of W is unpacked once into a panel of maddubs-ready codes and
// fp32 scales (and mins) (each column zero-padded to whole groups of 8 blocks), then tile_group (quant_blocks_avx2.h) runs 4
// activation rows at a time over each column, the same arithmetic per output as the decode kernel
// (quant_linear_avx2.cpp) over the stored blocks, so results are bit-identical whichever kernel a batch takes.
#include "quant_packed.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "quant_blocks_avx2.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

constexpr int kTileRows = 4;
constexpr int kTileCols = 2;

// tile_group's Row over one unpacked column.
template <WeightFormat F>
struct PanelRow {
  const __m256i* magnitude;
  const __m256i* code;  // signed formats only: the others' codes are their magnitudes
  const float* scale;
  const float* min;     // Q4_1 / Q5_1 only
  __m256i magnitudes(int b) const { return _mm256_load_si256(magnitude + b); }
  __m256i codes(int b) const { return Block32Traits<F>::kSigned ? _mm256_load_si256(code + b) : magnitudes(b); }
  __m256 scales8(int b) const { return _mm256_loadu_ps(scale + b); }
  __m256 mins8(int b) const { return _mm256_loadu_ps(min + b); }
};

// Columns [col_begin, col_begin + cols) of w unpacked, column j's block b at j * padded_blocks + b.
template <WeightFormat F>
struct Panel {
  int padded_blocks;
  __m256i* magnitudes;
  __m256i* codes;
  float* scales;
  float* mins;
  PanelRow<F> column(int j) const {
    const size_t first = static_cast<size_t>(j) * padded_blocks;
    return {magnitudes + first, codes ? codes + first : nullptr, scales + first, mins ? mins + first : nullptr};
  }
};

template <WeightFormat F>
Panel<F> pack_panel(const WeightMatrix& w, int col_begin, int cols, Scratch& scratch) {
  const int num_blocks = w.cols / kQuantBlock, padded_blocks = (num_blocks + 7) / 8 * 8;
  const size_t slots = static_cast<size_t>(cols) * padded_blocks;
  constexpr int kVectors = Block32Traits<F>::kSigned ? 2 : 1;
  constexpr int kFloats = Block32Traits<F>::kMin ? 2 : 1;
  // 8 floats per ymm, kFloats per block, and one extra ymm so the vectors can start 32-byte aligned.
  float* base = scratch.floats(slots * (8 * kVectors + kFloats) + 8);
  auto* vectors = reinterpret_cast<__m256i*>((reinterpret_cast<uintptr_t>(base) + 31) & ~uintptr_t{31});
  float* floats = reinterpret_cast<float*>(vectors + kVectors * slots);
  Panel<F> panel{padded_blocks, vectors, kVectors == 2 ? vectors + slots : nullptr, floats, kFloats == 2 ? floats + slots : nullptr};
  for (int j = 0; j < cols; ++j) {
    const auto* row = static_cast<const uint8_t*>(w.row_ptr(col_begin + j));
    for (int b = 0; b < padded_blocks; ++b) {
      const size_t at = static_cast<size_t>(j) * padded_blocks + b;
      const __m256i codes = b < num_blocks ? block_codes<F>(row, b) : _mm256_setzero_si256();
      _mm256_store_si256(panel.magnitudes + at, block_magnitudes<F>(codes));
      if (panel.codes) _mm256_store_si256(panel.codes + at, codes);
      const auto& block = reinterpret_cast<const Block32<F>*>(row)[b];
      panel.scales[at] = b < num_blocks ? half_to_float(block.d) : 0.f;
      if constexpr (Block32Traits<F>::kMin) panel.mins[at] = b < num_blocks ? half_to_float(block.m) : 0.f;
    }
  }
  return panel;
}

// out[i * out_stride + j] = activation row i . panel column col + j, for an MR x NR tile.
template <WeightFormat F, int MR, int NR>
void dot_tile(const Panel<F>& panel, int col, const ActivationRows& acts, float* out, size_t out_stride) {
  PanelRow<F> columns[NR];
  for (int j = 0; j < NR; ++j) columns[j] = panel.column(col + j);
  __m256 acc[MR * NR];
  for (int t = 0; t < MR * NR; ++t) acc[t] = _mm256_setzero_ps();
  for (int b = 0; b < panel.padded_blocks; b += 8) tile_group<F, MR, NR>(columns, b, acts, acc);
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) out[i * out_stride + col + j] = horizontal_sum(acc[i * NR + j]);
}

template <WeightFormat F, int MR>
void dot_row_tile(const Panel<F>& panel, int cols, const ActivationRows& acts, float* out, size_t out_stride) {
  int col = 0;
  for (; col + kTileCols <= cols; col += kTileCols) dot_tile<F, MR, kTileCols>(panel, col, acts, out, out_stride);
  for (; col < cols; ++col) dot_tile<F, MR, 1>(panel, col, acts, out, out_stride);
}

template <WeightFormat F>
void packed(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
            int col_end, const float* bias, float* y, int y_stride) {
  static thread_local Scratch panel_scratch;
  const int cols = col_end - col_begin, num_blocks = w.cols / kQuantBlock;
  const Panel<F> panel = pack_panel<F>(w, col_begin, cols, panel_scratch);
  // Row tile by row tile, so that its activations stay in L1 while every column of the panel goes over them.
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int rows = std::min(kTileRows, row_end - m);
    const ActivationRows act_rows = activation_rows(acts, m, rows, num_blocks);
    float* out = y + static_cast<size_t>(m) * y_stride + col_begin;
    if (rows == kTileRows) {
      dot_row_tile<F, kTileRows>(panel, cols, act_rows, out, y_stride);
    } else {
      for (int i = 0; i < rows; ++i) {  // last rows
        const ActivationRows one{{act_rows.blocks[i]}, {act_rows.scales[i]}, {act_rows.sums[i]}};
        dot_row_tile<F, 1>(panel, cols, one, out + static_cast<size_t>(i) * y_stride, y_stride);
      }
    }
    if (bias) {
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) out[static_cast<size_t>(i) * y_stride + j] += bias[col_begin + j];
    }
  }
}

}  // namespace

void quant_packed_block(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w,
                        int col_begin, int col_end, const float* bias, float* y, int y_stride) {
  switch (w.format) {
    case WeightFormat::Q8_0: packed<WeightFormat::Q8_0>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_0: packed<WeightFormat::Q4_0>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_1: packed<WeightFormat::Q4_1>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q5_0: packed<WeightFormat::Q5_0>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q5_1: packed<WeightFormat::Q5_1>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::IQ4_NL: packed<WeightFormat::IQ4_NL>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q2_K:
    case WeightFormat::Q3_K:
    case WeightFormat::Q4_K:
    case WeightFormat::Q5_K:
    case WeightFormat::Q6_K: quant_packed_super_block(acts.supers, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    default: break;
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
