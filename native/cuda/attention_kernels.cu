// PagedAttention's launch: decode rows (and, unsplit, prefill rows) through decode_attention.cuh's kernels, in
// partitions plus a reduction when contexts are longer (flash-decoding style, vLLM's "v2"); prefill tiles through
// prefill_attention.
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "decode_attention.cuh"

namespace pagedllm::cuda {

static_assert(kDecodeMaxHeadDim == kMaxAttentionHeadDim, "one head_dim limit for every attention kernel");

size_t paged_attention_workspace_bytes(int num_rows, int num_heads, int head_dim, int max_kv_len) {
  const int partitions = decode_partitions(num_rows, max_kv_len).count;
  if (partitions == 1) return 0;
  return size_t(num_rows) * num_heads * partitions * (2 + head_dim) * sizeof(float);
}

template <typename T>
void paged_attention(const float* qkv, int row_stride, int num_heads, const T* pool, const KvLayout& layout, int layer,
                     float scale, const AttentionRows& rows, float* workspace, T* out, cudaStream_t stream) {
  if (rows.num_rows == 0) return;
  if (layout.head_dim > kMaxAttentionHeadDim) throw std::runtime_error("paged_attention: head_dim must be at most 256");
  if (rows.split) prefill_attention(qkv, row_stride, num_heads, pool, layout, layer, scale, rows, out, stream);
  const int launched = rows.split ? rows.num_decode_rows : rows.num_rows;
  if (launched == 0) return;
  if (layout.head_dim % kDecodeVec != 0)  // split_attention_rows(..., tiles_only) sends such rows to the tiled kernel
    throw std::runtime_error("paged_attention: the per-row kernel needs head_dim a multiple of 8");
  const int32_t* row_list = rows.split ? rows.decode_rows : nullptr;
  const int max_kv_len = rows.split ? rows.max_decode_kv_len : rows.max_kv_len;
  const DecodeAttentionPlan plan = plan_decode_attention(launched, num_heads, layout.num_kv_heads, layout.head_dim, max_kv_len);
  const int partitions = plan.partitions, partition_tokens = plan.partition_tokens;
  const PartialLayout partial = partial_layout(workspace, launched, num_heads, partitions);
  if (num_heads / plan.heads_per_block > 65535 || partitions > 65535)
    throw std::runtime_error("paged_attention: more than 65,535 head groups or partitions");
  const dim3 grid(launched, num_heads / plan.heads_per_block, partitions);
  auto launch = [&](auto kernel) {
    kernel<<<grid, kDecodeWarps * 32, 0, stream>>>(
        qkv, row_stride, num_heads, pool, layout.block_size, layout.num_kv_heads, layout.head_dim, plan.lanes_per_token,
        int64_t(layout.block_stride()), int64_t(layout.key_offset(layer)), int64_t(layout.value_offset(layer)), scale,
        rows.softcap, rows.window, rows.alibi_slopes, rows.row_seq, rows.row_kv_len, rows.block_tables, rows.max_blocks_per_seq, row_list, partition_tokens,
        partial, out);
  };
  // Fewer loads in flight as the per-head registers grow with the heads per block.
  switch (plan.heads_per_block) {
    case 8: launch(paged_attention_kernel<T, 8, 2>); break;
    case 4: launch(paged_attention_kernel<T, 4, 3>); break;
    case 2: launch(paged_attention_kernel<T, 2, 4>); break;
    default: launch(paged_attention_kernel<T, 1, 4>); break;
  }
  PAGEDLLM_CUDA_CHECK_LAUNCH("paged_attention_kernel");
  if (partitions == 1) return;
  paged_attention_reduce_kernel<T><<<dim3(launched, num_heads), 128, 0, stream>>>(
      num_heads, layout.head_dim, partitions, partition_tokens, rows.window, rows.row_kv_len, row_list, partial, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("paged_attention_reduce_kernel");
}

template void paged_attention<__half>(const float*, int, int, const __half*, const KvLayout&, int, float,
                                      const AttentionRows&, float*, __half*, cudaStream_t);
template void paged_attention<__nv_bfloat16>(const float*, int, int, const __nv_bfloat16*, const KvLayout&, int, float,
                                             const AttentionRows&, float*, __nv_bfloat16*, cudaStream_t);

}  // namespace pagedllm::cuda
