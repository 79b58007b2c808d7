// Tiled (flash-style) causal prefill attention over the paged cache: 16 query rows of one sequence share each
// 32-token K/V tile read into shared memory, with an online softmax per row; decode rows stay on paged_attention
// (the host split of rows: pagedllm/attention_split.h).
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "pagedllm/sliding_window.h"

namespace pagedllm::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kRowsPerWarp = kPrefillTileRows / kWarps;
constexpr int kTileTokens = 32;  // one token per lane when scoring
constexpr int kMaxDimsPerLane = kMaxAttentionHeadDim / 32;

size_t shared_bytes(int head_dim, size_t element_bytes) {
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
  extern __shared__ __align__(16) unsigned char shared[];
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

template <typename T>
void prefill_attention(const float* qkv, int row_stride, int num_heads, const T* pool, const KvLayout& layout, int layer,
                       float scale, const AttentionRows& rows, T* out, cudaStream_t stream) {
  if (rows.num_prefill_tiles == 0) return;
  if (num_heads > 65535) throw std::runtime_error("prefill_attention: more than 65,535 heads");
  const size_t bytes = shared_bytes(layout.head_dim, sizeof(T));
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
