// Packed-panel kernel for the 32-value block formats' linear layers with many rows (K-quants: quant_packed_supers.h),
// and the entry for all block formats (run_packed), built once per instruction set and vector width V (int8_steps.h:
// Ymm, 8 lanes; Zmm, 16). A column chunk of W is unpacked once into a column-interleaved panel: per group of
// V::kLanes columns and block, 8 vectors each holding one 4-code quad of all the group's columns (lane c = column c),
// plus their fp32 scales (and mins). A register tile of 4 rows x 1 or 2 groups broadcasts each activation quad and
// takes its int8 dot products against the panel vectors, so each block's exact int32 dot products land one per lane
// with no horizontal adds. The fp32 steps are tile_group's (quant_blocks_avx2.h) for every output: block b's term
// goes into chain b % 8 (one vector per chain here, one lane per chain there) and the chains are added in
// horizontal_sum's order, so results are bit-identical to the decode kernel (quant_linear_avx2.cpp) at either width.
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

constexpr int kQuads = kQuantBlock / 4;
constexpr int kTileRows = 4;
constexpr int kChains = 8;  // fp32 chains per output, as tile_group's 8 lanes

// How the signed formats (Q8_0, IQ4_NL) meet the int8 step's unsigned operand. Ymm: as the decode kernel, the
// weights' magnitudes against the activations given the weights' signs (vpsignb, per row and column group). There is
// no 512-bit vpsignb, so Zmm takes the activations + 128 (xor 0x80: unsigned) against the signed codes and starts
// each block's sums at -128 x the column's code sum: the same exact int32 dot products (each quad at most
// 4 x 255 x 128, far within int32; vpdpbusd does not saturate), and no sign step at all.
template <WeightFormat F, typename V>
constexpr bool shifts_activations() { return Block32Traits<F>::kSigned && V::kLanes == 16; }

// Columns [col_begin, col_begin + cols) of w, in groups of V::kLanes columns (the last one zero-padded), each block b
// of group g at slot g * padded_blocks + b, quad k of column c in 32-bit lane c of vector k: kQuads vectors of the
// int8 step's unsigned operand (the codes; for the signed formats their magnitudes) unless the activations are
// shifted, and for the signed formats kQuads vectors of signed codes (and, shifted, one vector of -128 x each column's
// code sum); then V::kLanes scales (and mins), column c's at c.
template <WeightFormat F, typename V>
struct Panel {
  using Int = typename V::Int;
  int padded_blocks;
  Int* magnitudes;
  Int* codes;
  Int* shifts;
  float* scales;
  float* mins;
  size_t slot(int group, int b) const { return static_cast<size_t>(group) * padded_blocks + b; }
};

// Lane sums of the 4 signed codes in each 32-bit lane.
inline __m256i quad_sums(__m256i codes) { return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), codes), ones16()); }

template <WeightFormat F, typename V>
Panel<F, V> pack_panel(const WeightMatrix& w, int col_begin, int cols, Scratch& scratch) {
  using Int = typename V::Int;
  constexpr int kLanes = V::kLanes, kHalves = kLanes / 8;  // 8-column halves (transposed 8 by 8) per vector
  constexpr bool kShifted = shifts_activations<F, V>();
  const int num_blocks = w.cols / kQuantBlock, padded_blocks = (num_blocks + 7) / 8 * 8;
  const int groups = (cols + kLanes - 1) / kLanes;
  const size_t slots = static_cast<size_t>(groups) * padded_blocks;
  constexpr int kMagnitudeSets = kShifted ? 0 : 1, kCodeSets = Block32Traits<F>::kSigned ? 1 : 0;
  constexpr int kVectors = kQuads * (kMagnitudeSets + kCodeSets) + (kShifted ? 1 : 0);  // per slot
  constexpr int kFloatSets = Block32Traits<F>::kMin ? 2 : 1;
  // Per slot: kVectors vectors and kLanes floats per float set; plus one vector so the vectors can start aligned.
  float* base = scratch.floats(slots * kLanes * (kVectors + kFloatSets) + kLanes);
  auto* vectors = reinterpret_cast<Int*>((reinterpret_cast<uintptr_t>(base) + sizeof(Int) - 1) & ~uintptr_t{sizeof(Int) - 1});
  Int* const codes = vectors + slots * kQuads * kMagnitudeSets;
  Int* const shifts = codes + slots * kQuads * kCodeSets;
  float* floats = reinterpret_cast<float*>(shifts + (kShifted ? slots : 0));
  Panel<F, V> panel{padded_blocks, kMagnitudeSets ? vectors : nullptr, kCodeSets ? codes : nullptr,
                    kShifted ? shifts : nullptr, floats, kFloatSets == 2 ? floats + slots * kLanes : nullptr};
  for (int g = 0; g < groups; ++g) {
    for (int h = 0; h < kHalves; ++h) {
      const int first = g * kLanes + 8 * h, count = std::max(0, std::min(8, cols - first));
      const uint8_t* rows[8];
      for (int c = 0; c < count; ++c) rows[c] = static_cast<const uint8_t*>(w.row_ptr(col_begin + first + c));
      for (int b = 0; b < padded_blocks; ++b) {
        const size_t at = panel.slot(g, b);
        __m256 quads[8];  // column c's codes in, quad k of every column out
        for (int c = 0; c < 8; ++c) {
          const bool real = c < count && b < num_blocks;
          quads[c] = real ? _mm256_castsi256_ps(block_codes<F>(rows[c], b)) : _mm256_setzero_ps();
          const Block32<F>* block = real ? reinterpret_cast<const Block32<F>*>(rows[c]) + b : nullptr;
          panel.scales[at * kLanes + 8 * h + c] = block ? half_to_float(block->d) : 0.f;
          if constexpr (Block32Traits<F>::kMin) panel.mins[at * kLanes + 8 * h + c] = block ? half_to_float(block->m) : 0.f;
        }
        transpose8(quads);
        __m256i code_sums = _mm256_setzero_si256();
        for (int k = 0; k < kQuads; ++k) {
          const __m256i quad = _mm256_castps_si256(quads[k]);
          if (panel.magnitudes) _mm256_store_si256(half_of(panel.magnitudes + at * kQuads + k, h), block_magnitudes<F>(quad));
          if (panel.codes) _mm256_store_si256(half_of(panel.codes + at * kQuads + k, h), quad);
          if constexpr (kShifted) code_sums = _mm256_add_epi32(code_sums, quad_sums(quad));
        }
        if constexpr (kShifted) _mm256_store_si256(half_of(panel.shifts + at, h), _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(code_sums, 7)));
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

// Column groups per tile: 2 (4 x 16 outputs on Ymm, 4 x 32 on Zmm: each broadcast activation quad meets two panel
// vectors), except the signed formats on AVX2: they also hold a codes vector per group for the sign step and
// measured faster with one group (4 x 8), their registers no longer spilling. The VNNI builds (one instruction per
// quad, fewer temporaries) measured Q8_0 faster with 2 (docs/PERFORMANCE.md).
template <WeightFormat F>
constexpr int tile_groups() { return Block32Traits<F>::kSigned && !kVnni ? 1 : 2; }

// out[i * out_stride + kLanes g + c] = activation row m + i . column c of panel group group + g, for MR rows x NG
// groups (only the first `width` columns stored).
template <WeightFormat F, typename V, int MR, int NG>
void dot_tile(const Panel<F, V>& panel, int group, const QuantizedActivations& acts, int m, int num_blocks, float* out,
              size_t out_stride, int width) {
  using Traits = Block32Traits<F>;
  using Int = typename V::Int;
  using Float = typename V::Float;
  constexpr int kLanes = V::kLanes;
  constexpr bool kShifted = shifts_activations<F, V>();
  const ActivationBlock* a_blocks[MR];
  const float* a_scales[MR];
  const int32_t* a_sums[MR];
  for (int i = 0; i < MR; ++i) {
    a_blocks[i] = acts.blocks + static_cast<size_t>(m + i) * num_blocks;
    a_scales[i] = acts.block_scales + static_cast<size_t>(m + i) * acts.padded_blocks;
    a_sums[i] = acts.block_sums + static_cast<size_t>(m + i) * acts.padded_blocks;
  }
  Float chains[MR][NG][kChains];
  for (int i = 0; i < MR; ++i)
    for (int g = 0; g < NG; ++g)
      for (int l = 0; l < kChains; ++l) chains[i][g][l] = V::fzero();
  for (int b = 0; b < panel.padded_blocks; ++b) {
    Int dots[MR][NG];
    #pragma GCC unroll 4
    for (int i = 0; i < MR; ++i)
      #pragma GCC unroll 2
      for (int g = 0; g < NG; ++g) dots[i][g] = kShifted ? V::load(panel.shifts + panel.slot(group + g, b)) : V::zero();
    const Int* magnitudes[NG];
    const Int* codes[NG];
    for (int g = 0; g < NG; ++g) {
      magnitudes[g] = kShifted ? nullptr : panel.magnitudes + panel.slot(group + g, b) * kQuads;
      codes[g] = Traits::kSigned ? panel.codes + panel.slot(group + g, b) * kQuads : nullptr;
    }
    constexpr int kRun = quads_per_madd<F>();
    #pragma GCC unroll 8
    for (int run = 0; run < kQuads; run += kRun) {
      Int pairs[MR][NG];  // int16 pair sums of the run's quads (runs longer than one quad)
      #pragma GCC unroll 8
      for (int k = run; k < run + kRun; ++k) {
        Int wm[NG], wc[NG];
        #pragma GCC unroll 2
        for (int g = 0; g < NG; ++g) {
          if constexpr (!kShifted) wm[g] = V::load(magnitudes[g] + k);
          if constexpr (Traits::kSigned) wc[g] = V::load(codes[g] + k);
        }
        #pragma GCC unroll 4
        for (int i = 0; i < MR; ++i) {
          int32_t quad;
          std::memcpy(&quad, a_blocks[i][b].q + 4 * k, 4);
          const Int a = V::broadcast(kShifted ? quad ^ static_cast<int32_t>(0x80808080u) : quad);
          #pragma GCC unroll 2
          for (int g = 0; g < NG; ++g) {
            if constexpr (kShifted) {
              dots[i][g] = V::dot_quads(dots[i][g], a, wc[g]);
            } else {
              Int signed_a = a;
              if constexpr (Traits::kSigned) signed_a = V::sign8(a, wc[g]);
              if constexpr (kRun == 1) {
                dots[i][g] = V::dot_quads(dots[i][g], wm[g], signed_a);
              } else {
                const Int p = V::maddubs(wm[g], signed_a);
                pairs[i][g] = k == run ? p : V::add16(pairs[i][g], p);
              }
            }
          }
        }
      }
      if constexpr (kRun > 1) {
        const Int ones = V::broadcast(0x00010001);
        #pragma GCC unroll 4
        for (int i = 0; i < MR; ++i)
          #pragma GCC unroll 2
          for (int g = 0; g < NG; ++g) dots[i][g] = V::dot_pairs16(dots[i][g], pairs[i][g], ones);
      }
    }
    // tile_group's fp32 step for block b, in chain b % 8.
    Float w_scales[NG], w_mins[NG];
    for (int g = 0; g < NG; ++g) {
      w_scales[g] = V::loadu(panel.scales + panel.slot(group + g, b) * kLanes);
      if constexpr (Traits::kMin) w_mins[g] = V::loadu(panel.mins + panel.slot(group + g, b) * kLanes);
    }
    #pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const Float a_scale = V::fbroadcast(a_scales[i][b]);
      #pragma GCC unroll 2
      for (int g = 0; g < NG; ++g) {
        Int block_dots = dots[i][g];
        if constexpr (Traits::kOffsetShift > 0) block_dots = V::sub(block_dots, V::broadcast(a_sums[i][b] * (1 << Traits::kOffsetShift)));
        Float& chain = chains[i][g][b % kChains];
        chain = V::fmadd(V::to_float(block_dots), V::mul(w_scales[g], a_scale), chain);
        if constexpr (Traits::kMin) {
          const Float a_term = V::mul(a_scale, V::fbroadcast(static_cast<float>(a_sums[i][b])));
          chain = V::fmadd(w_mins[g], a_term, chain);
        }
      }
    }
  }
  for (int i = 0; i < MR; ++i) {
    for (int g = 0; g < NG; ++g) {
      const Float sums = sums_by_lane<V>(chains[i][g]);
      float* row_out = out + i * out_stride + g * kLanes;
      const int count = std::min(kLanes, width - g * kLanes);
      if (count == kLanes) {
        V::storeu(row_out, sums);
      } else {
        float lanes[kLanes];
        V::storeu(lanes, sums);
        for (int c = 0; c < count; ++c) row_out[c] = lanes[c];
      }
    }
  }
}

// All groups of the panel for MR rows from row m.
template <WeightFormat F, typename V, int MR>
void dot_rows(const Panel<F, V>& panel, int cols, const QuantizedActivations& acts, int m, int num_blocks, float* out,
              size_t out_stride) {
  constexpr int kLanes = V::kLanes, kTileGroups = tile_groups<F>();
  const int groups = (cols + kLanes - 1) / kLanes;
  int g = 0;
  for (; g + kTileGroups <= groups; g += kTileGroups) {
    dot_tile<F, V, MR, kTileGroups>(panel, g, acts, m, num_blocks, out + g * kLanes, out_stride, cols - g * kLanes);
  }
  for (; g < groups; ++g) dot_tile<F, V, MR, 1>(panel, g, acts, m, num_blocks, out + g * kLanes, out_stride, cols - g * kLanes);
}

template <WeightFormat F, typename V>
void packed(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
            int col_end, const float* bias, float* y, int y_stride) {
  static thread_local Scratch panel_scratch;
  const int cols = col_end - col_begin, num_blocks = w.cols / kQuantBlock;
  const Panel<F, V> panel = pack_panel<F, V>(w, col_begin, cols, panel_scratch);
  // Row tile by row tile, so that its activations stay in L1 while every column of the panel goes over them.
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int rows = std::min(kTileRows, row_end - m);
    float* out = y + static_cast<size_t>(m) * y_stride + col_begin;
    switch (rows) {
      case 1: dot_rows<F, V, 1>(panel, cols, acts, m, num_blocks, out, y_stride); break;
      case 2: dot_rows<F, V, 2>(panel, cols, acts, m, num_blocks, out, y_stride); break;
      case 3: dot_rows<F, V, 3>(panel, cols, acts, m, num_blocks, out, y_stride); break;
      default: dot_rows<F, V, kTileRows>(panel, cols, acts, m, num_blocks, out, y_stride); break;
    }
    if (bias) {
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) out[static_cast<size_t>(i) * y_stride + j] += bias[col_begin + j];
    }
  }
}

}  // namespace packed32

// quant_packed_block for any block format, in the instruction set this file is built for, on vectors V.
template <typename V>
inline void run_packed(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
                       int col_end, const float* bias, float* y, int y_stride) {
  switch (w.format) {
    case WeightFormat::Q8_0: packed32::packed<WeightFormat::Q8_0, V>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_0: packed32::packed<WeightFormat::Q4_0, V>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q4_1: packed32::packed<WeightFormat::Q4_1, V>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q5_0: packed32::packed<WeightFormat::Q5_0, V>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q5_1: packed32::packed<WeightFormat::Q5_1, V>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::IQ4_NL: packed32::packed<WeightFormat::IQ4_NL, V>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    case WeightFormat::Q2_K:
    case WeightFormat::Q3_K:
    case WeightFormat::Q4_K:
    case WeightFormat::Q5_K:
    case WeightFormat::Q6_K: packed_k::run_packed_supers<V>(acts.supers, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride); break;
    default: break;
  }
}

}  // namespace

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
