// The logit soft-capping kernel (softcap_kernels.cu launches it). Device code that leans only on its includer
// (cuda_common.cuh, or emulation/cuda_emulation.h, which runs it on the CPU in emulation/elementwise.cpp).
#pragma once
#include <cstddef>

namespace pagedllm::cuda {

// tanhf, not a fast approximation: the CPU reference uses std::tanh.
__global__ void softcap_kernel(float* __restrict__ x, size_t count, float cap) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    x[i] = cap * tanhf(x[i] / cap);
}

}  // namespace pagedllm::cuda
