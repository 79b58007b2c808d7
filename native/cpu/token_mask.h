// Applies an allowed-token bitmask to a logits row (guided decoding): allowed logits are copied, the rest become -inf.
#pragma once
#include <cstdint>

namespace pagedllm {
namespace cpu {

// mask holds ceil(vocab / 32) words; bit (t & 31) of word t >> 5 set = token t allowed. row and out may be the same.
void apply_token_mask(const float* row, const int32_t* mask, int vocab, float* out);

namespace avx2 {
void apply_token_mask(const float* row, const int32_t* mask, int vocab, float* out);
}  // namespace avx2

}  // namespace cpu
}  // namespace pagedllm
