// AVX2/FMA GEMM micro-kernel for linear layers: a 4-row x 3-column register tile of 8-lane dot products
// along K; bf16/f16 weights are widened to fp32 in registers (F16C for f16), accumulation is fp32.
#include <immintrin.h>

#include <algorithm>

#include "dtype_convert.h"
#include "kernels_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

constexpr int kTileRows = 4;
constexpr int kTileCols = 3;

template <WeightFormat F>
inline __m256 load_weights8(const void* row, int k) {
  if constexpr (F == WeightFormat::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(row) + k);
  } else {
    __m128i halves = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + k));
    if constexpr (F == WeightFormat::F16) {
      return _mm256_cvtph_ps(halves);
    } else {
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(halves), 16));
    }
  }
}

template <WeightFormat F>
inline float load_weight1(const void* row, int k) {
  if constexpr (F == WeightFormat::F32) {
    return static_cast<const float*>(row)[k];
  } else if constexpr (F == WeightFormat::F16) {
    return _cvtsh_ss(static_cast<const uint16_t*>(row)[k]);
  } else {
    return bf16_to_f32(static_cast<const uint16_t*>(row)[k]);
  }
}

inline float horizontal_sum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

// y[i, j] = x[i, :] . w[col + j, :] for an MR x NR tile.
template <WeightFormat F, int MR, int NR>
void micro_kernel(const float* x, int k_dim, const WeightMatrix& w, int col, const float* bias, float* y, int ldy) {
  const void* w_rows[NR];
  for (int j = 0; j < NR; ++j) w_rows[j] = w.row_ptr(col + j);
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
      y[static_cast<size_t>(i) * ldy + col + j] = total + (bias ? bias[col + j] : 0.f);
    }
  }
}

using MicroKernel = void (*)(const float*, int, const WeightMatrix&, int, const float*, float*, int);

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

template <WeightFormat F>
void block(const float* x, int row_begin, int row_end, const WeightMatrix& w, int col_begin, int col_end,
           const float* bias, float* y) {
  const int k_dim = w.cols;
  const int ldy = w.rows;
  for (int m = row_begin; m < row_end; m += kTileRows) {
    const int rows = std::min(kTileRows, row_end - m);
    const float* x_tile = x + static_cast<size_t>(m) * k_dim;
    float* y_tile = y + static_cast<size_t>(m) * ldy;
    for (int n = col_begin; n < col_end; n += kTileCols) {
      const int cols = std::min(kTileCols, col_end - n);
      pick<F>(rows, cols)(x_tile, k_dim, w, n, bias, y_tile, ldy);
    }
  }
}

}  // namespace

void linear_block(const float* x, int row_begin, int row_end, const WeightMatrix& w, int col_begin, int col_end,
                  const float* bias, float* y) {
  switch (w.format) {
    case WeightFormat::F32: block<WeightFormat::F32>(x, row_begin, row_end, w, col_begin, col_end, bias, y); break;
    case WeightFormat::BF16: block<WeightFormat::BF16>(x, row_begin, row_end, w, col_begin, col_end, bias, y); break;
    case WeightFormat::F16: block<WeightFormat::F16>(x, row_begin, row_end, w, col_begin, col_end, bias, y); break;
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
