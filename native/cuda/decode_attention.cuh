// The decode PagedAttention kernels (a query row against its paged K/V, in partitions, then a reduce), and the host's
// launch plan for them. Device code that leans only on what its includer provides (cuda_common.cuh's unpack8 and
// from_float, uint4, __ldg, the warp intrinsics), so native/cuda/tests/decode_attention_emulation.cpp runs these very
// kernels on the CPU, thread by thread, against float64.
#pragma once
#include <cstdint>

#include "pagedllm/decode_partitions.h"
#include "pagedllm/sliding_window.h"

namespace pagedllm::cuda {

// One block per (row, group of query heads sharing a KV head, partition): each K/V element is read once for all the
// query heads of its GQA group. A token's head_dim elements are read by `lanes_per_token` lanes, 16 bytes each, so a
// warp covers 32 / lanes_per_token tokens per load; every lane issues SLOTS such loads (K and V) before using any.
constexpr int kDecodeWarps = 8;
constexpr int kDecodeVec = 8;  // 2-byte elements per 16-byte load
// The warps' accumulators meet in shared memory: HEADS x head_dim floats per warp, at most this many (32 KiB in all).
constexpr int kDecodeMergeFloats = 1024;
constexpr int kDecodeMaxHeadDim = 256;

struct PartialLayout {
  // workspace: [rows, heads, partitions] max and sum, then [rows, heads, partitions, head_dim] accumulators
  float* max_logit;
  float* sum_exp;
  float* acc;
};

inline PartialLayout partial_layout(float* workspace, int num_rows, int num_heads, int num_partitions) {
  const size_t stats = size_t(num_rows) * num_heads * num_partitions;
  return {workspace, workspace + stats, workspace + 2 * stats};
}

// How a decode attention launch is cut: a function of (rows, heads, head_dim, max_kv_len) alone; its partitions are
// pagedllm/decode_partitions.h's (a decode graph step passes its key's band as max_kv_len).
struct DecodeAttentionPlan {
  int heads_per_block;   // query heads per block: the largest of 8, 4, 2, 1 dividing the GQA group that fits the merge
  int lanes_per_token;   // lanes reading one token's head_dim (a power of two; some idle when head_dim / 8 is not)
  int partition_tokens;  // context tokens per block
  int partitions;        // blocks along z; 1: the block writes the output itself, no reduce
};

inline DecodeAttentionPlan plan_decode_attention(int num_rows, int num_heads, int num_kv_heads, int head_dim, int max_kv_len) {
  const int group = num_heads / num_kv_heads;
  int heads = group % 8 == 0 ? 8 : group % 4 == 0 ? 4 : group % 2 == 0 ? 2 : 1;
  while (heads > 1 && heads * head_dim > kDecodeMergeFloats) heads /= 2;
  int lanes = 1;
  while (lanes * kDecodeVec < head_dim) lanes <<= 1;
  const DecodePartitions cut = decode_partitions(num_rows, max_kv_len);
  return {heads, lanes, cut.tokens, cut.count};
}

// Grid (row, head group, partition): rows on x, whose limit is 2^31 - 1 (y and z stop at 65,535). HEADS query heads
// per block (a divisor of the GQA group). Unwritten partitions (beyond a row's context, or wholly before its sliding
// window) are skipped by the reducer. All reductions are fixed trees and a fixed warp order: the same bits every run.
template <typename T, int HEADS, int SLOTS>
__global__ void __launch_bounds__(kDecodeWarps * 32)
    paged_attention_kernel(const float* __restrict__ qkv, int row_stride, int num_heads, const T* __restrict__ pool,
                           int block_size, int num_kv_heads, int head_dim, int lanes_per_token, int64_t block_stride,
                           int64_t key_offset, int64_t value_offset, float scale, float softcap, int window,
                           const float* __restrict__ alibi_slopes, const int32_t* __restrict__ row_seq,
                           const int32_t* __restrict__ row_kv_len, const int32_t* __restrict__ block_tables,
                           int max_blocks_per_seq, const int32_t* __restrict__ row_list, int partition_tokens,
                           PartialLayout partial, T* __restrict__ out) {
  constexpr int kMergeFloats = HEADS * kDecodeMaxHeadDim < kDecodeMergeFloats ? HEADS * kDecodeMaxHeadDim : kDecodeMergeFloats;
  __shared__ float warp_max_logit[kDecodeWarps][HEADS], warp_sum_exp[kDecodeWarps][HEADS];
  __shared__ float warp_acc[kDecodeWarps][kMergeFloats];
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
  const int dim0 = chunk * kDecodeVec;
  const bool reads = dim0 < head_dim;  // lanes past head_dim (non-power-of-two head_dim / 8) idle

  // Per query head: the scaled query chunk, and the online softmax over the tokens this lane group has seen (running
  // max, sum of exp(score - max), the exp-weighted sum of V).
  float q[HEADS][kDecodeVec], max_logit[HEADS], sum_exp[HEADS], acc[HEADS][kDecodeVec];
#pragma unroll
  for (int h = 0; h < HEADS; ++h) {
    const float* q_row = qkv + int64_t(row) * row_stride + int64_t(first_head + h) * head_dim;
#pragma unroll
    for (int e = 0; e < kDecodeVec; ++e) {
      q[h][e] = reads ? q_row[dim0 + e] * scale : 0.f;
      acc[h][e] = 0.f;
    }
    max_logit[h] = -INFINITY;
    sum_exp[h] = 0.f;
  }
  const int64_t head_offset = int64_t(kv_head) * head_dim + dim0;
  const int64_t token_stride = int64_t(num_kv_heads) * head_dim;
  const int tokens_per_round = kDecodeWarps * tokens_per_warp * SLOTS;

  for (int base = max(start, first); base < end; base += tokens_per_round) {
    uint4 keys[SLOTS], values[SLOTS];
    int tokens[SLOTS];
#pragma unroll
    for (int i = 0; i < SLOTS; ++i) {  // all loads first, so 2 x SLOTS of them are in flight per lane
      tokens[i] = base + (i * kDecodeWarps + warp) * tokens_per_warp + slot;
      keys[i] = values[i] = make_uint4(0, 0, 0, 0);
      if (tokens[i] < end && reads) {
        const T* at = pool + int64_t(block_table[tokens[i] / block_size]) * block_stride +
                      int64_t(tokens[i] % block_size) * token_stride + head_offset;
        keys[i] = __ldg(reinterpret_cast<const uint4*>(at + key_offset));
        values[i] = __ldg(reinterpret_cast<const uint4*>(at + value_offset));
      }
    }
    // Every score of the round first (independent lane-group reductions, so their shuffles overlap); -inf past the end.
    float scores[SLOTS][HEADS];
#pragma unroll
    for (int i = 0; i < SLOTS; ++i) {
      float k[kDecodeVec];
      unpack8(keys[i], k, T{});
#pragma unroll
      for (int h = 0; h < HEADS; ++h) {
        float dot = 0.f;
#pragma unroll
        for (int e = 0; e < kDecodeVec; ++e) dot += q[h][e] * k[e];
        for (int offset = lanes_per_token >> 1; offset > 0; offset >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
        if (softcap > 0.f) dot = softcap * tanhf(dot / softcap);  // Gemma 2: on the scaled score, as the CPU
        if (alibi_slopes) dot += alibi_slopes[first_head + h] * float(tokens[i] - (kv_len - 1));
        scores[i][h] = tokens[i] < end ? dot : -INFINITY;  // uniform across the lane group
      }
    }
    // One rescale of the running sums per head and round, to the round's new maximum.
#pragma unroll
    for (int h = 0; h < HEADS; ++h) {
      float round_max = scores[0][h];
#pragma unroll
      for (int i = 1; i < SLOTS; ++i) round_max = fmaxf(round_max, scores[i][h]);
      const float new_max = fmaxf(max_logit[h], round_max);
      // exp(-inf) = 0 drops the empty sums of a first round; nothing seen at all (new max -inf): nothing to rescale.
      const float correction = new_max == -INFINITY ? 1.f : __expf(max_logit[h] - new_max);
      sum_exp[h] *= correction;
#pragma unroll
      for (int e = 0; e < kDecodeVec; ++e) acc[h][e] *= correction;
      max_logit[h] = new_max;
    }
#pragma unroll
    for (int i = 0; i < SLOTS; ++i) {
      float v[kDecodeVec];
      unpack8(values[i], v, T{});
#pragma unroll
      for (int h = 0; h < HEADS; ++h) {
        const float p = scores[i][h] == -INFINITY ? 0.f : __expf(scores[i][h] - max_logit[h]);
        sum_exp[h] += p;
#pragma unroll
        for (int e = 0; e < kDecodeVec; ++e) acc[h][e] += p * v[e];
      }
    }
  }

  // Merge the warp's token slots (lanes that hold the same chunk), a butterfly: every lane ends with the warp's state.
  for (int offset = lanes_per_token; offset < 32; offset <<= 1) {
#pragma unroll
    for (int h = 0; h < HEADS; ++h) {
      const float other_max = __shfl_xor_sync(0xffffffffu, max_logit[h], offset);
      const float other_sum = __shfl_xor_sync(0xffffffffu, sum_exp[h], offset);
      const float m = fmaxf(max_logit[h], other_max);  // -inf maxima (no tokens seen) weigh nothing
      const float mine = max_logit[h] == -INFINITY ? 0.f : __expf(max_logit[h] - m);
      const float theirs = other_max == -INFINITY ? 0.f : __expf(other_max - m);
      sum_exp[h] = sum_exp[h] * mine + other_sum * theirs;
#pragma unroll
      for (int e = 0; e < kDecodeVec; ++e) {
        const float other_acc = __shfl_xor_sync(0xffffffffu, acc[h][e], offset);
        acc[h][e] = acc[h][e] * mine + other_acc * theirs;
      }
      max_logit[h] = m;
    }
  }
  // The warps meet in shared memory once; each output element then sums the warps in warp order (no atomics).
  if (lane == 0) {
#pragma unroll
    for (int h = 0; h < HEADS; ++h) {
      warp_max_logit[warp][h] = max_logit[h];
      warp_sum_exp[warp][h] = sum_exp[h];
    }
  }
  if (slot == 0 && reads) {
#pragma unroll
    for (int h = 0; h < HEADS; ++h)
#pragma unroll
      for (int e = 0; e < kDecodeVec; ++e) warp_acc[warp][h * head_dim + dim0 + e] = acc[h][e];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < HEADS * head_dim; i += blockDim.x) {
    const int h = i / head_dim, d = i % head_dim, head = first_head + h;
    float block_max = -INFINITY;
    for (int w = 0; w < kDecodeWarps; ++w) block_max = fmaxf(block_max, warp_max_logit[w][h]);
    float merged = 0.f, block_sum = 0.f;
    for (int w = 0; w < kDecodeWarps; ++w) {
      if (warp_max_logit[w][h] == -INFINITY) continue;  // a warp that saw no token
      const float weight = __expf(warp_max_logit[w][h] - block_max);
      merged += warp_acc[w][i] * weight;
      block_sum += warp_sum_exp[w][h] * weight;
    }
    if (gridDim.z == 1) {
      out[(int64_t(row) * num_heads + head) * head_dim + d] = from_float<T>(merged / block_sum);
    } else {
      const int64_t stat_index = (int64_t(blockIdx.x) * num_heads + head) * gridDim.z + partition;
      partial.acc[stat_index * head_dim + d] = merged;
      if (d == 0) {
        partial.max_logit[stat_index] = block_max;
        partial.sum_exp[stat_index] = block_sum;
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

}  // namespace pagedllm::cuda
