// PagedAttention over the block-table KV cache, one query row per block: decode rows (and, unsplit, prefill rows), in
// 512-token partitions plus a reduction when contexts are long (flash-decoding style, vLLM's "v2").
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kTokensPerIteration = 4;                      // independent K/V loads in flight per warp
constexpr int kMaxDimsPerLane = kMaxAttentionHeadDim / 32;  // lane owns dims lane, lane + 32, ...

struct PartialLayout {
  // workspace: [rows, heads, partitions] max and sum, then [rows, heads, partitions, head_dim] accumulators
  float* max_logit;
  float* sum_exp;
  float* acc;
};

PartialLayout partial_layout(float* workspace, int num_rows, int num_heads, int num_partitions) {
  const size_t stats = size_t(num_rows) * num_heads * num_partitions;
  return {workspace, workspace + stats, workspace + 2 * stats};
}

// Grid (row, head, partition): rows on x, whose limit is 2^31 - 1 (y and z stop at 65,535). Each warp walks its share of the partition's tokens with an online softmax;
// warps then merge through shared memory. Unwritten partitions (beyond a row's context) are skipped by the reducer.
template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    paged_attention_kernel(const float* __restrict__ qkv, int row_stride, int num_heads, const T* __restrict__ pool,
                           int block_size, int num_kv_heads, int head_dim, int64_t block_stride, int64_t key_offset,
                           int64_t value_offset, float scale, const int32_t* __restrict__ row_seq,
                           const int32_t* __restrict__ row_kv_len, const int32_t* __restrict__ block_tables,
                           int max_blocks_per_seq, const int32_t* __restrict__ row_list, int partition_tokens,
                           PartialLayout partial, T* __restrict__ out) {
  __shared__ float warp_max_logit[kWarps], warp_sum_exp[kWarps];
  __shared__ float warp_acc[kWarps][kMaxAttentionHeadDim];
  // Partials are indexed by blockIdx.x, so the workspace holds only the rows launched (decode rows when split).
  const int row = row_list ? row_list[blockIdx.x] : blockIdx.x, head = blockIdx.y, partition = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int kv_len = row_kv_len[row];
  const int start = partition * partition_tokens;
  if (start >= kv_len) return;
  const int end = min(kv_len, start + partition_tokens);
  const int kv_head = head / (num_heads / num_kv_heads);
  const int32_t* block_table = block_tables + int64_t(row_seq[row]) * max_blocks_per_seq;

  float q[kMaxDimsPerLane], acc[kMaxDimsPerLane];
  const float* q_row = qkv + int64_t(row) * row_stride + head * head_dim;
#pragma unroll
  for (int i = 0; i < kMaxDimsPerLane; ++i) {
    const int d = lane + 32 * i;
    q[i] = d < head_dim ? q_row[d] * scale : 0.f;
    acc[i] = 0.f;
  }
  float max_logit = -INFINITY, sum_exp = 0.f;
  const int64_t head_offset = int64_t(kv_head) * head_dim;

  for (int base = start + warp * kTokensPerIteration; base < end; base += kWarps * kTokensPerIteration) {
    const T* token_base[kTokensPerIteration];  // K at + key_offset, V at + value_offset
    float logits[kTokensPerIteration];
#pragma unroll
    for (int j = 0; j < kTokensPerIteration; ++j) {
      const int token = min(base + j, end - 1);  // clamped tokens are masked below
      const int64_t physical = block_table[token / block_size];
      token_base[j] = pool + physical * block_stride + int64_t(token % block_size) * num_kv_heads * head_dim + head_offset;
    }
#pragma unroll
    for (int j = 0; j < kTokensPerIteration; ++j) {
      float dot = 0.f;
#pragma unroll
      for (int i = 0; i < kMaxDimsPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < head_dim) dot += q[i] * to_float(token_base[j][key_offset + d]);
      }
      logits[j] = dot;
    }
#pragma unroll
    for (int j = 0; j < kTokensPerIteration; ++j) logits[j] = base + j < end ? warp_sum(logits[j]) : -INFINITY;
    float new_max = max_logit;
#pragma unroll
    for (int j = 0; j < kTokensPerIteration; ++j) new_max = fmaxf(new_max, logits[j]);
    const float correction = __expf(max_logit - new_max);
    sum_exp *= correction;
#pragma unroll
    for (int i = 0; i < kMaxDimsPerLane; ++i) acc[i] *= correction;
#pragma unroll
    for (int j = 0; j < kTokensPerIteration; ++j) {
      if (base + j >= end) continue;
      const float p = __expf(logits[j] - new_max);
      sum_exp += p;
#pragma unroll
      for (int i = 0; i < kMaxDimsPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < head_dim) acc[i] += p * to_float(token_base[j][value_offset + d]);
      }
    }
    max_logit = new_max;
  }

  if (lane == 0) {
    warp_max_logit[warp] = max_logit;
    warp_sum_exp[warp] = sum_exp;
  }
#pragma unroll
  for (int i = 0; i < kMaxDimsPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < head_dim) warp_acc[warp][d] = acc[i];
  }
  __syncthreads();
  float block_max = -INFINITY;
  for (int w = 0; w < kWarps; ++w) block_max = fmaxf(block_max, warp_max_logit[w]);
  float weights[kWarps], block_sum_exp = 0.f;
  for (int w = 0; w < kWarps; ++w) {
    weights[w] = warp_max_logit[w] == -INFINITY ? 0.f : __expf(warp_max_logit[w] - block_max);  // idle warps weigh 0
    block_sum_exp += warp_sum_exp[w] * weights[w];
  }
  const int64_t stat_index = (int64_t(blockIdx.x) * num_heads + head) * gridDim.z + partition;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float merged = 0.f;
    for (int w = 0; w < kWarps; ++w) merged += warp_acc[w][d] * weights[w];
    if (gridDim.z == 1) {
      out[(int64_t(row) * num_heads + head) * head_dim + d] = from_float<T>(merged / block_sum_exp);
    } else {
      partial.acc[stat_index * head_dim + d] = merged;
    }
  }
  if (gridDim.z > 1 && threadIdx.x == 0) {
    partial.max_logit[stat_index] = block_max;
    partial.sum_exp[stat_index] = block_sum_exp;
  }
}

// Grid (row, head): merges the partitions a row actually used.
template <typename T>
__global__ void paged_attention_reduce_kernel(int num_heads, int head_dim, int num_partitions, int partition_tokens,
                                              const int32_t* __restrict__ row_kv_len,
                                              const int32_t* __restrict__ row_list, PartialLayout partial,
                                              T* __restrict__ out) {
  const int row = row_list ? row_list[blockIdx.x] : blockIdx.x, head = blockIdx.y;
  const int used = min(num_partitions, (row_kv_len[row] + partition_tokens - 1) / partition_tokens);
  const int64_t first = (int64_t(blockIdx.x) * num_heads + head) * num_partitions;
  float global_max = -INFINITY;
  for (int p = 0; p < used; ++p) global_max = fmaxf(global_max, partial.max_logit[first + p]);
  float total = 0.f;
  for (int p = 0; p < used; ++p) total += partial.sum_exp[first + p] * __expf(partial.max_logit[first + p] - global_max);
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float merged = 0.f;
    for (int p = 0; p < used; ++p)
      merged += partial.acc[(first + p) * head_dim + d] * __expf(partial.max_logit[first + p] - global_max);
    out[(int64_t(row) * num_heads + head) * head_dim + d] = from_float<T>(used > 0 ? merged / total : 0.f);
  }
}

}  // namespace

size_t paged_attention_workspace_bytes(int num_rows, int num_heads, int head_dim, int max_kv_len) {
  const int partitions = std::max(1, ceil_div(max_kv_len, kAttentionPartitionTokens));
  if (partitions == 1) return 0;
  return size_t(num_rows) * num_heads * partitions * (2 + head_dim) * sizeof(float);
}

template <typename T>
void paged_attention(const float* qkv, int row_stride, int num_heads, const T* pool, const KvLayout& layout, int layer,
                     float scale, const AttentionRows& rows, float* workspace, T* out, cudaStream_t stream) {
  if (rows.num_rows == 0) return;
  if (layout.head_dim > kMaxAttentionHeadDim) throw std::runtime_error("paged_attention: head_dim above 256");
  if (rows.split) prefill_attention(qkv, row_stride, num_heads, pool, layout, layer, scale, rows, out, stream);
  const int launched = rows.split ? rows.num_decode_rows : rows.num_rows;
  if (launched == 0) return;
  const int32_t* row_list = rows.split ? rows.decode_rows : nullptr;
  const int partitions = std::max(1, ceil_div(rows.split ? rows.max_decode_kv_len : rows.max_kv_len, kAttentionPartitionTokens));
  const PartialLayout partial = partial_layout(workspace, launched, num_heads, partitions);
  if (num_heads > 65535 || partitions > 65535) throw std::runtime_error("paged_attention: more than 65,535 heads or partitions");
  const dim3 grid(launched, num_heads, partitions);
  paged_attention_kernel<T><<<grid, kWarps * 32, 0, stream>>>(
      qkv, row_stride, num_heads, pool, layout.block_size, layout.num_kv_heads, layout.head_dim,
      int64_t(layout.block_stride()), int64_t(layout.key_offset(layer)), int64_t(layout.value_offset(layer)), scale,
      rows.row_seq, rows.row_kv_len, rows.block_tables, rows.max_blocks_per_seq, row_list, kAttentionPartitionTokens,
      partial, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("paged_attention_kernel");
  if (partitions == 1) return;
  paged_attention_reduce_kernel<T><<<dim3(launched, num_heads), 128, 0, stream>>>(
      num_heads, layout.head_dim, partitions, kAttentionPartitionTokens, rows.row_kv_len, row_list, partial, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("paged_attention_reduce_kernel");
}

template void paged_attention<__half>(const float*, int, int, const __half*, const KvLayout&, int, float,
                                      const AttentionRows&, float*, __half*, cudaStream_t);
template void paged_attention<__nv_bfloat16>(const float*, int, int, const __nv_bfloat16*, const KvLayout&, int, float,
                                             const AttentionRows&, float*, __nv_bfloat16*, cudaStream_t);

}  // namespace pagedllm::cuda
