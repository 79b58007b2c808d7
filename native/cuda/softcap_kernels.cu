// Soft-capping of logits (Gemma 2's final_logit_softcapping): cap * tanh(x / cap), as native/cpu softcap_score.
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

// tanhf, not a fast approximation: the CPU reference uses std::tanh.
__global__ void softcap_kernel(float* __restrict__ x, size_t count, float cap) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    x[i] = cap * tanhf(x[i] / cap);
}

void softcap_values(float* x, size_t count, float cap, cudaStream_t stream) {
  if (count == 0) return;
  const int blocks = int(std::min<size_t>(4096, (count + 255) / 256));
  softcap_kernel<<<blocks, 256, 0, stream>>>(x, count, cap);
  PAGEDLLM_CUDA_CHECK_LAUNCH("softcap_kernel");
}

}  // namespace pagedllm::cuda
