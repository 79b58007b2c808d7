// Tiled (flash-style) causal prefill attention over the paged cache: 16 query rows of one sequence share each
// 32-token K/V tile read into shared memory, with an online softmax per row; decode rows stay on paged_attention
// (the host split of rows: pagedllm/attention_split.h).
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "prefill_attention_kernels.cuh"

namespace pagedllm::cuda {

static_assert(kPrefillMaxHeadDim == kMaxAttentionHeadDim, "one head_dim limit for every attention kernel");

template <typename T>
void prefill_attention(const float* qkv, int row_stride, int num_heads, const T* pool, const KvLayout& layout, int layer,
                       float scale, const AttentionRows& rows, T* out, cudaStream_t stream) {
  if (rows.num_prefill_tiles == 0) return;
  if (num_heads > 65535) throw std::runtime_error("prefill_attention: more than 65,535 heads");
  const size_t bytes = prefill_shared_bytes(layout.head_dim, sizeof(T));
  if (bytes > 48 * 1024)  // head_dim 256: just over the default 48 KiB of dynamic shared memory
    PAGEDLLM_CUDA_CHECK(cudaFuncSetAttribute(prefill_attention_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  prefill_attention_kernel<T><<<dim3(rows.num_prefill_tiles, num_heads), kWarps * 32, bytes, stream>>>(
      qkv, row_stride, num_heads, pool, layout.block_size, layout.num_kv_heads, layout.head_dim,
      int64_t(layout.block_stride()), int64_t(layout.key_offset(layer)), int64_t(layout.value_offset(layer)), scale,
      rows.softcap, rows.window, rows.alibi_slopes, rows.row_seq, rows.row_kv_len, rows.block_tables, rows.max_blocks_per_seq, rows.prefill_tiles, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("prefill_attention_kernel");
}

template void prefill_attention<__half>(const float*, int, int, const __half*, const KvLayout&, int, float,
                                        const AttentionRows&, __half*, cudaStream_t);
template void prefill_attention<__nv_bfloat16>(const float*, int, int, const __nv_bfloat16*, const KvLayout&, int, float,
                                               const AttentionRows&, __nv_bfloat16*, cudaStream_t);

}  // namespace pagedllm::cuda
