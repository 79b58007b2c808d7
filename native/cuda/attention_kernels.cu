// PagedAttention over the block-table KV cache, one query row and one GQA group of heads per block: decode rows (and,
// unsplit, prefill rows), in kAttentionPartitionTokens partitions plus a reduction when contexts are longer
// (flash-decoding style, vLLM's "v2").
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "pagedllm/sliding_window.h"

namespace pagedllm::cuda {

namespace {

// One block per (row, group of query heads sharing a KV head, partition): each K/V element is read once for all the
// query heads of its GQA group. A token's head_dim elements are read by `lanes_per_token` lanes, 16 bytes each, so a
// warp covers 32 / lanes_per_token tokens per load; every lane issues kSlots such loads before using any.
constexpr int kWarps = 8;
constexpr int kVec = 8;  // 2-byte elements per 16-byte load

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

// Online-softmax state (max, sum, weighted V) of one query head over the tokens a lane group has seen so far.
struct SoftmaxState {
  float max_logit, sum_exp, acc[kVec];
};

// Folds state `b` (weights relative to b.max_logit) into `a`; -inf maxima (no tokens seen) weigh nothing.
__device__ __forceinline__ void merge_into(SoftmaxState& a, float b_max, float b_sum, const float (&b_acc)[kVec]) {
  const float m = fmaxf(a.max_logit, b_max);
  const float wa = a.max_logit == -INFINITY ? 0.f : __expf(a.max_logit - m);
  const float wb = b_max == -INFINITY ? 0.f : __expf(b_max - m);
  a.sum_exp = a.sum_exp * wa + b_sum * wb;
#pragma unroll
  for (int e = 0; e < kVec; ++e) a.acc[e] = a.acc[e] * wa + b_acc[e] * wb;
  a.max_logit = m;
}

// Grid (row, head group, partition): rows on x, whose limit is 2^31 - 1 (y and z stop at 65,535). HEADS query
// heads per block (a divisor of the GQA group). Unwritten partitions (beyond a row's context, or wholly before its
// sliding window) are skipped by the reducer. All reductions are fixed trees and a fixed warp order: the same bits every run.
template <typename T, int HEADS, int SLOTS>
__global__ void __launch_bounds__(kWarps * 32)
    paged_attention_kernel(const float* __restrict__ qkv, int row_stride, int num_heads, const T* __restrict__ pool,
                           int block_size, int num_kv_heads, int head_dim, int lanes_per_token, int64_t block_stride,
                           int64_t key_offset, int64_t value_offset, float scale, float softcap, int window, const float* __restrict__ alibi_slopes,
                           const int32_t* __restrict__ row_seq, const int32_t* __restrict__ row_kv_len, const int32_t* __restrict__ block_tables,
                           int max_blocks_per_seq, const int32_t* __restrict__ row_list, int partition_tokens,
                           PartialLayout partial, T* __restrict__ out) {
  __shared__ float warp_max_logit[kWarps][HEADS], warp_sum_exp[kWarps][HEADS];
  __shared__ float merged_acc[HEADS][kMaxAttentionHeadDim];
  // Partials are indexed by blockIdx.x, so the workspace holds only the rows launched (decode rows when split).
  const int row = row_list ? row_list[blockIdx.x] : blockIdx.x, first_head = blockIdx.y * HEADS, partition = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int kv_len = row_kv_len[row];
  const int start = partition * partition_tokens;
  const int end = min(kv_len, start + partition_tokens);
  // The row sees tokens [first, kv_len): nothing before its window is read (those blocks may be released).
  const int first = first_visible_position(kv_len - 1, window);
  if (start >= end || end <= first) return;
  const int kv_head = first_head / (num_heads / num_kv_heads);
  const int32_t* block_table = block_tables + int64_t(row_seq[row]) * max_blocks_per_seq;
  const int tokens_per_warp = 32 / lanes_per_token;
  const int slot = lane / lanes_per_token, chunk = lane % lanes_per_token;  // this lane's token and 8-element chunk
  const int dim0 = chunk * kVec;
  const bool reads = dim0 < head_dim;  // lanes past head_dim (non-power-of-two head_dim / 8) idle

  float q[HEADS][kVec];
  SoftmaxState state[HEADS];
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
    const float* q_row = qkv + int64_t(row) * row_stride + int64_t(first_head + h) * head_dim;
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      q[h][e] = reads ? q_row[dim0 + e] * scale : 0.f;
      state[h].acc[e] = 0.f;
    }
    state[h].max_logit = -INFINITY;
    state[h].sum_exp = 0.f;
  }
  const int64_t head_offset = int64_t(kv_head) * head_dim + dim0;
  const int64_t token_stride = int64_t(num_kv_heads) * head_dim;
  const int tokens_per_round = kWarps * tokens_per_warp * SLOTS;

  for (int base = max(start, first); base < end; base += tokens_per_round) {
    uint4 keys[SLOTS], values[SLOTS];
    int tokens[SLOTS];
#pragma unroll
    for (int i = 0; i < SLOTS; ++i) {  // all loads first, so SLOTS of them are in flight per lane
      tokens[i] = base + (i * kWarps + warp) * tokens_per_warp + slot;
      keys[i] = values[i] = make_uint4(0, 0, 0, 0);
      if (tokens[i] < end && reads) {
        const T* at = pool + int64_t(block_table[tokens[i] / block_size]) * block_stride +
                      int64_t(tokens[i] % block_size) * token_stride + head_offset;
        keys[i] = __ldg(reinterpret_cast<const uint4*>(at + key_offset));
        values[i] = __ldg(reinterpret_cast<const uint4*>(at + value_offset));
      }
    }
#pragma unroll
    for (int i = 0; i < SLOTS; ++i) {
      float k[kVec], v[kVec];
      unpack8(keys[i], k, T{});
      unpack8(values[i], v, T{});
#pragma unroll
      for (int h = 0; h < HEADS; ++h) {
        float dot = 0.f;
#pragma unroll
        for (int e = 0; e < kVec; ++e) dot += q[h][e] * k[e];
        for (int offset = lanes_per_token >> 1; offset > 0; offset >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
        if (tokens[i] >= end) continue;  // uniform across the lane group
        if (softcap > 0.f) dot = softcap * tanhf(dot / softcap);  // Gemma 2: on the scaled score, as the CPU
        if (alibi_slopes) dot += alibi_slopes[first_head + h] * float(tokens[i] - (kv_len - 1));
        const float m = fmaxf(state[h].max_logit, dot);
        const float correction = __expf(state[h].max_logit - m);  // 0 while nothing was seen (max -inf)
        const float p = __expf(dot - m);
        state[h].sum_exp = state[h].sum_exp * correction + p;
#pragma unroll
        for (int e = 0; e < kVec; ++e) state[h].acc[e] = state[h].acc[e] * correction + p * v[e];
        state[h].max_logit = m;
      }
    }
  }

  // Merge the warp's token slots (lanes that hold the same chunk), a butterfly: every lane ends with the warp's state.
  for (int offset = lanes_per_token; offset < 32; offset <<= 1) {
#pragma unroll
    for (int h = 0; h < HEADS; ++h) {
      float other_acc[kVec];
#pragma unroll
      for (int e = 0; e < kVec; ++e) other_acc[e] = __shfl_xor_sync(0xffffffffu, state[h].acc[e], offset);
      const float other_max = __shfl_xor_sync(0xffffffffu, state[h].max_logit, offset);
      const float other_sum = __shfl_xor_sync(0xffffffffu, state[h].sum_exp, offset);
      merge_into(state[h], other_max, other_sum, other_acc);
    }
  }
  if (lane == 0) {
#pragma unroll
    for (int h = 0; h < HEADS; ++h) {
      warp_max_logit[warp][h] = state[h].max_logit;
      warp_sum_exp[warp][h] = state[h].sum_exp;
    }
  }
  for (int i = threadIdx.x; i < HEADS * kMaxAttentionHeadDim; i += blockDim.x) (&merged_acc[0][0])[i] = 0.f;
  __syncthreads();
  float block_max[HEADS], block_sum[HEADS], my_weight[HEADS];
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
    block_max[h] = -INFINITY;
    for (int w = 0; w < kWarps; ++w) block_max[h] = fmaxf(block_max[h], warp_max_logit[w][h]);
    block_sum[h] = 0.f;
    for (int w = 0; w < kWarps; ++w) {
      const float weight = warp_max_logit[w][h] == -INFINITY ? 0.f : __expf(warp_max_logit[w][h] - block_max[h]);
      block_sum[h] += warp_sum_exp[w][h] * weight;
      if (w == warp) my_weight[h] = weight;
    }
  }
  // Warps add their weighted accumulators in warp order (deterministic, no atomics); slot 0's lanes hold them.
  for (int w = 0; w < kWarps; ++w) {
    if (warp == w && slot == 0 && reads) {
#pragma unroll
      for (int h = 0; h < HEADS; ++h)
#pragma unroll
        for (int e = 0; e < kVec; ++e) merged_acc[h][dim0 + e] += state[h].acc[e] * my_weight[h];
    }
    __syncthreads();
  }
  for (int i = threadIdx.x; i < HEADS * head_dim; i += blockDim.x) {
    const int h = i / head_dim, d = i % head_dim, head = first_head + h;
    if (gridDim.z == 1) {
      out[(int64_t(row) * num_heads + head) * head_dim + d] = from_float<T>(merged_acc[h][d] / block_sum[h]);
    } else {
      const int64_t stat_index = (int64_t(blockIdx.x) * num_heads + head) * gridDim.z + partition;
      partial.acc[stat_index * head_dim + d] = merged_acc[h][d];
      if (d == 0) {
        partial.max_logit[stat_index] = block_max[h];
        partial.sum_exp[stat_index] = block_sum[h];
      }
    }
  }
}

// Grid (row, head): merges the partitions a row actually used (from its window's first one).
template <typename T>
__global__ void paged_attention_reduce_kernel(int num_heads, int head_dim, int num_partitions, int partition_tokens,
                                              int window, const int32_t* __restrict__ row_kv_len,
                                              const int32_t* __restrict__ row_list, PartialLayout partial,
                                              T* __restrict__ out) {
  const int row = row_list ? row_list[blockIdx.x] : blockIdx.x, head = blockIdx.y;
  const int kv_len = row_kv_len[row];
  const int used = min(num_partitions, (kv_len + partition_tokens - 1) / partition_tokens);
  const int skipped = first_visible_position(kv_len - 1, window) / partition_tokens;
  const int64_t first = (int64_t(blockIdx.x) * num_heads + head) * num_partitions;
  float global_max = -INFINITY;
  for (int p = skipped; p < used; ++p) global_max = fmaxf(global_max, partial.max_logit[first + p]);
  float total = 0.f;
  for (int p = skipped; p < used; ++p) total += partial.sum_exp[first + p] * __expf(partial.max_logit[first + p] - global_max);
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float merged = 0.f;
    for (int p = skipped; p < used; ++p)
      merged += partial.acc[(first + p) * head_dim + d] * __expf(partial.max_logit[first + p] - global_max);
    out[(int64_t(row) * num_heads + head) * head_dim + d] = from_float<T>(used > skipped ? merged / total : 0.f);
  }
}

}  // namespace

// Few rows with short contexts would leave most of the GPU idle (batch 1 at 512 tokens: 2 partitions), so the
// 256-token partitions are cut into 2 or 4 until rows x partitions reaches 32. A function of (rows, 256-token
// partitions) alone: a decode graph's key (bucket, partitions) still fixes the grid and the workspace.
int attention_partition_tokens(int num_rows, int max_kv_len) {
  const int partitions = std::max(1, ceil_div(max_kv_len, kAttentionPartitionTokens));
  int cut = 1;
  while (cut < 4 && num_rows * partitions * cut < 32) cut *= 2;
  return kAttentionPartitionTokens / cut;
}

size_t paged_attention_workspace_bytes(int num_rows, int num_heads, int head_dim, int max_kv_len) {
  const int partitions = std::max(1, ceil_div(max_kv_len, attention_partition_tokens(num_rows, max_kv_len)));
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
  if (layout.head_dim % kVec != 0)  // split_attention_rows(..., tiles_only) sends such rows to the tiled kernel
    throw std::runtime_error("paged_attention: the per-row kernel needs head_dim a multiple of 8");
  const int32_t* row_list = rows.split ? rows.decode_rows : nullptr;
  const int max_kv_len = rows.split ? rows.max_decode_kv_len : rows.max_kv_len;
  const int partition_tokens = attention_partition_tokens(launched, max_kv_len);
  const int partitions = std::max(1, ceil_div(max_kv_len, partition_tokens));
  const PartialLayout partial = partial_layout(workspace, launched, num_heads, partitions);
  // Query heads per block: the largest of 8, 4, 2, 1 dividing the GQA group (more would not fit the registers).
  const int group = num_heads / layout.num_kv_heads;
  const int heads_per_block = group % 8 == 0 ? 8 : group % 4 == 0 ? 4 : group % 2 == 0 ? 2 : 1;
  int lanes_per_token = 1;
  while (lanes_per_token * kVec < layout.head_dim) lanes_per_token <<= 1;
  if (num_heads / heads_per_block > 65535 || partitions > 65535)
    throw std::runtime_error("paged_attention: more than 65,535 head groups or partitions");
  const dim3 grid(launched, num_heads / heads_per_block, partitions);
  auto launch = [&](auto kernel) {
    kernel<<<grid, kWarps * 32, 0, stream>>>(
        qkv, row_stride, num_heads, pool, layout.block_size, layout.num_kv_heads, layout.head_dim, lanes_per_token,
        int64_t(layout.block_stride()), int64_t(layout.key_offset(layer)), int64_t(layout.value_offset(layer)), scale,
        rows.softcap, rows.window, rows.alibi_slopes, rows.row_seq, rows.row_kv_len, rows.block_tables, rows.max_blocks_per_seq, row_list, partition_tokens,
        partial, out);
  };
  // Fewer loads in flight as the per-head registers grow with the heads per block.
  switch (heads_per_block) {
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
