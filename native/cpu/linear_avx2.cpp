// AVX2/FMA GEMM for linear layers: y = x W^T with W [N, K] row-major (PyTorch layout), as 8-lane dot products
// along K in a 4-row x 3-column register tile. Weights in bf16/f16 are widened to fp32 in registers (F16C for
// f16) when few rows share them (decode: bandwidth-bound), or widened once per column chunk into an L2-resident
// fp32 panel from 8 rows on. Accumulation is always fp32, one accumulator per output fed in K order by every kernel
// here, so a row's result is the same at any row count. From avx2::kPackedMinRows rows on (prefill, large batches)
// linear() uses the faster packed-panel kernel of linear_packed_avx2.cpp instead, unless asked for LinearOrder::kBatchInvariant.
#include <immintrin.h>

#include <algorithm>

#include "kernels_avx2.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

constexpr int kTileRows = 4;
constexpr int kTileCols = 3;
// From this many rows on, converting a 16-bit weight chunk once beats converting it in every row tile.
constexpr int kPanelMinRows = 8;

template <WeightFormat F>
inline const void* weight_row(const void* base, int row, int k_dim) {
  constexpr size_t kBytes = F == WeightFormat::F32 ? 4 : 2;
  return static_cast<const uint8_t*>(base) + static_cast<size_t>(row) * k_dim * kBytes;
}

// Where a tile's weights come from and where its outputs go.
struct TileTarget {
  const void* weights;  // row 0 of the weight rows this block covers
  int k_dim;
  const float* bias;    // indexed by output column, or null
  float* y;             // row 0 of the output rows, column 0
  int ldy;
};

// y[i, col + j] = x[i, :] . w[j, :] (+ bias) for an MR x NR tile; w rows start at weight row `w_row`.
template <WeightFormat F, int MR, int NR>
void micro_kernel(const float* x, const TileTarget& t, int w_row, int col) {
  const int k_dim = t.k_dim;
  const void* w_rows[NR];
  for (int j = 0; j < NR; ++j) w_rows[j] = weight_row<F>(t.weights, w_row + j, k_dim);
  __m256 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 <= k_dim; k += 8) {
    __m256 wv[NR];
    for (int j = 0; j < NR; ++j) wv[j] = load_weights8<F>(w_rows[j], k);
    for (int i = 0; i < MR; ++i) {
      __m256 xv = _mm256_loadu_ps(x + static_cast<size_t>(i) * k_dim + k);
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    const float* x_row = x + static_cast<size_t>(i) * k_dim;
    for (int j = 0; j < NR; ++j) {
      float total = horizontal_sum(acc[i][j]);
      for (int kk = k; kk < k_dim; ++kk) total += x_row[kk] * load_weight1<F>(w_rows[j], kk);
      t.y[static_cast<size_t>(i) * t.ldy + col + j] = total + (t.bias ? t.bias[col + j] : 0.f);
    }
  }
}

// One row against kStreamRows weight rows, 32 columns of K per iteration (the decode case). Each output keeps a
// single accumulator fed chunk by chunk in K order, exactly as micro_kernel does, so a row's result does not depend
// on how many rows run with it (below kPackedMinRows). The kStreamRows independent FMA chains and 4 x kStreamRows
// weight loads per iteration keep enough reads in flight to stream long rows at the machine's read rate; software
// prefetch (within the row, or a later group of short rows) measured no faster, so there is none.
constexpr int kStreamRows = 4;

template <WeightFormat F>
void vector_kernel(const float* x, const TileTarget& t, int w_row, int col) {
  const int k_dim = t.k_dim;
  const void* w_rows[kStreamRows];
  for (int j = 0; j < kStreamRows; ++j) w_rows[j] = weight_row<F>(t.weights, w_row + j, k_dim);
  __m256 acc[kStreamRows];
  for (int j = 0; j < kStreamRows; ++j) acc[j] = _mm256_setzero_ps();
  int k = 0;
  for (; k + 32 <= k_dim; k += 32) {
    for (int c = 0; c < 32; c += 8) {
      const __m256 xv = _mm256_loadu_ps(x + k + c);
      for (int j = 0; j < kStreamRows; ++j) acc[j] = _mm256_fmadd_ps(xv, load_weights8<F>(w_rows[j], k + c), acc[j]);
    }
  }
  for (; k + 8 <= k_dim; k += 8) {
    const __m256 xv = _mm256_loadu_ps(x + k);
    for (int j = 0; j < kStreamRows; ++j) acc[j] = _mm256_fmadd_ps(xv, load_weights8<F>(w_rows[j], k), acc[j]);
  }
  for (int j = 0; j < kStreamRows; ++j) {
    float total = horizontal_sum(acc[j]);
    for (int kk = k; kk < k_dim; ++kk) total += x[kk] * load_weight1<F>(w_rows[j], kk);
    t.y[col + j] = total + (t.bias ? t.bias[col + j] : 0.f);
  }
}

using MicroKernel = void (*)(const float*, const TileTarget&, int, int);

template <WeightFormat F, int MR>
constexpr MicroKernel pick_cols(int cols) {
  return cols == 1 ? micro_kernel<F, MR, 1> : cols == 2 ? micro_kernel<F, MR, 2> : micro_kernel<F, MR, 3>;
}

template <WeightFormat F>
MicroKernel pick(int rows, int cols) {
  switch (rows) {
    case 1: return pick_cols<F, 1>(cols);
    case 2: return pick_cols<F, 2>(cols);
    case 3: return pick_cols<F, 3>(cols);
    default: return pick_cols<F, 4>(cols);
  }
}

// Output rows [row_begin, row_end) x columns [col_begin, col_end); weight row w_first holds column col_begin.
template <WeightFormat F>
void tiles(const float* x, int row_begin, int row_end, const TileTarget& t, int w_first, int col_begin, int col_end) {
  const int k_dim = t.k_dim;
  if (row_end - row_begin == 1) {
    const float* x_row = x + static_cast<size_t>(row_begin) * k_dim;
    const TileTarget row_target{t.weights, k_dim, t.bias, t.y + static_cast<size_t>(row_begin) * t.ldy, t.ldy};
    int n = col_begin;
    for (; n + kStreamRows <= col_end; n += kStreamRows) vector_kernel<F>(x_row, row_target, w_first + n - col_begin, n);
    for (; n < col_end; n += kTileCols) pick<F>(1, std::min(kTileCols, col_end - n))(x_row, row_target, w_first + n - col_begin, n);
    return;
  }
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int rows = std::min(kTileRows, row_end - m);
    const float* x_tile = x + static_cast<size_t>(m) * k_dim;
    const TileTarget tile_target{t.weights, k_dim, t.bias, t.y + static_cast<size_t>(m) * t.ldy, t.ldy};
    for (int n = col_begin; n < col_end; n += kTileCols) {
      const int cols = std::min(kTileCols, col_end - n);
      pick<F>(rows, cols)(x_tile, tile_target, w_first + n - col_begin, n);
    }
  }
}

template <WeightFormat F>
void widen_rows(const void* src, float* dst, size_t count) {
  const auto* in = static_cast<const uint16_t*>(src);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) _mm256_storeu_ps(dst + i, load_weights8<F>(in, static_cast<int>(i)));
  for (; i < count; ++i) dst[i] = load_weight1<F>(in, static_cast<int>(i));
}

template <WeightFormat F>
void block(const float* x, int row_begin, int row_end, const WeightMatrix& w, int col_begin, int col_end,
           const float* bias, float* y) {
  const TileTarget target{w.row_ptr(col_begin), w.cols, bias, y, w.rows};
  if constexpr (F != WeightFormat::F32) {
    if (row_end - row_begin >= kPanelMinRows) {
      thread_local Scratch panel_scratch;
      const size_t panel_floats = static_cast<size_t>(col_end - col_begin) * w.cols;
      float* panel = panel_scratch.floats(panel_floats);
      widen_rows<F>(target.weights, panel, panel_floats);
      const TileTarget panel_target{panel, w.cols, bias, y, w.rows};
      tiles<WeightFormat::F32>(x, row_begin, row_end, panel_target, 0, col_begin, col_end);
      return;
    }
  }
  tiles<F>(x, row_begin, row_end, target, 0, col_begin, col_end);
}

}  // namespace

void linear_block(const float* x, int row_begin, int row_end, const WeightMatrix& w, int col_begin, int col_end,
                  const float* bias, float* y) {
  switch (w.format) {
    case WeightFormat::F32: block<WeightFormat::F32>(x, row_begin, row_end, w, col_begin, col_end, bias, y); break;
    case WeightFormat::BF16: block<WeightFormat::BF16>(x, row_begin, row_end, w, col_begin, col_end, bias, y); break;
    case WeightFormat::F16: block<WeightFormat::F16>(x, row_begin, row_end, w, col_begin, col_end, bias, y); break;

    default: break;  // quantized formats take linear_quantized
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
