// Packed-panel AVX2 kernel for Q8_0 / Q4_0 linear layers with many rows (K-quants: quant_packed_k_avx2.cpp), and the
// entry point for all block formats: a column chunk of W is unpacked once into a panel of maddubs-ready codes and
// fp32 scales, 8 columns per group, and tile8 (quant_blocks_avx2.h) walks each group with 4 activation rows at a
// time, the same arithmetic per output as the decode kernel (quant_linear_avx2.cpp) over the stored blocks, so
// results are bit-identical whichever kernel a batch takes.
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

// tile8's Columns over one group of 8 unpacked columns, block-major (column j of block b at b * 8 + j).
template <WeightFormat F>
struct PanelColumns {
  const __m256i* magnitude;
  const __m256i* code;  // Q8_0 only: Q4_0's codes are their magnitudes
  const float* scale;
  __m256i magnitudes(int j, int b) const { return _mm256_load_si256(magnitude + 8 * b + j); }
  __m256i codes(int j, int b) const { return F == WeightFormat::Q8_0 ? _mm256_load_si256(code + 8 * b + j) : magnitudes(j, b); }
  __m256 scales(int b) const { return _mm256_load_ps(scale + 8 * b); }
};

template <WeightFormat F>
struct Panel {
  int groups;
  int num_blocks;
  __m256i* magnitudes;
  __m256i* codes;
  float* scales;
  PanelColumns<F> group(int g) const {
    const size_t first = static_cast<size_t>(g) * num_blocks * 8;
    return {magnitudes + first, codes ? codes + first : nullptr, scales + first};
  }
};

// Unpacks columns [col_begin, col_begin + cols) of w, the last group padded by repeating the last column.
template <WeightFormat F>
Panel<F> pack_panel(const WeightMatrix& w, int col_begin, int cols, Scratch& scratch) {
  const int groups = (cols + 7) / 8, num_blocks = w.cols / kQuantBlock;
  const size_t slots = static_cast<size_t>(groups) * num_blocks * 8;
  constexpr int kVectors = F == WeightFormat::Q8_0 ? 2 : 1;
  // 8 floats per ymm, one float per scale, and one extra ymm so the vectors can start 32-byte aligned.
  float* base = scratch.floats(slots * (8 * kVectors + 1) + 8);
  auto* vectors = reinterpret_cast<__m256i*>((reinterpret_cast<uintptr_t>(base) + 31) & ~uintptr_t{31});
  Panel<F> panel{groups, num_blocks, vectors, kVectors == 2 ? vectors + slots : nullptr, reinterpret_cast<float*>(vectors + kVectors * slots)};
  for (int g = 0; g < groups; ++g) {
    for (int j = 0; j < 8; ++j) {
      const auto* row = static_cast<const uint8_t*>(w.row_ptr(col_begin + std::min(8 * g + j, cols - 1)));
      for (int b = 0; b < num_blocks; ++b) {
        const size_t at = (static_cast<size_t>(g) * num_blocks + b) * 8 + j;
        const __m256i codes = block_codes<F>(row, b);
        _mm256_store_si256(panel.magnitudes + at, block_magnitudes<F>(codes));
        if (panel.codes) _mm256_store_si256(panel.codes + at, codes);
        panel.scales[at] = half_to_float(reinterpret_cast<const Block32<F>*>(row)[b].d);
      }
    }
  }
  return panel;
}

template <WeightFormat F>
void packed(const ActivationBlock* acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin, int col_end,
            const float* bias, float* y, int y_stride) {
  static thread_local Scratch panel_scratch;
  const int cols = col_end - col_begin;
  const Panel<F> panel = pack_panel<F>(w, col_begin, cols, panel_scratch);
  // Group by group, so that the group's panel stays in L1 while every row goes over it.
  for (int g = 0; g < panel.groups; ++g) {
    const auto columns = panel.group(g);
    const int first = col_begin + 8 * g, count = std::min(8, cols - 8 * g);
    for (int m = row_begin; m < row_end; m += kTileRows) {
      const int rows = std::min(kTileRows, row_end - m);
      const ActivationBlock* act_rows[kTileRows];
      for (int i = 0; i < rows; ++i) act_rows[i] = acts + static_cast<size_t>(m + i) * panel.num_blocks;
      __m256 acc[kTileRows];
      for (int i = 0; i < kTileRows; ++i) acc[i] = _mm256_setzero_ps();
      if (rows == kTileRows) tile8<F, kTileRows>(columns, panel.num_blocks, act_rows, acc);
      else for (int i = 0; i < rows; ++i) tile8<F, 1>(columns, panel.num_blocks, act_rows + i, acc + i);  // last rows
      alignas(32) float out[kTileRows * 8];
      for (int i = 0; i < rows; ++i) _mm256_store_ps(out + 8 * i, acc[i]);
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < count; ++j) y[static_cast<size_t>(m + i) * y_stride + first + j] = out[8 * i + j] + (bias ? bias[first + j] : 0.f);
    }
  }
}

}  // namespace

void quant_packed_block(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w,
                        int col_begin, int col_end, const float* bias, float* y, int y_stride) {
  switch (w.format) {
    case WeightFormat::Q8_0: packed<WeightFormat::Q8_0>(acts.blocks, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_0: packed<WeightFormat::Q4_0>(acts.blocks, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_K:
    case WeightFormat::Q6_K: quant_packed_super_block(acts.supers, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    default: break;
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
