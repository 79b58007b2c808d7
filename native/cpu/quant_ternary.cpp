// The ternary TQ1_0 / TQ2_0 blocks (BitNet b1.58 files from llama-quantize; layouts in quant_formats.h): their codes,
// and the load-time conversion to Q8_0, which keeps every value (has_kernel, load_format).
#include <cstring>
#include <stdexcept>
#include <string>

#include "quant_formats.h"

namespace pagedllm {
namespace cpu {

namespace {

// Code n (0 = the most significant) of a TQ1_0 byte, as -1, 0 or 1: multiplying by 3^n (mod 256) brings code n to the
// top, where * 3 >> 8 reads it.
int8_t base3_code(uint8_t byte, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t shifted = static_cast<uint8_t>(byte * kPow3[n]);
  return static_cast<int8_t>(((shifted * 3) >> 8) - 1);
}

}  // namespace

uint16_t ternary_codes(WeightFormat format, const uint8_t* block, int8_t* codes) {
  if (format == WeightFormat::TQ1_0) {
    const auto& b = *reinterpret_cast<const BlockTQ1_0*>(block);
    for (int e = 0; e < 160; ++e) codes[e] = base3_code(b.qs[e % 32], e / 32);
    for (int e = 160; e < 240; ++e) codes[e] = base3_code(b.qs[32 + (e - 160) % 16], (e - 160) / 16);
    for (int e = 240; e < 256; ++e) codes[e] = base3_code(b.qh[(e - 240) % 4], (e - 240) / 4);
    return b.d;
  }
  if (format == WeightFormat::TQ2_0) {
    const auto& b = *reinterpret_cast<const BlockTQ2_0*>(block);
    for (int e = 0; e < 256; ++e) codes[e] = static_cast<int8_t>(((b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3) - 1);
    return b.d;
  }
  throw std::invalid_argument(std::string("ternary_codes: ") + format_name(format) + " is not a ternary format");
}

void convert_ternary_to_q8_0(WeightFormat format, const uint8_t* in, uint8_t* out, size_t blocks) {
  const size_t bytes = format_block_bytes(format);
  int8_t codes[kSuperBlock];
  for (size_t i = 0; i < blocks; ++i) {
    const uint16_t d = ternary_codes(format, in + i * bytes, codes);
    for (int j = 0; j < kSuperBlock / kQuantBlock; ++j) {
      auto& q8 = reinterpret_cast<BlockQ8_0*>(out)[8 * i + j];
      q8.d = d;
      std::memcpy(q8.qs, codes + kQuantBlock * j, kQuantBlock);
    }
  }
}

}  // namespace cpu
}  // namespace pagedllm
