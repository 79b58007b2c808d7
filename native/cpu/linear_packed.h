// Entry point of the packed-panel AVX2 GEMM used for linear layers with many rows (prefill, large batches).
#pragma once

#include "kernels.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

// From this many rows on, linear() uses linear_packed_columns: packing a weight panel pays off once enough rows
// share it. Fewer rows stay on the dot-product kernels of linear_avx2.cpp, which stream the stored weights at
// memory speed (decode) and measured as fast or faster up to about 48 rows with fp32 weights.
constexpr int kPackedMinRows = 48;
// Widest weight-column range one linear_packed_columns call should cover (its packed panels are this tall), and
// the same for the AVX-512 build.
constexpr int kPackedPanelCols = 16;
constexpr int kPackedPanelColsAvx512 = 32;

// y[m, n] (+ bias[n]) for all rows m in [0, num_rows) and columns n in [col_begin, col_end) (multiples of
// kPackedPanelCols except at the end of W). Packs 16 weight rows at a time into a k-major fp32 panel (widening
// bf16/f16 there, once per panel instead of once per row tile) and runs a 6x16 register tile over it
// (linear_panels.h). The AVX-512 build packs 32 rows and runs a 14x32 tile: the same outputs, bit for bit.
void linear_packed_columns(const float* x, int num_rows, const WeightMatrix& w, int col_begin, int col_end,
                           const float* bias, float* y);
void linear_packed_columns_avx512(const float* x, int num_rows, const WeightMatrix& w, int col_begin, int col_end,
                                  const float* bias, float* y);

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
