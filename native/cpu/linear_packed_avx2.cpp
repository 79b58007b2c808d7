// The packed-panel float GEMM (linear_panels.h) on 8-lane ymm vectors: 16-column panels, a 6 x 16 register tile.
#include "linear_panels.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

void linear_packed_columns(const float* x, int num_rows, const WeightMatrix& w, int col_begin, int col_end,
                           const float* bias, float* y) {
  run_packed_columns<Ymm>(x, num_rows, w, col_begin, col_end, bias, y);
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
