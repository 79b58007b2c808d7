// AVX2/FMA GEMM for linear layers: y = x W^T with W [N, K] row-major (PyTorch layout), as 8-lane dot products
// along K in register tiles: one tile over all rows up to 9 (decode batches, verification chunks), 4 rows x 3 columns
// beyond, or one weight row at a time for decode over short 16-bit rows. Weights in bf16/f16 are widened to fp32 in
// registers (F16C for f16) when few rows share them (bandwidth-bound), or widened once per column chunk into an
// L2-resident fp32 panel from 10 rows on. Every kernel here sums an output in
// the same order (see kWholeRow below), so a row's result is bitwise the same at any row count. From
// avx2::kPackedMinRows rows on (prefill, large batches) linear() uses the faster packed-panel kernel of
// linear_packed_avx2.cpp instead, unless asked for LinearOrder::kBatchInvariant.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels_avx2.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

constexpr int kTileRows = 4;
constexpr int kTileCols = 3;
// Up to this many rows one register tile spans them all (few_rows); 16-bit weights are read straight from storage
// up to there too, and from the next row count on converting a chunk once into an fp32 panel beats converting it in
// every row tile (8- and 9-row steps measured faster from storage, docs/PERFORMANCE.md).
constexpr int kFewRowsMax = 9;
constexpr int kPanelMinRows = kFewRowsMax + 1;

template <WeightFormat F>
constexpr size_t weight_bytes() {
  return F == WeightFormat::F32 ? 4 : 2;
}

template <WeightFormat F>
inline const void* weight_row(const void* base, int row, int k_dim) {
  return static_cast<const uint8_t*>(base) + static_cast<size_t>(row) * k_dim * weight_bytes<F>();
}

// Where a tile's weights come from and where its outputs go.
struct TileTarget {
  const void* weights;  // row 0 of the weight rows this block covers
  int k_dim;
  const float* bias;    // indexed by output column, or null
  float* y;             // row 0 of the output rows, column 0
  int ldy;
};

// Every kernel here sums an output in one order, whatever the row count: K (rounded down to a multiple of 8) is cut
// into Chunk-wide chunks, the last one shorter; each chunk's products go into one 8-lane accumulator in K order; the
// chunk accumulators are added up in K order, then summed across lanes, then the scalar K % 8 tail, then the bias.
// Chunks let the one-row kernel (row_dot) run several independent FMA chains inside one weight row, reading it in
// address order. They pay for 16-bit weights, whose rows are short streams (below); f32 keeps one chain per output.
constexpr int kWholeRow = 1 << 30;
constexpr int kHalfChunk = 128;

template <WeightFormat F>
constexpr int chunk_for() {
  return F == WeightFormat::F32 ? kWholeRow : kHalfChunk;
}

// sum + x[k] * w[k] for k in [from, to), one explicit FMA each: left to the compiler, a * b + c is contracted in some
// instantiations and not in others, and the widened-panel tiles would then round the tail unlike the one-row kernels.
template <WeightFormat F>
inline float add_tail(float sum, const float* x, const void* w_row, int from, int to) {
  for (int k = from; k < to; ++k) sum = std::fma(x[k], load_weight1<F>(w_row, k), sum);
  return sum;
}

// Tiles of several rows do several FMAs per weight vector, so their loop reaches fewer weight bytes ahead than the
// one-row kernels do, and the hardware prefetcher alone left them waiting on memory: they prefetch this far ahead
// in the weight stream (which runs through memory in address order, a chunk of whole rows per task). So does the
// one-row kernel over short 16-bit rows (row_dot), whole rows at a time.
constexpr size_t kPrefetchBytes = 4096;

// y[i, col + j] = x[i, :] . w[j, :] (+ bias) for an MR x NR tile; w rows start at weight row `w_row`.
template <WeightFormat F, int Chunk, int MR, int NR>
void micro_kernel(const float* x, const TileTarget& t, int w_row, int col) {
  const int k_dim = t.k_dim, k_vec = k_dim / 8 * 8;
  const void* w_rows[NR];
  for (int j = 0; j < NR; ++j) w_rows[j] = weight_row<F>(t.weights, w_row + j, k_dim);
  __m256 total[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) total[i][j] = _mm256_setzero_ps();
  for (int k0 = 0; k0 < k_vec; k0 += Chunk) {
    const int k1 = std::min(k_vec, k0 + Chunk);
    __m256 acc[MR][NR];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
    for (int k = k0; k < k1; k += 8) {
      if constexpr (MR > 1) {
        for (int j = 0; j < NR; ++j) {
          _mm_prefetch(static_cast<const char*>(w_rows[j]) + k * weight_bytes<F>() + kPrefetchBytes, _MM_HINT_T0);
        }
      }
      __m256 wv[NR];
      for (int j = 0; j < NR; ++j) wv[j] = load_weights8<F>(w_rows[j], k);
      for (int i = 0; i < MR; ++i) {
        __m256 xv = _mm256_loadu_ps(x + static_cast<size_t>(i) * k_dim + k);
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
      }
    }
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) total[i][j] = _mm256_add_ps(total[i][j], acc[i][j]);
  }
  for (int i = 0; i < MR; ++i) {
    const float* x_row = x + static_cast<size_t>(i) * k_dim;
    for (int j = 0; j < NR; ++j) {
      float sum = horizontal_sum(total[i][j]);
      sum = add_tail<F>(sum, x_row, w_rows[j], k_vec, k_dim);
      t.y[static_cast<size_t>(i) * t.ldy + col + j] = sum + (t.bias ? t.bias[col + j] : 0.f);
    }
  }
}

// G whole chunks from k0 side by side, each its own chain, added to total in K order.
template <WeightFormat F, int Chunk, int G>
inline __m256 chunk_group(const float* x, const void* w_row, int k0, __m256 total) {
  __m256 acc[G];
  for (int g = 0; g < G; ++g) acc[g] = _mm256_setzero_ps();
  for (int k = k0; k < k0 + Chunk; k += 8) {
    for (int g = 0; g < G; ++g) {
      const int kg = k + g * Chunk;
      acc[g] = _mm256_fmadd_ps(_mm256_loadu_ps(x + kg), load_weights8<F>(w_row, kg), acc[g]);
    }
  }
  for (int g = 0; g < G; ++g) total = _mm256_add_ps(total, acc[g]);
  return total;
}

// Decode (one row of x) reads chunked weight rows shorter than this one at a time (row_dot), longer ones kStreamRows
// side by side (micro_kernel<F, Chunk, 1, kStreamRows>): a short row is too short a stream for the prefetcher to get
// ahead of when several run side by side, while long rows side by side read fastest (measured, docs/PERFORMANCE.md).
constexpr size_t kShortRowBytes = 2048;
constexpr int kStreamRows = 4;

// One row of x against one weight row (the decode case), in micro_kernel's order: four chunks at a time, then two,
// then one, then the short last chunk.
template <WeightFormat F, int Chunk>
float row_dot(const float* x, const void* w_row, int k_dim) {
  const int k_vec = k_dim / 8 * 8;
  __m256 total = _mm256_setzero_ps();
  int k0 = 0;
  for (; k0 + 4 * Chunk <= k_vec; k0 += 4 * Chunk) total = chunk_group<F, Chunk, 4>(x, w_row, k0, total);
  if (k0 + 2 * Chunk <= k_vec) total = chunk_group<F, Chunk, 2>(x, w_row, k0, total), k0 += 2 * Chunk;
  if (k0 + Chunk <= k_vec) total = chunk_group<F, Chunk, 1>(x, w_row, k0, total), k0 += Chunk;
  if (k0 < k_vec) {
    __m256 acc = _mm256_setzero_ps();
    for (int k = k0; k < k_vec; k += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), load_weights8<F>(w_row, k), acc);
    total = _mm256_add_ps(total, acc);
  }
  float sum = horizontal_sum(total);
  sum = add_tail<F>(sum, x, w_row, k_vec, k_dim);
  return sum;
}

using MicroKernel = void (*)(const float*, const TileTarget&, int, int);

template <WeightFormat F, int Chunk, int MR>
constexpr MicroKernel pick_cols(int cols) {
  return cols == 1 ? micro_kernel<F, Chunk, MR, 1> : cols == 2 ? micro_kernel<F, Chunk, MR, 2> : micro_kernel<F, Chunk, MR, 3>;
}

template <WeightFormat F, int Chunk>
MicroKernel pick(int rows, int cols) {
  switch (rows) {
    case 1: return pick_cols<F, Chunk, 1>(cols);
    case 2: return pick_cols<F, Chunk, 2>(cols);
    case 3: return pick_cols<F, Chunk, 3>(cols);
    default: return pick_cols<F, Chunk, 4>(cols);
  }
}

// 2 .. kFewRowsMax rows (verification chunks, small decode batches): one register tile spans every row, so each
// weight vector is loaded once for all of them and a row past the first costs only its FMAs. Columns per tile
// (few_row_cols) keep at least 8 independent chains (FMA latency x throughput) in about the 16 vector registers:
// Rows x Cols accumulators, Cols weight vectors and one x vector (7 x 2 is one over; x can come from memory).
constexpr int few_row_cols(int rows) { return rows == 2 ? 4 : rows <= 4 ? 3 : rows <= 7 ? 2 : 1; }

template <WeightFormat F, int Chunk, int Rows>
void few_rows(const float* x_rows, const TileTarget& t, int w_first, int col_begin, int col_end) {
  constexpr int kCols = few_row_cols(Rows);
  int n = col_begin;
  for (; n + kCols <= col_end; n += kCols) micro_kernel<F, Chunk, Rows, kCols>(x_rows, t, w_first + n - col_begin, n);
  for (; n < col_end; ++n) micro_kernel<F, Chunk, Rows, 1>(x_rows, t, w_first + n - col_begin, n);
}

template <WeightFormat F, int Chunk>
void few_rows(const float* x_rows, int rows, const TileTarget& t, int w_first, int col_begin, int col_end) {
  switch (rows) {
    case 2: return few_rows<F, Chunk, 2>(x_rows, t, w_first, col_begin, col_end);
    case 3: return few_rows<F, Chunk, 3>(x_rows, t, w_first, col_begin, col_end);
    case 4: return few_rows<F, Chunk, 4>(x_rows, t, w_first, col_begin, col_end);
    case 5: return few_rows<F, Chunk, 5>(x_rows, t, w_first, col_begin, col_end);
    case 6: return few_rows<F, Chunk, 6>(x_rows, t, w_first, col_begin, col_end);
    case 7: return few_rows<F, Chunk, 7>(x_rows, t, w_first, col_begin, col_end);
    case 8: return few_rows<F, Chunk, 8>(x_rows, t, w_first, col_begin, col_end);
    default: return few_rows<F, Chunk, 9>(x_rows, t, w_first, col_begin, col_end);
  }
}

// Output rows [row_begin, row_end) x columns [col_begin, col_end); weight row w_first holds column col_begin.
template <WeightFormat F, int Chunk>
void tiles(const float* x, int row_begin, int row_end, const TileTarget& t, int w_first, int col_begin, int col_end) {
  const int k_dim = t.k_dim;
  if (row_end - row_begin == 1) {
    const float* x_row = x + static_cast<size_t>(row_begin) * k_dim;
    const TileTarget row_target{t.weights, k_dim, t.bias, t.y + static_cast<size_t>(row_begin) * t.ldy, t.ldy};
    int n = col_begin;
    if constexpr (Chunk != kWholeRow) {
      const size_t row_bytes = static_cast<size_t>(k_dim) * weight_bytes<F>();
      if (row_bytes < kShortRowBytes) {
        // Whole rows kPrefetchBytes ahead are requested before each dot: 1-8% faster on 0.1-32 MB matrices of 1 KB
        // rows (the long-row streams below measured slower with it, so they leave it to the hardware).
        const int ahead = static_cast<int>((kPrefetchBytes + row_bytes - 1) / row_bytes);
        for (; n < col_end; ++n) {
          if (n + ahead < col_end) {
            const char* next = static_cast<const char*>(weight_row<F>(t.weights, w_first + n + ahead - col_begin, k_dim));
            for (size_t offset = 0; offset < row_bytes; offset += 64) _mm_prefetch(next + offset, _MM_HINT_T0);
          }
          const float dot = row_dot<F, Chunk>(x_row, weight_row<F>(t.weights, w_first + n - col_begin, k_dim), k_dim);
          row_target.y[n] = dot + (t.bias ? t.bias[n] : 0.f);
        }
      }
    }
    for (; n + kStreamRows <= col_end; n += kStreamRows) {
      micro_kernel<F, Chunk, 1, kStreamRows>(x_row, row_target, w_first + n - col_begin, n);
    }
    for (; n < col_end; n += kTileCols) pick<F, Chunk>(1, std::min(kTileCols, col_end - n))(x_row, row_target, w_first + n - col_begin, n);
    return;
  }
  if (row_end - row_begin <= kFewRowsMax) {
    const TileTarget rows_target{t.weights, k_dim, t.bias, t.y + static_cast<size_t>(row_begin) * t.ldy, t.ldy};
    few_rows<F, Chunk>(x + static_cast<size_t>(row_begin) * k_dim, row_end - row_begin, rows_target, w_first, col_begin, col_end);
    return;
  }
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int rows = std::min(kTileRows, row_end - m);
    const float* x_tile = x + static_cast<size_t>(m) * k_dim;
    const TileTarget tile_target{t.weights, k_dim, t.bias, t.y + static_cast<size_t>(m) * t.ldy, t.ldy};
    for (int n = col_begin; n < col_end; n += kTileCols) {
      const int cols = std::min(kTileCols, col_end - n);
      pick<F, Chunk>(rows, cols)(x_tile, tile_target, w_first + n - col_begin, n);
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
      tiles<WeightFormat::F32, chunk_for<F>()>(x, row_begin, row_end, panel_target, 0, col_begin, col_end);
      return;
    }
  }
  tiles<F, chunk_for<F>()>(x, row_begin, row_end, target, 0, col_begin, col_end);
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
