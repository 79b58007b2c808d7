// The tiled prefill attention kernel (prefill_attention_kernels.cu launches it) and its shared memory size. Device code
// that leans only on its includer (cuda_common.cuh, or emulation/cuda_emulation.h, which runs it on the CPU in
// emulation/prefill_attention.cpp); in an unnamed namespace, as when it lived in the .cu, for the one file that
// launches it.
#pragma once
#include <cstddef>
#include <cstdint>

#include "pagedllm/attention_split.h"
#include "pagedllm/sliding_window.h"

namespace pagedllm::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kRowsPerWarp = kPrefillTileRows / kWarps;
constexpr int kTileTokens = 32;  // one token per lane when scoring
constexpr int kPrefillMaxHeadDim = 256;
constexpr int kMaxDimsPerLane = kPrefillMaxHeadDim / 32;

inline size_t prefill_shared_bytes(int head_dim, size_t element_bytes) {
  // q rows (fp32, pre-scaled), then K and V tiles with rows padded by 2 elements: lanes reading one dim of 32
  // different tokens then fall in different banks.
  return size_t(kPrefillTileRows) * head_dim * sizeof(float) + 2 * size_t(kTileTokens) * (head_dim + 2) * element_bytes;
}

// Grid (tile, head). A tile is (first row, row count) of consecutive query rows of one sequence, so its last row sees
// the most tokens and every row's causal limit is its own row_kv_len. With a sliding window a row sees its last
// `window` tokens; the tile's K/V reads start at its first row's first visible token (earlier blocks may be released).
template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    prefill_attention_kernel(const float* __restrict__ qkv, int row_stride, int num_heads, const T* __restrict__ pool,
                             int block_size, int num_kv_heads, int head_dim, int64_t block_stride, int64_t key_offset,
                             int64_t value_offset, float scale, float softcap, int window, const float* __restrict__ alibi_slopes,
                             const int32_t* __restrict__ row_seq,
                             const int32_t* __restrict__ row_kv_len, const int32_t* __restrict__ block_tables,
                             int max_blocks_per_seq, const int32_t* __restrict__ tiles, T* __restrict__ out) {
  PAGEDLLM_DYNAMIC_SHARED(unsigned char, shared);
  const int head = blockIdx.y, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int first_row = tiles[2 * blockIdx.x], tile_rows = tiles[2 * blockIdx.x + 1];
  const int kv_stride = head_dim + 2;
  float* q_tile = reinterpret_cast<float*>(shared);
  T* k_tile = reinterpret_cast<T*>(q_tile + kPrefillTileRows * head_dim);
  T* v_tile = k_tile + kTileTokens * kv_stride;
  const int kv_head = head / (num_heads / num_kv_heads);
  const int64_t head_offset = int64_t(kv_head) * head_dim;
  const int32_t* block_table = block_tables + int64_t(row_seq[first_row]) * max_blocks_per_seq;
  for (int e = threadIdx.x; e < kPrefillTileRows * head_dim; e += blockDim.x) {
    const int r = e / head_dim, d = e % head_dim;
    q_tile[e] = r < tile_rows ? qkv[int64_t(first_row + r) * row_stride + head * head_dim + d] * scale : 0.f;
  }
  const int tile_kv_len = row_kv_len[first_row + tile_rows - 1];
  const int tile_first = first_visible_position(row_kv_len[first_row] - 1, window);  // rows' windows only move right

  float acc[kRowsPerWarp][kMaxDimsPerLane], row_max[kRowsPerWarp], row_sum[kRowsPerWarp];
  int kv_len[kRowsPerWarp], kv_first[kRowsPerWarp];
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int r = warp * kRowsPerWarp + rr;
    kv_len[rr] = r < tile_rows ? row_kv_len[first_row + r] : 0;
    kv_first[rr] = first_visible_position(kv_len[rr] - 1, window);
    row_max[rr] = -INFINITY;
    row_sum[rr] = 0.f;
#pragma unroll
    for (int i = 0; i < kMaxDimsPerLane; ++i) acc[rr][i] = 0.f;
  }

  for (int start = tile_first; start < tile_kv_len; start += kTileTokens) {
    __syncthreads();  // the previous K/V tile is used up (and, the first time, q_tile is written)
    for (int e = threadIdx.x; e < kTileTokens * head_dim; e += blockDim.x) {
      const int j = e / head_dim, d = e % head_dim, token = start + j;
      T key = from_float<T>(0.f), value = from_float<T>(0.f);
      if (token < tile_kv_len) {
        const T* base = pool + int64_t(block_table[token / block_size]) * block_stride +
                        int64_t(token % block_size) * num_kv_heads * head_dim + head_offset + d;
        key = base[key_offset];
        value = base[value_offset];
      }
      k_tile[j * kv_stride + d] = key;
      v_tile[j * kv_stride + d] = value;
    }
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      const int r = warp * kRowsPerWarp + rr;
      if (r >= tile_rows || start >= kv_len[rr] || start + kTileTokens <= kv_first[rr]) continue;  // uniform across the warp
      const float* q = q_tile + r * head_dim;
      const T* key = k_tile + lane * kv_stride;
      float dot = 0.f;
      for (int d = 0; d < head_dim; ++d) dot += q[d] * to_float(key[d]);
      if (softcap > 0.f) dot = softcap * tanhf(dot / softcap);  // Gemma 2: on the scaled score, as the CPU
      if (alibi_slopes) dot += alibi_slopes[head] * float(start + lane - (kv_len[rr] - 1));
      const bool valid = start + lane < kv_len[rr] && start + lane >= kv_first[rr];
      const float logit = valid ? dot : -INFINITY;
      const float new_max = fmaxf(row_max[rr], warp_max(logit));  // finite: some token of this tile is valid
      const float correction = __expf(row_max[rr] - new_max);
      const float p = valid ? __expf(logit - new_max) : 0.f;
      row_sum[rr] = row_sum[rr] * correction + warp_sum(p);
      const int tokens = min(kTileTokens, kv_len[rr] - start);
#pragma unroll
      for (int i = 0; i < kMaxDimsPerLane; ++i) acc[rr][i] *= correction;
      for (int j = 0; j < tokens; ++j) {
        const float pj = __shfl_sync(0xffffffffu, p, j);
        const T* value = v_tile + j * kv_stride;
#pragma unroll
        for (int i = 0; i < kMaxDimsPerLane; ++i) {
          const int d = lane + 32 * i;
          if (d < head_dim) acc[rr][i] += pj * to_float(value[d]);
        }
      }
      row_max[rr] = new_max;
    }
  }
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int r = warp * kRowsPerWarp + rr;
    if (r >= tile_rows) continue;
    T* out_row = out + (int64_t(first_row + r) * num_heads + head) * head_dim;
#pragma unroll
    for (int i = 0; i < kMaxDimsPerLane; ++i) {
      const int d = lane + 32 * i;
      if (d < head_dim) out_row[d] = from_float<T>(acc[rr][i] / row_sum[rr]);
    }
  }
}

}  // namespace

}  // namespace pagedllm::cuda
