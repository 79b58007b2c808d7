// Packed-panel kernel for the 32-value block formats' linear layers with many rows (K-quants: quant_packed_supers.h),
// and the entry for all block formats (run_packed), built once per instruction set (int8_steps.h). A column chunk of
// W is unpacked once into a
// column-interleaved panel: per group of 8 columns and block, 8 vectors each holding one 4-code quad of all 8 columns
// (lane c = column c), plus the 8 columns' fp32 scales (and mins). A register tile of 4 rows x 8 or 16 columns broadcasts
// each activation quad and takes its int8 dot products against the panel vectors, so each block's exact int32 dot products
// land one per lane with no horizontal adds. The fp32 steps are tile_group's (quant_blocks_avx2.h) for every output:
// block b's term goes into chain b % 8 (one vector per chain here, one lane per chain there) and the chains are
// added in horizontal_sum's order, so results are bit-identical to the decode kernel (quant_linear_avx2.cpp).
#pragma once
#include "quant_packed.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "int8_steps.h"
#include "quant_blocks_avx2.h"
#include "quant_packed_supers.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {
namespace packed32 {

constexpr int kGroupCols = 8;  // columns per panel group: one lane each
constexpr int kQuads = kQuantBlock / 4;
constexpr int kTileRows = 4;
constexpr int kChains = 8;  // fp32 chains per output, as tile_group's 8 lanes

// Columns [col_begin, col_begin + cols) of w, in groups of 8 columns (the last one zero-padded), each block b of
// group g at slot g * padded_blocks + b: kQuads vectors of maddubs-ready magnitudes (and, for the signed formats, of
// signed codes), quad k of column c in 32-bit lane c of vector k; and 8 scales (and mins), column c's at c.
template <WeightFormat F>
struct Panel {
  int padded_blocks;
  __m256i* magnitudes;
  __m256i* codes;
  float* scales;
  float* mins;
  size_t slot(int group, int b) const { return static_cast<size_t>(group) * padded_blocks + b; }
};

template <WeightFormat F>
Panel<F> pack_panel(const WeightMatrix& w, int col_begin, int cols, Scratch& scratch) {
  const int num_blocks = w.cols / kQuantBlock, padded_blocks = (num_blocks + 7) / 8 * 8;
  const int groups = (cols + kGroupCols - 1) / kGroupCols;
  const size_t slots = static_cast<size_t>(groups) * padded_blocks;
  constexpr int kVectorSets = Block32Traits<F>::kSigned ? 2 : 1;
  constexpr int kFloatSets = Block32Traits<F>::kMin ? 2 : 1;
  // Per slot: kQuads ymm per vector set, 8 floats per float set; plus one ymm so the vectors can start 32-byte aligned.
  float* base = scratch.floats(slots * kGroupCols * (kQuads * kVectorSets + kFloatSets) + 8);
  auto* vectors = reinterpret_cast<__m256i*>((reinterpret_cast<uintptr_t>(base) + 31) & ~uintptr_t{31});
  float* floats = reinterpret_cast<float*>(vectors + slots * kQuads * kVectorSets);
  Panel<F> panel{padded_blocks, vectors, kVectorSets == 2 ? vectors + slots * kQuads : nullptr, floats,
                 kFloatSets == 2 ? floats + slots * kGroupCols : nullptr};
  for (int g = 0; g < groups; ++g) {
    const int count = std::min(kGroupCols, cols - g * kGroupCols);
    const uint8_t* rows[kGroupCols];
    for (int c = 0; c < count; ++c) rows[c] = static_cast<const uint8_t*>(w.row_ptr(col_begin + g * kGroupCols + c));
    for (int b = 0; b < padded_blocks; ++b) {
      const size_t at = panel.slot(g, b);
      __m256 quads[kGroupCols];  // column c's codes in, quad k of every column out
      for (int c = 0; c < kGroupCols; ++c) {
        const bool real = c < count && b < num_blocks;
        quads[c] = real ? _mm256_castsi256_ps(block_codes<F>(rows[c], b)) : _mm256_setzero_ps();
        const Block32<F>* block = real ? reinterpret_cast<const Block32<F>*>(rows[c]) + b : nullptr;
        panel.scales[at * kGroupCols + c] = block ? half_to_float(block->d) : 0.f;
        if constexpr (Block32Traits<F>::kMin) panel.mins[at * kGroupCols + c] = block ? half_to_float(block->m) : 0.f;
      }
      transpose8(quads);
      for (int k = 0; k < kQuads; ++k) {
        const __m256i codes = _mm256_castps_si256(quads[k]);
        _mm256_store_si256(panel.magnitudes + at * kQuads + k, block_magnitudes<F>(codes));
        if (panel.codes) _mm256_store_si256(panel.codes + at * kQuads + k, codes);
      }
    }
  }
  return panel;
}

// Quads whose products are added in int16 before one widening step. VNNI: none, each quad goes straight into its
// int32 lane (dot_quads). AVX2: a run of quads' maddubs pair sums is added in int16, where each lane adds 2 * run
// products of a code (at most 15 for the 4-bit formats, 31 for the 5-bit ones) and an activation (at most 127 in
// magnitude), which must stay within 32767. The signed formats' magnitudes reach 128 (Q8_0's -128): one quad,
// 2 * 128 * 127 = 32512. So maddubs never saturates, the int32 sums are exact on both paths and VNNI's outputs are
// bit-identical to AVX2's (test/quant-vnni.test.ts).
template <WeightFormat F>
constexpr int quads_per_madd() {
  if constexpr (kVnni || Block32Traits<F>::kSigned) return 1;
  else if constexpr (F == WeightFormat::Q5_0 || F == WeightFormat::Q5_1) return 4;  // 8 * 31 * 127 = 31496
  else return 8;                                                                      // 16 * 15 * 127 = 30480
}

// Column groups per tile: 2 (4 x 16 outputs), except the signed formats on AVX2: they also hold a codes vector per
// group for the sign step and measured faster with one group (4 x 8), their registers no longer spilling. The VNNI
// builds (one instruction per quad, fewer temporaries) measured Q8_0 faster with 2 (docs/PERFORMANCE.md).
template <WeightFormat F>
constexpr int tile_groups() { return Block32Traits<F>::kSigned && !kVnni ? 1 : 2; }

// out[i * out_stride + 8 g + c] = activation row m + i . column c of panel group group + g, for MR rows x NG groups
// (only the first `width` columns stored).
template <WeightFormat F, int MR, int NG>
void dot_tile(const Panel<F>& panel, int group, const QuantizedActivations& acts, int m, int num_blocks, float* out,
              size_t out_stride, int width) {
  using Traits = Block32Traits<F>;
  const ActivationBlock* a_blocks[MR];
  const float* a_scales[MR];
  const int32_t* a_sums[MR];
  for (int i = 0; i < MR; ++i) {
    a_blocks[i] = acts.blocks + static_cast<size_t>(m + i) * num_blocks;
    a_scales[i] = acts.block_scales + static_cast<size_t>(m + i) * acts.padded_blocks;
    a_sums[i] = acts.block_sums + static_cast<size_t>(m + i) * acts.padded_blocks;
  }
  __m256 chains[MR][NG][kChains];
  for (int i = 0; i < MR; ++i)
    for (int g = 0; g < NG; ++g)
      for (int l = 0; l < kChains; ++l) chains[i][g][l] = _mm256_setzero_ps();
  const __m256i ones = ones16();
  for (int b = 0; b < panel.padded_blocks; ++b) {
    __m256i dots[MR][NG];
    #pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
      #pragma GCC unroll 2
      for (int g = 0; g < NG; ++g) dots[i][g] = _mm256_setzero_si256();
    const __m256i* magnitudes[NG];
    const __m256i* codes[NG];
    for (int g = 0; g < NG; ++g) {
      magnitudes[g] = panel.magnitudes + panel.slot(group + g, b) * kQuads;
      codes[g] = Traits::kSigned ? panel.codes + panel.slot(group + g, b) * kQuads : nullptr;
    }
    constexpr int kRun = quads_per_madd<F>();
    #pragma GCC unroll 8
    for (int run = 0; run < kQuads; run += kRun) {
      __m256i pairs[MR][NG];  // int16 pair sums of the run's quads (runs longer than one quad)
      #pragma GCC unroll 8
      for (int k = run; k < run + kRun; ++k) {
        __m256i wm[NG], wc[NG];
        #pragma GCC unroll 2
        for (int g = 0; g < NG; ++g) {
          wm[g] = _mm256_load_si256(magnitudes[g] + k);
          if constexpr (Traits::kSigned) wc[g] = _mm256_load_si256(codes[g] + k);
        }
        #pragma GCC unroll 4
        for (int i = 0; i < MR; ++i) {
          int32_t quad;
          std::memcpy(&quad, a_blocks[i][b].q + 4 * k, 4);
          const __m256i a = _mm256_set1_epi32(quad);
          #pragma GCC unroll 2
          for (int g = 0; g < NG; ++g) {
            const __m256i signed_a = Traits::kSigned ? _mm256_sign_epi8(a, wc[g]) : a;
            if constexpr (kRun == 1) {
              dots[i][g] = dot_quads(dots[i][g], wm[g], signed_a);
            } else {
              const __m256i p = _mm256_maddubs_epi16(wm[g], signed_a);
              pairs[i][g] = k == run ? p : _mm256_add_epi16(pairs[i][g], p);
            }
          }
        }
      }
      if constexpr (kRun > 1) {
        #pragma GCC unroll 4
        for (int i = 0; i < MR; ++i)
          #pragma GCC unroll 2
          for (int g = 0; g < NG; ++g) dots[i][g] = dot_pairs16(dots[i][g], pairs[i][g], ones);
      }
    }
    // tile_group's fp32 step for block b, in chain b % 8.
    __m256 w_scales[NG], w_mins[NG];
    for (int g = 0; g < NG; ++g) {
      w_scales[g] = _mm256_loadu_ps(panel.scales + panel.slot(group + g, b) * kGroupCols);
      if constexpr (Traits::kMin) w_mins[g] = _mm256_loadu_ps(panel.mins + panel.slot(group + g, b) * kGroupCols);
    }
    #pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const __m256 a_scale = _mm256_set1_ps(a_scales[i][b]);
      #pragma GCC unroll 2
      for (int g = 0; g < NG; ++g) {
        __m256i block_dots = dots[i][g];
        if constexpr (Traits::kOffsetShift > 0) {
          block_dots = _mm256_sub_epi32(block_dots, _mm256_set1_epi32(a_sums[i][b] * (1 << Traits::kOffsetShift)));
        }
        __m256& chain = chains[i][g][b % kChains];
        chain = _mm256_fmadd_ps(_mm256_cvtepi32_ps(block_dots), _mm256_mul_ps(w_scales[g], a_scale), chain);
        if constexpr (Traits::kMin) {
          const __m256 a_term = _mm256_mul_ps(a_scale, _mm256_set1_ps(static_cast<float>(a_sums[i][b])));
          chain = _mm256_fmadd_ps(w_mins[g], a_term, chain);
        }
      }
    }
  }
  for (int i = 0; i < MR; ++i) {
    for (int g = 0; g < NG; ++g) {
      const __m256 sums = horizontal_sums_by_lane(chains[i][g]);
      float* row_out = out + i * out_stride + g * kGroupCols;
      const int count = std::min(kGroupCols, width - g * kGroupCols);
      if (count == kGroupCols) {
        _mm256_storeu_ps(row_out, sums);
      } else {
        alignas(32) float lanes[kGroupCols];
        _mm256_store_ps(lanes, sums);
        for (int c = 0; c < count; ++c) row_out[c] = lanes[c];
      }
    }
  }
}

// All groups of the panel for MR rows from row m.
template <WeightFormat F, int MR>
void dot_rows(const Panel<F>& panel, int cols, const QuantizedActivations& acts, int m, int num_blocks, float* out,
              size_t out_stride) {
  const int groups = (cols + kGroupCols - 1) / kGroupCols;
  constexpr int kTileGroups = tile_groups<F>();
  int g = 0;
  for (; g + kTileGroups <= groups; g += kTileGroups) {
    dot_tile<F, MR, kTileGroups>(panel, g, acts, m, num_blocks, out + g * kGroupCols, out_stride, cols - g * kGroupCols);
  }
  for (; g < groups; ++g) dot_tile<F, MR, 1>(panel, g, acts, m, num_blocks, out + g * kGroupCols, out_stride, cols - g * kGroupCols);
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
    float* out = y + static_cast<size_t>(m) * y_stride + col_begin;
    switch (rows) {
      case 1: dot_rows<F, 1>(panel, cols, acts, m, num_blocks, out, y_stride); break;
      case 2: dot_rows<F, 2>(panel, cols, acts, m, num_blocks, out, y_stride); break;
      case 3: dot_rows<F, 3>(panel, cols, acts, m, num_blocks, out, y_stride); break;
      default: dot_rows<F, kTileRows>(panel, cols, acts, m, num_blocks, out, y_stride); break;
    }
    if (bias) {
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) out[static_cast<size_t>(i) * y_stride + j] += bias[col_begin + j];
    }
  }
}

}  // namespace packed32

// quant_packed_block for any block format, in the instruction set this file is built for.
inline void run_packed(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
                       int col_end, const float* bias, float* y, int y_stride) {
  using packed32::packed;
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
    case WeightFormat::Q6_K: packed_k::run_packed_supers(acts.supers, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    default: break;
  }
}

}  // namespace

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
