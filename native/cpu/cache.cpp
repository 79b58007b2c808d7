// KV cache writes and block moves. Layout per layer: [num_blocks, block_size, num_kv_heads, head_dim], so
// a slot (block * block_size + offset) addresses num_kv_heads * head_dim contiguous floats.
#include <cstring>

#include "kernels.h"

namespace pagedllm {
namespace cpu {

void reshape_and_cache(const float* key, const float* value, int row_stride, float* key_cache, float* value_cache,
                       const int32_t* slot_mapping, int num_rows, const KvLayout& layout) {
  const size_t slot_floats = static_cast<size_t>(layout.num_kv_heads) * layout.head_dim;
  for (int t = 0; t < num_rows; ++t) {
    const int32_t slot = slot_mapping[t];
    if (slot < 0) continue;
    std::memcpy(key_cache + slot * slot_floats, key + static_cast<size_t>(t) * row_stride, slot_floats * 4);
    std::memcpy(value_cache + slot * slot_floats, value + static_cast<size_t>(t) * row_stride, slot_floats * 4);
  }
}

void copy_blocks(const float* src_pool, float* dst_pool, const int32_t* pairs, int num_pairs, const KvLayout& layout) {
  const size_t block_floats = layout.block_floats();
  for (int i = 0; i < num_pairs; ++i) {
    std::memcpy(dst_pool + pairs[2 * i + 1] * block_floats, src_pool + pairs[2 * i] * block_floats, block_floats * 4);
  }
}

}  // namespace cpu
}  // namespace pagedllm
