// Packed-panel AVX2 kernel for Q8_0 / Q4_0 linear layers with many rows (K-quants: quant_packed_k_avx2.cpp), and the
// entry point for all block formats: a column chunk of W is unpacked once into a
// panel of int8 codes and fp32 scales, then a 4-row x 2-column register tile walks all rows over it, so each loaded
// weight block serves 4 rows and each activation block 2 columns. Every output sums the same fp32 terms in the same
// order as the dot-product kernel (quant_linear_avx2.cpp: one accumulator for even blocks, one for odd, in K order;
// here one pass per parity, which halves the registers a tile needs), so results are bit-identical whichever kernel a
// batch takes.
#include "quant_packed.h"

#include <immintrin.h>

#include <algorithm>

#include "quant_blocks_avx2.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

// 4 x 2 outputs, one accumulator each per parity pass: 8 of the 16 ymm registers (4 x 3 and 6 x 2 measured no faster).
constexpr int kTileRows = 4;
constexpr int kTileCols = 2;
constexpr int kMinLanes = 8;  // rows per vector of min terms

template <WeightFormat F>
constexpr bool kUnsignedCodes = F == WeightFormat::Q4_0;

// One chunk of unpacked weight columns, column-major by block (column j block b at index j * num_blocks + b): the
// maddubs-ready magnitudes (the codes themselves when unsigned), the signed codes whose signs the activations take
// (signed formats) and the fp32 scale and min.
struct Panel {
  int num_blocks;
  __m256i* magnitudes;
  __m256i* codes;  // signed formats only
  float* scale;
  float* min;
};

template <WeightFormat F>
Panel pack_panel(const WeightMatrix& w, int col_begin, int cols, Scratch& scratch) {
  const int num_blocks = w.cols / kQuantBlock;
  const size_t blocks = static_cast<size_t>(cols) * num_blocks;
  constexpr bool kSigned = !kUnsignedCodes<F>;
  constexpr int kVectors = 1 + kSigned;
  // 8 floats per ymm; one extra ymm so the vectors can start 32-byte aligned.
  float* base = scratch.floats(blocks * (8 * kVectors + 2) + 8);
  auto* next = reinterpret_cast<__m256i*>((reinterpret_cast<uintptr_t>(base) + 31) & ~uintptr_t{31});
  Panel panel{num_blocks, next, nullptr, nullptr, nullptr};
  next += blocks;
  if (kSigned) panel.codes = next, next += blocks;
  panel.scale = reinterpret_cast<float*>(next);
  panel.min = panel.scale + blocks;
  for (int j = 0; j < cols; ++j) {
    const size_t first = static_cast<size_t>(j) * num_blocks;
    for_each_block<F>(static_cast<const uint8_t*>(w.row_ptr(col_begin + j)), num_blocks, [&](int b, const WeightBlock& block, auto) {
      if constexpr (kSigned) {
        _mm256_store_si256(panel.magnitudes + first + b, _mm256_sign_epi8(block.codes, block.codes));
        _mm256_store_si256(panel.codes + first + b, block.codes);
      } else {
        _mm256_store_si256(panel.magnitudes + first + b, block.codes);
      }
      panel.scale[first + b] = block.scale;
      panel.min[first + b] = block.min;
    });
  }
  return panel;
}

// acc[i][j] = sum over blocks b = P, P + 2, ... of cvt(int dot) * (w.scale * a.d), fused in that order: exactly one
// of the two accumulators the dot-product kernel keeps per output.
template <WeightFormat F, int MR, int NR, int P>
inline void parity_pass(const Panel& panel, int col, const ActivationBlock* const* rows, float* result) {
  // Local accumulators, stored once at the end (written through an array parameter, they were stored every block).
  __m256 acc[MR][NR];
  #pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
    #pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
  const int num_blocks = panel.num_blocks;
  const size_t first = static_cast<size_t>(col) * num_blocks;
  for (int b = P; b < num_blocks; b += 2) {
    __m256i magnitudes[NR];
    __m256 w_scale[NR];
    #pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) {
      magnitudes[j] = _mm256_load_si256(panel.magnitudes + first + j * num_blocks + b);
      w_scale[j] = _mm256_broadcast_ss(panel.scale + first + j * num_blocks + b);
    }
    #pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const ActivationBlock& a = rows[i][b];
      const __m256i acts = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q));
      const __m256 a_scale = _mm256_broadcast_ss(&a.d);
      #pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) {
        const size_t at = first + j * num_blocks + b;
        __m256i signed_acts = acts;
        if constexpr (!kUnsignedCodes<F>) signed_acts = _mm256_sign_epi8(acts, _mm256_load_si256(panel.codes + at));
        const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(magnitudes[j], signed_acts), ones16());
        acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(w_scale[j], a_scale), acc[i][j]);
      }
    }
  }
  #pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
    #pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) _mm256_store_ps(result + 8 * (i * NR + j), acc[i][j]);
}

// The MR x NR outputs at rows[0..MR) x panel columns [col, col + NR), without their min terms, into out[i][j].
template <WeightFormat F, int MR, int NR>
void dot_tile(const Panel& panel, int col, const ActivationBlock* const* rows, float* out, int out_stride) {
  alignas(32) float even[MR * NR * 8], odd[MR * NR * 8];
  parity_pass<F, MR, NR, 0>(panel, col, rows, even);
  parity_pass<F, MR, NR, 1>(panel, col, rows, odd);
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < NR; ++j) {
      const int at = 8 * (i * NR + j);
      out[i * out_stride + col + j] = horizontal_sum(_mm256_add_ps(_mm256_load_ps(even + at), _mm256_load_ps(odd + at)));
    }
  }
}

template <WeightFormat F, int MR>
void dot_row_tile(const Panel& panel, int cols, const ActivationBlock* const* rows, float* out, int out_stride) {
  int col = 0;
  for (; col + kTileCols <= cols; col += kTileCols) dot_tile<F, MR, kTileCols>(panel, col, rows, out, out_stride);
  for (; col < cols; ++col) dot_tile<F, MR, 1>(panel, col, rows, out, out_stride);
}

// mins[m * cols + j] = the min terms of row m, column j, 8 rows at a time (d_sums: block-major, rows padded to 8):
// per lane the same fused multiply-adds, in the same two chains (even / odd blocks), as the dot-product kernel's
// scalar code (which the compiler contracts to FMAs; the bitwise tests would catch a change).
void min_terms(const Panel& panel, int cols, const float* d_sums, int num_rows, float* mins) {
  const int num_blocks = panel.num_blocks;
  const int padded_rows = (num_rows + kMinLanes - 1) / kMinLanes * kMinLanes;
  for (int m = 0; m < num_rows; m += kMinLanes) {
    for (int j = 0; j < cols; ++j) {
      const float* w_min = panel.min + static_cast<size_t>(j) * num_blocks;
      __m256 chain[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
      for (int b = 0; b < num_blocks; ++b) {
        chain[b & 1] = _mm256_fmadd_ps(_mm256_broadcast_ss(w_min + b), _mm256_loadu_ps(d_sums + static_cast<size_t>(b) * padded_rows + m), chain[b & 1]);
      }
      alignas(32) float total[kMinLanes];
      _mm256_store_ps(total, _mm256_add_ps(chain[0], chain[1]));
      for (int i = 0; i < kMinLanes && m + i < num_rows; ++i) mins[static_cast<size_t>(m + i) * cols + j] = total[i];
    }
  }
}

template <WeightFormat F>
void packed(const ActivationBlock* acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin, int col_end,
            const float* bias, float* y, int y_stride) {
  static thread_local Scratch panel_scratch, out_scratch;
  const int cols = col_end - col_begin, num_rows = row_end - row_begin;
  const Panel panel = pack_panel<F>(w, col_begin, cols, panel_scratch);
  const int num_blocks = panel.num_blocks;
  // Per row block: the dot parts, and (4-bit formats) the d_sums block-major padded to whole vectors, then the mins.
  const int padded_rows = (num_rows + kMinLanes - 1) / kMinLanes * kMinLanes;
  float* dots = out_scratch.floats(static_cast<size_t>(num_rows) * cols * 2 + static_cast<size_t>(num_blocks) * padded_rows);
  float* mins = dots + static_cast<size_t>(num_rows) * cols;
  float* d_sums = mins + static_cast<size_t>(num_rows) * cols;
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int count = std::min(kTileRows, row_end - m);
    const ActivationBlock* rows[kTileRows];
    for (int i = 0; i < count; ++i) rows[i] = acts + static_cast<size_t>(m + i) * num_blocks;
    float* out = dots + static_cast<size_t>(m - row_begin) * cols;
    if (count == kTileRows) dot_row_tile<F, kTileRows>(panel, cols, rows, out, cols);
    else for (int i = 0; i < count; ++i) dot_row_tile<F, 1>(panel, cols, rows + i, out + i * cols, cols);  // last rows
  }
  if constexpr (kUnsignedCodes<F>) {
    for (int b = 0; b < num_blocks; ++b) {
      for (int m = 0; m < padded_rows; ++m) {
        d_sums[static_cast<size_t>(b) * padded_rows + m] = m < num_rows ? acts[static_cast<size_t>(row_begin + m) * num_blocks + b].d_sum : 0.f;
      }
    }
    min_terms(panel, cols, d_sums, num_rows, mins);
  }
  for (int m = 0; m < num_rows; ++m) {
    float* y_row = y + static_cast<size_t>(row_begin + m) * y_stride + col_begin;
    for (int j = 0; j < cols; ++j) {
      const size_t at = static_cast<size_t>(m) * cols + j;
      const float out = dots[at] - (kUnsignedCodes<F> ? mins[at] : 0.f);
      y_row[j] = out + (bias ? bias[col_begin + j] : 0.f);
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
