// Soft-capping of logits (Gemma 2's final_logit_softcapping): cap * tanh(x / cap), as native/cpu softcap_score.
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "softcap_kernels.cuh"

namespace pagedllm::cuda {

void softcap_values(float* x, size_t count, float cap, cudaStream_t stream) {
  if (count == 0) return;
  const int blocks = int(std::min<size_t>(4096, (count + 255) / 256));
  softcap_kernel<<<blocks, 256, 0, stream>>>(x, count, cap);
  PAGEDLLM_CUDA_CHECK_LAUNCH("softcap_kernel");
}

}  // namespace pagedllm::cuda
