// The packed prefill kernels (quant_packed_blocks.h) built for AVX2: int8 dot products through maddubs and madd.
#include "quant_packed_blocks.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

void quant_packed_block(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w,
                        int col_begin, int col_end, const float* bias, float* y, int y_stride) {
  run_packed<Ymm>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride);
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
