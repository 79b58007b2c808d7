// Portable bitmask application and the AVX2 dispatch; the vector path is in token_mask_avx2.cpp.
#include "token_mask.h"

#include <limits>

#include "kernels.h"

namespace pagedllm {
namespace cpu {

void apply_token_mask(const float* row, const int32_t* mask, int vocab, float* out) {
  if (avx2_enabled()) return avx2::apply_token_mask(row, mask, vocab, out);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < vocab; ++i) out[i] = (static_cast<uint32_t>(mask[i >> 5]) >> (i & 31)) & 1u ? row[i] : neg_inf;
}

}  // namespace cpu
}  // namespace pagedllm
