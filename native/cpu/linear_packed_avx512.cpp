// The packed-panel float GEMM (linear_panels.h) on 16-lane zmm vectors (-mavx512f -mavx512vl, native/CMakeLists.txt):
// 32-column panels, a 14 x 32 register tile. Same outputs, bit for bit, as the ymm build; run only where
// cpu_float_panel_width() finds AVX-512 with the OS saving zmm state.
#include "linear_panels.h"

#ifndef __AVX512F__
#error "build this file with -mavx512f -mavx512vl (native/CMakeLists.txt)"
#endif

namespace pagedllm {
namespace cpu {
namespace avx2 {

void linear_packed_columns_avx512(const float* x, int num_rows, const WeightMatrix& w, int col_begin, int col_end,
                                  const float* bias, float* y) {
  run_packed_columns<Zmm>(x, num_rows, w, col_begin, col_end, bias, y);
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
