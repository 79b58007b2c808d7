// The RMSNorm-family variants' extra ops on the device (native/cpu/rms_variants.cpp): Granite's residual_multiplier on
// each sublayer output before its residual add, and its logits times 1 / logits_scaling (one fp32 product per value,
// rounded as the CPU's); OLMo2's residual add without a norm after it (the next GEMM reads the residual itself).
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "rms_variant_kernels.cuh"

namespace pagedllm::cuda {

namespace {

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
