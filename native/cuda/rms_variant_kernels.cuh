// The RMSNorm variants' kernels (rms_variant_kernels.cu launches them): a scale, and the residual add without a norm.
// Device code that leans only on its includer (cuda_common.cuh, or emulation/cuda_emulation.h, which runs it on the
// CPU in emulation/elementwise.cpp); in an unnamed namespace, as when they lived in the .cu, for the one file that
// launches them.
#pragma once
#include <cstddef>

namespace pagedllm::cuda {

namespace {

__global__ void scale_kernel(float* __restrict__ x, size_t count, float factor) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) x[i] *= factor;
}

template <typename T>
__global__ void add_to_residual_kernel(float* __restrict__ residual, const float* __restrict__ delta, size_t count, T* __restrict__ out) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    const float sum = delta ? residual[i] + delta[i] : residual[i];
    residual[i] = sum;
    out[i] = from_float<T>(sum);
  }
}

}  // namespace

}  // namespace pagedllm::cuda
