// FP8 checkpoint weights (safetensors F8_E4M3 / F8_E5M2, one code a value) dequantized to f32 at load: each value is
// its code's float times the float scale of its block (transformers' finegrained_fp8 `weight_scale_inv`, 128x128
// blocks; compressed-tensors' `weight_scale`, per tensor or per row), as transformers' Fp8Dequantize multiplies.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "pagedllm/backend.h"

namespace pagedllm {
namespace cpu {

// OCP e4m3fn (torch.float8_e4m3fn): bias 7, subnormals, no infinities, only S.1111.111 is NaN; the largest is 448.
float fp8_e4m3_to_float(uint8_t code);
// e5m2 (torch.float8_e5m2): bias 15, subnormals, IEEE infinities and NaNs.
float fp8_e5m2_to_float(uint8_t code);

// Throws unless t's codes are rows x cols and its scales one per block of the (rounded-up) grid.
void check_fp8_sizes(const TensorSource& t, size_t rows, size_t cols);

// t's codes [rows, cols] times their block's scale (scale_bytes: t.fp8_scales_dtype) as f32 bytes.
std::vector<uint8_t> dequantize_fp8(const TensorSource& t, const std::vector<uint8_t>& codes, const std::vector<uint8_t>& scale_bytes);

}  // namespace cpu
}  // namespace pagedllm
