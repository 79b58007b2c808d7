// Token embedding lookup: gathers bf16/fp16 table rows into the fp32 residual stream (times Gemma's embedding scale).
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

template <typename T>
__global__ void embedding_kernel(const T* __restrict__ table, const int32_t* __restrict__ token_ids, int hidden,
                                 float scale, float* __restrict__ out) {
  const int64_t token = token_ids[blockIdx.x];
  const T* row = table + token * hidden;
  float* dst = out + int64_t(blockIdx.x) * hidden;
  // x * 1 is x: the unscaled lookup stays an exact gather.
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) dst[i] = to_float(row[i]) * scale;
}

template <typename T>
void embedding_lookup(const T* table, const int32_t* token_ids, int num_tokens, int hidden, float* out, cudaStream_t stream,
                      float scale) {
  if (num_tokens == 0) return;
  embedding_kernel<<<num_tokens, std::min(1024, (hidden + 31) / 32 * 32), 0, stream>>>(table, token_ids, hidden, scale, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("embedding_kernel");
}

template void embedding_lookup<__half>(const __half*, const int32_t*, int, int, float*, cudaStream_t, float);
template void embedding_lookup<__nv_bfloat16>(const __nv_bfloat16*, const int32_t*, int, int, float*, cudaStream_t, float);

}  // namespace pagedllm::cuda
