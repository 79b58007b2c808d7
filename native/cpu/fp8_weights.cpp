#include "fp8_weights.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels.h"

namespace pagedllm {
namespace cpu {

namespace {

// sign | exponent (exp_bits, bias) | mantissa (man_bits): normal 1.m x 2^(e - bias), subnormal 0.m x 2^(1 - bias).
float decode_minifloat(uint8_t code, int exp_bits, int man_bits, int bias) {
  const int exponent = (code >> man_bits) & ((1 << exp_bits) - 1);
  const int mantissa = code & ((1 << man_bits) - 1);
  const float magnitude = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), 1 - bias - man_bits)
                                        : std::ldexp(static_cast<float>((1 << man_bits) + mantissa), exponent - bias - man_bits);
  return (code & 0x80) ? -magnitude : magnitude;
}

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

}  // namespace

float fp8_e4m3_to_float(uint8_t code) {
  if ((code & 0x7F) == 0x7F) return std::numeric_limits<float>::quiet_NaN();
  return decode_minifloat(code, 4, 3, 7);
}

float fp8_e5m2_to_float(uint8_t code) {
  if ((code & 0x7C) == 0x7C) {
    if ((code & 0x03) != 0) return std::numeric_limits<float>::quiet_NaN();
    return (code & 0x80) ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
  }
  return decode_minifloat(code, 5, 2, 15);
}

void check_fp8_sizes(const TensorSource& t, size_t rows, size_t cols) {
  if (t.fp8_block_rows <= 0 || t.fp8_block_cols <= 0) throw std::runtime_error("tensor " + t.name + ": FP8 blocks must have positive sizes");
  const size_t scales = ceil_div(rows, t.fp8_block_rows) * ceil_div(cols, t.fp8_block_cols);
  const size_t scale_bytes = scales * (t.fp8_scales_dtype == DType::F32 ? 4 : 2);
  if (t.nbytes != rows * cols || t.fp8_scales_nbytes != scale_bytes) {
    throw std::runtime_error("tensor " + t.name + ": FP8 codes of " + std::to_string(t.nbytes) + " bytes and scales of " +
                             std::to_string(t.fp8_scales_nbytes) + " bytes do not hold " + std::to_string(rows) + " x " +
                             std::to_string(cols) + " values in blocks of " + std::to_string(t.fp8_block_rows) + " x " +
                             std::to_string(t.fp8_block_cols));
  }
}

std::vector<uint8_t> dequantize_fp8(const TensorSource& t, const std::vector<uint8_t>& codes, const std::vector<uint8_t>& scale_bytes) {
  const size_t cols = static_cast<size_t>(t.shape.back()), rows = codes.size() / cols;
  check_fp8_sizes(t, rows, cols);
  const size_t grid_cols = ceil_div(cols, t.fp8_block_cols);
  std::vector<float> scales(ceil_div(rows, t.fp8_block_rows) * grid_cols);
  convert_to_f32(t.fp8_scales_dtype, scale_bytes.data(), scales.data(), scales.size());
  float table[256];
  for (int code = 0; code < 256; ++code) {
    table[code] = t.fp8_e5m2 ? fp8_e5m2_to_float(static_cast<uint8_t>(code)) : fp8_e4m3_to_float(static_cast<uint8_t>(code));
  }
  std::vector<uint8_t> out(codes.size() * sizeof(float));
  float* values = reinterpret_cast<float*>(out.data());
  for (size_t r = 0; r < rows; ++r) {
    const float* scale_row = scales.data() + (r / t.fp8_block_rows) * grid_cols;
    for (size_t c = 0; c < cols; ++c) values[r * cols + c] = table[codes[r * cols + c]] * scale_row[c / t.fp8_block_cols];
  }
  return out;
}

}  // namespace cpu
}  // namespace pagedllm
