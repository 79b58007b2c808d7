// PhiMoE's sparsemixer routing on the device, exactly as native/cpu/sparsemixer.cpp runs it (transformers 5.18, eval
// mode): per row the top expert (the lowest index on equal logits) weighted by a softmax over the experts whose logits
// lie within 2 * jitter_eps (relative) of its own, then the best of the rest in a softmax the first pick is left out of.
#include "cuda_common.cuh"
#include "moe_ops.h"
#include "sparsemixer_kernels.cuh"

namespace pagedllm::cuda {

void sparsemixer_route(const float* logits, int logits_stride, int num_rows, int num_experts, double jitter_eps, int32_t* experts,
                       float* weights, cudaStream_t stream) {
  if (num_rows == 0) return;
  // transformers compares with the Python float 2 * jitter_eps, which torch takes as an fp32 scalar (as the CPU).
  const float threshold = float(2.0 * jitter_eps);
  sparsemixer_kernel<<<(num_rows + kSparsemixerThreads - 1) / kSparsemixerThreads, kSparsemixerThreads, 0, stream>>>(
      logits, logits_stride, num_rows, num_experts, threshold, experts, weights);
  PAGEDLLM_CUDA_CHECK_LAUNCH("sparsemixer_kernel");
}

}  // namespace pagedllm::cuda
