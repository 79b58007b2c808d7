// Portable unpacking of every kernel block format into integer codes and scales: the portable linear kernel's view
// of a block (quant_linear.cpp), in the same integer terms as the AVX2 kernels' (quant_blocks_avx2.h, quant_supers_avx2.h).
#include <cstring>
#include <stdexcept>
#include <string>

#include "dtype_convert.h"
#include "quant_formats.h"

namespace pagedllm {
namespace cpu {

namespace {

// Code j of a 32-value block's nibbles (Q4_0 order), with the fifth bit from qh when given.
int nibble_code(const uint8_t* qs, const uint8_t* qh, int j) {
  uint32_t high = 0;
  if (qh) std::memcpy(&high, qh, 4);
  return (j < 16 ? qs[j] & 0xF : qs[j - 16] >> 4) | static_cast<int>(((high >> j) & 1) << 4);
}

}  // namespace

void block32_codes(WeightFormat format, const uint8_t* block, int8_t* codes, float* d, float* m) {
  *m = 0;
  switch (format) {
    case WeightFormat::Q8_0: {
      const auto& b = *reinterpret_cast<const BlockQ8_0*>(block);
      *d = f16_to_f32(b.d);
      std::memcpy(codes, b.qs, 32);
      return;
    }
    case WeightFormat::Q4_0:
    case WeightFormat::IQ4_NL: {
      const auto& b = *reinterpret_cast<const BlockQ4_0*>(block);  // IQ4_NL: the same bytes, other levels
      *d = f16_to_f32(b.d);
      for (int j = 0; j < 32; ++j) codes[j] = static_cast<int8_t>(format == WeightFormat::Q4_0 ? nibble_code(b.qs, nullptr, j) - 8 : kIq4Values[nibble_code(b.qs, nullptr, j)]);
      return;
    }
    case WeightFormat::Q5_0: {
      const auto& b = *reinterpret_cast<const BlockQ5_0*>(block);
      *d = f16_to_f32(b.d);
      for (int j = 0; j < 32; ++j) codes[j] = static_cast<int8_t>(nibble_code(b.qs, b.qh, j) - 16);
      return;
    }
    case WeightFormat::Q4_1: {
      const auto& b = *reinterpret_cast<const BlockQ4_1*>(block);
      *d = f16_to_f32(b.d), *m = f16_to_f32(b.m);
      for (int j = 0; j < 32; ++j) codes[j] = static_cast<int8_t>(nibble_code(b.qs, nullptr, j));
      return;
    }
    case WeightFormat::Q5_1: {
      const auto& b = *reinterpret_cast<const BlockQ5_1*>(block);
      *d = f16_to_f32(b.d), *m = f16_to_f32(b.m);
      for (int j = 0; j < 32; ++j) codes[j] = static_cast<int8_t>(nibble_code(b.qs, b.qh, j));
      return;
    }
    default: throw std::invalid_argument(std::string("block32_codes: ") + format_name(format));
  }
}

bool super_codes(WeightFormat format, const uint8_t* block, uint8_t* codes, int* scales, int* offsets, float* d, float* dmin) {
  *dmin = 0;
  switch (format) {
    case WeightFormat::Q4_K:
    case WeightFormat::Q5_K: {
      // Q5_K is Q4_K's layout with qh inserted before qs.
      const auto& b = *reinterpret_cast<const BlockQ5_K*>(block);
      const uint8_t* qs = format == WeightFormat::Q5_K ? b.qs : block + offsetof(BlockQ4_K, qs);
      *d = f16_to_f32(b.d), *dmin = f16_to_f32(b.dmin);
      for (int j = 0; j < 8; ++j) {
        int scale, min;
        q4_k_scale_min(b.scales, j, &scale, &min);
        scales[2 * j] = scales[2 * j + 1] = scale;
        offsets[2 * j] = offsets[2 * j + 1] = min;
        for (int l = 0; l < 32; ++l) {
          const int high = format == WeightFormat::Q5_K ? ((b.qh[l] >> j) & 1) << 4 : 0;
          codes[32 * j + l] = static_cast<uint8_t>(((qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xF) | high);
        }
      }
      return true;
    }
    case WeightFormat::Q6_K: {
      const auto& b = *reinterpret_cast<const BlockQ6_K*>(block);
      *d = f16_to_f32(b.d);
      for (int g = 0; g < 16; ++g) scales[g] = b.scales[g], offsets[g] = 32 * b.scales[g];
      for (int e = 0; e < 256; ++e) {
        const int half = e / 128, k = (e % 128) / 32, l = e % 32;
        const int lo = (b.ql[64 * half + (k & 1) * 32 + l] >> (4 * (k >> 1))) & 0xF;
        const int hi = (b.qh[32 * half + l] >> (2 * k)) & 3;
        codes[e] = static_cast<uint8_t>(lo | (hi << 4));
      }
      return false;
    }
    case WeightFormat::Q3_K: {
      const auto& b = *reinterpret_cast<const BlockQ3_K*>(block);
      *d = f16_to_f32(b.d);
      for (int g = 0; g < 16; ++g) {
        const int low = (b.scales[g % 8] >> (4 * (g / 8))) & 0xF, high = (b.scales[8 + g % 4] >> (2 * (g / 4))) & 3;
        scales[g] = (low | (high << 4)) - 32, offsets[g] = 4 * scales[g];
      }
      for (int e = 0; e < 256; ++e) {
        const int h = e / 128, k = (e % 128) / 32, l = e % 32;
        codes[e] = static_cast<uint8_t>(((b.qs[32 * h + l] >> (2 * k)) & 3) | (((b.hmask[l] >> (4 * h + k)) & 1) << 2));
      }
      return false;
    }
    case WeightFormat::Q2_K: {
      const auto& b = *reinterpret_cast<const BlockQ2_K*>(block);
      *d = f16_to_f32(b.d), *dmin = f16_to_f32(b.dmin);
      for (int g = 0; g < 16; ++g) scales[g] = b.scales[g] & 0xF, offsets[g] = b.scales[g] >> 4;
      for (int e = 0; e < 256; ++e) codes[e] = static_cast<uint8_t>((b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3);
      return true;
    }
    default: throw std::invalid_argument(std::string("super_codes: ") + format_name(format));
  }
}

}  // namespace cpu
}  // namespace pagedllm
