// Entry points of the packed-panel kernel for quantized linear layers with many rows (prefill, large batches).
#pragma once

#include "kernels.h"
#include "quant_formats.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

// From this many rows on, linear_quantized() uses quant_packed_block: unpacking a column chunk once into a panel
// pays off once enough rows share it. Fewer rows stay on the dot-product kernel (quant_linear_avx2.cpp), which
// reads the stored blocks directly (decode) and measured as fast for q8_0 at 8 rows. Both give bit-identical
// outputs, so the switch never shows.
constexpr int kQuantPackedMinRows = 16;
// Output columns per task (a multiple of the 32-value kernel's 16-column tile and of the K-quant 2-column tile): the
// chunk's panel stays in L2.
constexpr int kQuantPackedChunk = 48;

// Outputs rows [row_begin, row_end) x columns [col_begin, col_end) (at most kQuantPackedChunk columns) into
// y[m * y_stride + n], from the activations w's format takes. Same result, bit for bit, as quant_linear_block over
// the same rows and columns, in each build: AVX2 (quant_packed_avx2.cpp), and where the CPU has them AVX-VNNI and
// AVX512-VNNI + VL (quant_packed_*_vnni.cpp; packed_kernel() in quant_linear.cpp picks one).
void quant_packed_block(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w,
                        int col_begin, int col_end, const float* bias, float* y, int y_stride);
void quant_packed_block_avx_vnni(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w,
                                 int col_begin, int col_end, const float* bias, float* y, int y_stride);
void quant_packed_block_avx512_vnni(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w,
                                    int col_begin, int col_end, const float* bias, float* y, int y_stride);

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
