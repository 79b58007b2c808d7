// The RMSNorm-family variants' extra ops on the device (native/cpu/rms_variants.cpp): Granite's residual_multiplier on
// each sublayer output before its residual add, and its logits times 1 / logits_scaling (one fp32 product per value,
// rounded as the CPU's); OLMo2's residual add without a norm after it (the next GEMM reads the residual itself).
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"

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

int grid_for(size_t count) { return int(std::min<size_t>(4096, (count + 255) / 256)); }

}  // namespace

template <typename T>
void add_to_residual(float* residual, const float* delta, size_t count, T* out, cudaStream_t stream) {
  if (count == 0) return;
  add_to_residual_kernel<T><<<grid_for(count), 256, 0, stream>>>(residual, delta, count, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("add_to_residual_kernel");
}
template void add_to_residual<__half>(float*, const float*, size_t, __half*, cudaStream_t);
template void add_to_residual<__nv_bfloat16>(float*, const float*, size_t, __nv_bfloat16*, cudaStream_t);

void scale_values(float* x, size_t count, float factor, cudaStream_t stream) {
  if (count == 0) return;
  scale_kernel<<<grid_for(count), 256, 0, stream>>>(x, count, factor);
  PAGEDLLM_CUDA_CHECK_LAUNCH("scale_kernel");
}

}  // namespace pagedllm::cuda
