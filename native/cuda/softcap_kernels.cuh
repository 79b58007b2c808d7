// The logit soft-capping kernel (softcap_kernels.cu launches it). Device code that leans only on its includer
// (cuda_common.cuh, or emulation/cuda_emulation.h, which runs it on the CPU in emulation/elementwise.cpp).
#pragma once
#include <cstddef>

namespace pagedllm::cuda {

// In double: --use_fast_math turns float division and tanhf into approximations (2.8e-6 relative error on the H100,
// against the CPU's std::tanh); double math is exempt, and an elementwise pass over the logits has time to spare.
__global__ void softcap_kernel(float* __restrict__ x, size_t count, float cap) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    x[i] = float(double(cap) * tanh(double(x[i]) / double(cap)));
}

}  // namespace pagedllm::cuda
