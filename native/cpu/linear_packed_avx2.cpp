// Packed-panel AVX2/FMA GEMM for linear layers with many rows: y = x W^T with W [N, K] row-major. Sixteen weight
// rows at a time are transposed (and widened from bf16/f16) into a 64-byte-aligned k-major fp32 panel (one cache
// line per k step, at most 32 KB), and a 6x16 register tile walks all rows of x over it: each k step broadcasts one
// x value per row and does 12 FMAs against two panel vectors, with no horizontal sums. While one panel is in use
// the next one's weights are prefetched, so the LM head's stream from memory overlaps the arithmetic.
#include "linear_packed.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

constexpr int kTileRows = 6;
constexpr int kPanelCols = kPackedPanelCols;  // two ymm vectors
// Longest K block: the y tile is re-read once per further block, so fewer blocks win over keeping a 16 x KC panel
// inside L1 (measured: 512 beats 256 and 768 for K = 512 and 1536).
constexpr int kMaxKBlock = 512;

// panel[k * 16 + j] = W[n0 + j, k0 + k] for j < rows (zeros above: they feed output columns nobody stores).
template <WeightFormat F>
void pack_panel(const WeightMatrix& w, int n0, int rows, int k0, int kc, float* panel) {
  constexpr size_t kBytes = F == WeightFormat::F32 ? 4 : 2;
  const auto* base = static_cast<const uint8_t*>(w.storage.data());
  for (int half = 0; half < 2; ++half) {
    const int first = half * 8;
    const int count = std::clamp(rows - first, 0, 8);
    float* out = panel + first;
    if (count == 8) {
      const void* src[8];
      for (int j = 0; j < 8; ++j) src[j] = base + (static_cast<size_t>(n0 + first + j) * w.cols + k0) * kBytes;
      int k = 0;
      for (; k + 8 <= kc; k += 8) {
        __m256 block[8];
        for (int j = 0; j < 8; ++j) block[j] = load_weights8<F>(src[j], k);
        transpose8(block);
        for (int c = 0; c < 8; ++c) _mm256_store_ps(out + static_cast<size_t>(k + c) * kPanelCols, block[c]);
      }
      for (; k < kc; ++k)
        for (int j = 0; j < 8; ++j) out[static_cast<size_t>(k) * kPanelCols + j] = load_weight1<F>(src[j], k);
    } else {
      for (int k = 0; k < kc; ++k)
        for (int j = 0; j < 8; ++j) {
          out[static_cast<size_t>(k) * kPanelCols + j] =
              j < count ? load_weight1<F>(base + (static_cast<size_t>(n0 + first + j) * w.cols + k0) * kBytes, k) : 0.f;
        }
    }
  }
}

// Walks the cache lines of the next weight panel (rows x row_bytes at row_stride), one prefetch per call, so the
// requests spread over the arithmetic instead of queueing up in bursts.
class PanelPrefetch {
 public:
  PanelPrefetch() = default;
  PanelPrefetch(const uint8_t* first_row, size_t row_stride, int rows, size_t row_bytes)
      : row_(first_row), row_stride_(row_stride), lines_per_row_((row_bytes + 63) / 64), rows_left_(rows) {}

  void step() {
    if (rows_left_ <= 0) return;
    _mm_prefetch(reinterpret_cast<const char*>(row_ + line_ * 64), _MM_HINT_T0);
    if (++line_ == lines_per_row_) line_ = 0, row_ += row_stride_, --rows_left_;
  }

 private:
  const uint8_t* row_ = nullptr;
  size_t row_stride_ = 0;
  size_t lines_per_row_ = 0;
  size_t line_ = 0;
  int rows_left_ = 0;
};

// Where a tile's results go: the first K block writes (plus bias), later ones add.
struct TileOutput {
  float* y;           // row 0, column 0 of the tile
  size_t ldy;
  int cols;           // valid columns, <= 16
  bool accumulate;
  __m256 init[2];     // bias (or zero) for the first K block
  __m256i mask[2];    // valid lanes when cols < 16
};

// y[i, 0..16) (+)= sum_k x[i, k] * panel[k, 0..16) for MR rows of x (row stride ldx); one prefetch of the next
// panel every 8 k steps.
template <int MR>
void tile(const float* x, size_t ldx, const float* panel, int kc, const TileOutput& out, PanelPrefetch& prefetch) {
  // Every loop over the tile is unrolled so the accumulators live in registers (GCC otherwise keeps the array on
  // the stack and stores it on every k step).
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  const float* rows[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) rows[i] = x + i * ldx;
  auto step = [&](int k) {
    const __m256 w0 = _mm256_load_ps(panel + static_cast<size_t>(k) * kPanelCols);
    const __m256 w1 = _mm256_load_ps(panel + static_cast<size_t>(k) * kPanelCols + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 a = _mm256_broadcast_ss(rows[i] + k);
      acc[i][0] = _mm256_fmadd_ps(a, w0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, w1, acc[i][1]);
    }
  };
  int k = 0;
  for (; k + 8 <= kc; k += 8) {
    prefetch.step();
#pragma GCC unroll 8
    for (int kk = 0; kk < 8; ++kk) step(k + kk);
  }
  for (; k < kc; ++k) step(k);
  const bool full = out.cols == kPanelCols;
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    float* dst = out.y + i * out.ldy;
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      __m256 base = out.init[h];
      if (out.accumulate) base = full ? _mm256_loadu_ps(dst + 8 * h) : _mm256_maskload_ps(dst + 8 * h, out.mask[h]);
      const __m256 sum = _mm256_add_ps(base, acc[i][h]);
      if (full) {
        _mm256_storeu_ps(dst + 8 * h, sum);
      } else {
        _mm256_maskstore_ps(dst + 8 * h, out.mask[h], sum);
      }
    }
  }
}

using TileFn = void (*)(const float*, size_t, const float*, int, const TileOutput&, PanelPrefetch&);
constexpr TileFn kTiles[kTileRows + 1] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>, tile<5>, tile<6>};

// K blocks of near-equal length (a multiple of 8, so the panel packing takes whole 8x8 transposes).
int k_block(int k_dim) {
  const int blocks = (k_dim + kMaxKBlock - 1) / kMaxKBlock;
  return std::min(k_dim, ((k_dim + blocks - 1) / blocks + 7) / 8 * 8);
}

template <WeightFormat F>
void packed_columns(const float* x, int num_rows, const WeightMatrix& w, int col_begin, int col_end, const float* bias,
                    float* y) {
  const int k_dim = w.cols;
  const int kc_max = k_block(k_dim);
  // One 64-byte-aligned panel: each k step of it is exactly one cache line.
  thread_local Scratch panel_scratch;
  float* raw = panel_scratch.floats(static_cast<size_t>(kc_max) * kPanelCols + 16);
  float* panel = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(raw) + 63) & ~uintptr_t{63});
  const size_t ldy = static_cast<size_t>(w.rows);
  constexpr size_t kBytes = F == WeightFormat::F32 ? 4 : 2;
  const auto* base = static_cast<const uint8_t*>(w.storage.data());
  for (int k0 = 0; k0 < k_dim; k0 += kc_max) {
    const int kc = std::min(kc_max, k_dim - k0);
    for (int n0 = col_begin; n0 < col_end; n0 += kPanelCols) {
      const int cols = std::min(kPanelCols, col_end - n0);
      pack_panel<F>(w, n0, cols, k0, kc, panel);
      TileOutput out{};
      out.ldy = ldy;
      out.cols = cols;
      out.accumulate = k0 > 0;
      for (int h = 0; h < 2; ++h) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        out.mask[h] = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - 8 * h), lane);
        out.init[h] = bias ? _mm256_maskload_ps(bias + n0 + 8 * h, out.mask[h]) : _mm256_setzero_ps();
      }
      // The next panel's weights are usually not in cache (the LM head streams from memory): the tiles fetch
      // them while they compute, so packing them does not stall on DRAM.
      int next_n0 = n0 + kPanelCols, next_k0 = k0;
      if (next_n0 >= col_end) next_n0 = col_begin, next_k0 = k0 + kc;
      PanelPrefetch prefetch;
      if (next_k0 < k_dim) {
        prefetch = PanelPrefetch(base + (static_cast<size_t>(next_n0) * k_dim + next_k0) * kBytes, k_dim * kBytes,
                                 std::min(kPanelCols, col_end - next_n0), std::min(kc_max, k_dim - next_k0) * kBytes);
      }
      for (int m = 0; m < num_rows; m += kTileRows) {
        const int rows = std::min(kTileRows, num_rows - m);
        out.y = y + static_cast<size_t>(m) * ldy + n0;
        kTiles[rows](x + static_cast<size_t>(m) * k_dim + k0, static_cast<size_t>(k_dim), panel, kc, out, prefetch);
      }
    }
  }
}

}  // namespace

void linear_packed_columns(const float* x, int num_rows, const WeightMatrix& w, int col_begin, int col_end,
                           const float* bias, float* y) {
  switch (w.format) {
    case WeightFormat::F32: packed_columns<WeightFormat::F32>(x, num_rows, w, col_begin, col_end, bias, y); break;
    case WeightFormat::BF16: packed_columns<WeightFormat::BF16>(x, num_rows, w, col_begin, col_end, bias, y); break;
    case WeightFormat::F16: packed_columns<WeightFormat::F16>(x, num_rows, w, col_begin, col_end, bias, y); break;

    default: break;  // quantized formats take linear_quantized
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
