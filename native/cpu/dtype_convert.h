// Conversions between fp32 and the 16-bit float formats weights are stored in (IEEE f16, bfloat16).
#pragma once
#include <cstdint>
#include <cstring>

namespace pagedllm {

inline float bf16_to_f32(uint16_t bits) {
  uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float out;
  std::memcpy(&out, &wide, 4);
  return out;
}

// Round to nearest even, as torch does; NaN stays NaN.
inline uint16_t f32_to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float f16_to_f32(uint16_t bits);
uint16_t f32_to_f16(float value);

// Bulk forms used at load time and by the scalar kernels.
void f16_to_f32_array(const uint16_t* in, float* out, size_t n);
void bf16_to_f32_array(const uint16_t* in, float* out, size_t n);

}  // namespace pagedllm
