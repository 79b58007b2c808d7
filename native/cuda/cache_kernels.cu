// KV cache writes and block moves: reshape_and_cache (new K/V into their slots) and copy_blocks (copy-on-write).
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

// One block per token; slot -1 (padding, or a token whose KV is already cached) writes nothing.
template <typename T>
__global__ void reshape_and_cache_kernel(const float* __restrict__ qkv, int row_stride, int k_col, int v_col,
                                         const int32_t* __restrict__ slot_mapping, T* __restrict__ pool, int block_size,
                                         int64_t block_stride, int64_t key_offset, int64_t value_offset, int kv_width) {
  const int slot = slot_mapping[blockIdx.x];
  if (slot < 0) return;
  const float* row = qkv + int64_t(blockIdx.x) * row_stride;
  T* base = pool + int64_t(slot / block_size) * block_stride + int64_t(slot % block_size) * kv_width;
  for (int i = threadIdx.x; i < kv_width; i += blockDim.x) {
    base[key_offset + i] = from_float<T>(row[k_col + i]);
    base[value_offset + i] = from_float<T>(row[v_col + i]);
  }
}

template <typename T>
void reshape_and_cache(const float* qkv, int row_stride, int k_col, int v_col, const int32_t* slot_mapping, int num_tokens,
                       T* pool, const KvLayout& layout, int layer, cudaStream_t stream) {
  if (num_tokens == 0) return;
  // A thread per K/V element pair of the token (up to 1024), so one token's write is one round of loads.
  const int threads = std::min(1024, (layout.num_kv_heads * layout.head_dim + 31) / 32 * 32);
  reshape_and_cache_kernel<T><<<num_tokens, threads, 0, stream>>>(
      qkv, row_stride, k_col, v_col, slot_mapping, pool, layout.block_size, int64_t(layout.block_stride()),
      int64_t(layout.key_offset(layer)), int64_t(layout.value_offset(layer)), layout.num_kv_heads * layout.head_dim);
  PAGEDLLM_CUDA_CHECK_LAUNCH("reshape_and_cache_kernel");
}

// Grid (pair, chunk): every pair copies its whole block (all layers) in 16-byte words, so one launch serves
// all copy-on-write moves of a step. block_stride bytes are a multiple of 16 (checked by the launcher).
__global__ void copy_blocks_kernel(uint4* __restrict__ pool, const int32_t* __restrict__ pairs, int64_t words_per_block) {
  const int64_t src = pairs[2 * blockIdx.x], dst = pairs[2 * blockIdx.x + 1];
  const uint4* from = pool + src * words_per_block;
  uint4* to = pool + dst * words_per_block;
  for (int64_t i = int64_t(blockIdx.y) * blockDim.x + threadIdx.x; i < words_per_block; i += int64_t(gridDim.y) * blockDim.x)
    to[i] = from[i];
}

template <typename T>
__global__ void copy_blocks_scalar_kernel(T* __restrict__ pool, const int32_t* __restrict__ pairs, int64_t elems_per_block) {
  const int64_t src = pairs[2 * blockIdx.x], dst = pairs[2 * blockIdx.x + 1];
  for (int64_t i = int64_t(blockIdx.y) * blockDim.x + threadIdx.x; i < elems_per_block; i += int64_t(gridDim.y) * blockDim.x)
    pool[dst * elems_per_block + i] = pool[src * elems_per_block + i];
}

template <typename T>
void copy_blocks(T* pool, const int32_t* pairs, int num_pairs, const KvLayout& layout, cudaStream_t stream) {
  if (num_pairs == 0) return;
  const int64_t bytes = int64_t(layout.block_stride()) * sizeof(T);
  const int64_t elems = int64_t(layout.block_stride());
  const int chunks = int(std::min<int64_t>(64, (elems + 256 * 8 - 1) / (256 * 8)));
  const dim3 grid(num_pairs, chunks > 0 ? chunks : 1);
  if (bytes % 16 == 0) {
    copy_blocks_kernel<<<grid, 256, 0, stream>>>(reinterpret_cast<uint4*>(pool), pairs, bytes / 16);
  } else {
    copy_blocks_scalar_kernel<T><<<grid, 256, 0, stream>>>(pool, pairs, elems);
  }
  PAGEDLLM_CUDA_CHECK_LAUNCH("copy_blocks_kernel");
}

template void reshape_and_cache<__half>(const float*, int, int, int, const int32_t*, int, __half*, const KvLayout&, int,
                                        cudaStream_t);
template void reshape_and_cache<__nv_bfloat16>(const float*, int, int, int, const int32_t*, int, __nv_bfloat16*,
                                               const KvLayout&, int, cudaStream_t);
template void copy_blocks<__half>(__half*, const int32_t*, int, const KvLayout&, cudaStream_t);
template void copy_blocks<__nv_bfloat16>(__nv_bfloat16*, const int32_t*, int, const KvLayout&, cudaStream_t);

}  // namespace pagedllm::cuda
