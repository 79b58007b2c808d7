// The packed prefill kernels (quant_packed_blocks.h) built for AVX512-VNNI + BW + VL (-mavx512vnni -mavx512bw
// -mavx512vl): vpdpbusd / vpdpwssd on 512-bit vectors (Zmm: 16 columns per 32-value panel vector, two K-quant
// columns per vector), the same outputs bit for bit as the 256-bit builds.
#include "quant_packed_blocks.h"

static_assert(pagedllm::cpu::avx2::kVnni, "build this file with -mavx512vnni -mavx512bw -mavx512vl (native/CMakeLists.txt)");

namespace pagedllm {
namespace cpu {
namespace avx2 {

void quant_packed_block_avx512_vnni(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w,
                                    int col_begin, int col_end, const float* bias, float* y, int y_stride) {
  run_packed<Zmm>(acts, row_begin, row_end, w, col_begin, col_end, bias, y, y_stride);
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
