// The packed prefill kernels (quant_packed_blocks.h) built for AVX-VNNI (-mavxvnni): vpdpbusd / vpdpwssd, VEX form.
#include "quant_packed_blocks.h"

static_assert(pagedllm::cpu::avx2::kVnni, "build this file with -mavxvnni (native/CMakeLists.txt)");

namespace pagedllm {
namespace cpu {
namespace avx2 {

void quant_packed_block_avx_vnni(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w,
                                 int col_begin, int col_end, const float* bias, float* y, int y_stride) {
  run_packed<Ymm>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride);
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
