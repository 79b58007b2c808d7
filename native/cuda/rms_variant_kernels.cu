// The RMSNorm-family variants' extra ops on the device (native/cpu/rms_variants.cpp): Granite's residual_multiplier on
// each sublayer output before its residual add, and its logits times 1 / logits_scaling. One fp32 product per value,
// rounded as the CPU's.
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

namespace {

__global__ void scale_kernel(float* __restrict__ x, size_t count, float factor) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) x[i] *= factor;
}

}  // namespace

void scale_values(float* x, size_t count, float factor, cudaStream_t stream) {
  if (count == 0) return;
  const int blocks = int(std::min<size_t>(4096, (count + 255) / 256));
  scale_kernel<<<blocks, 256, 0, stream>>>(x, count, factor);
  PAGEDLLM_CUDA_CHECK_LAUNCH("scale_kernel");
}

}  // namespace pagedllm::cuda
