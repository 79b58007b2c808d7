// Linear layers over block-quantized weights: activations quantized to 8 bits per 32 values (per 256 for K-quants),
// integer dot products per block, one fp32 accumulation order per output whatever the batch (so results are batch
// invariant).
#pragma once

#include <vector>

#include "kernels.h"
#include "quant_formats.h"

namespace pagedllm {
namespace cpu {

// y[m, n] = x[m, :] . w[n, :] (+ bias) for a quantized w, plain or stacked (see linear()).
void linear_quantized(ThreadPool& pool, const float* x, int num_rows, const WeightMatrix& w, const float* bias, float* y);

// One matrix of the parts' rows in order, each part kept in its own block format: the part itself when there is
// one, else a stacked matrix (WeightMatrix::segments). Throws std::invalid_argument unless every part is block-quantized,
// unstacked and has the same number of columns.
WeightMatrix stack_quantized(std::vector<WeightMatrix> parts);

namespace avx2 {
// Outputs rows [row_begin, row_end) x columns [col_begin, col_end) into y[m * y_stride + n], from the activations
// w's format takes.
void quant_linear_block(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
                        int col_end, const float* bias, float* y, int y_stride);
// quantize_activations (quant_formats.h), the same values with AVX2.
void quantize_activations(const float* x, ActivationBlock* out, int n);
void quantize_activations(const float* x, ActivationSuperBlock* out, int n);
}  // namespace avx2

}  // namespace cpu
}  // namespace pagedllm
