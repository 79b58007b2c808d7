// SiLU-and-mul: the Llama MLP gate, reading the fused gate/up projection and writing the down projection's input.
#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

template <typename T>
__global__ void silu_and_mul_kernel(const float* __restrict__ gate_up, int inter, T* __restrict__ out) {
  const float* gate = gate_up + int64_t(blockIdx.x) * 2 * inter;
  const float* up = gate + inter;
  T* dst = out + int64_t(blockIdx.x) * inter;
  for (int i = threadIdx.x; i < inter; i += blockDim.x) {
    const float g = gate[i];
    dst[i] = from_float<T>(g / (1.f + __expf(-g)) * up[i]);
  }
}

template <typename T>
void silu_and_mul(const float* gate_up, int num_tokens, int inter, T* out, cudaStream_t stream) {
  if (num_tokens == 0) return;
  silu_and_mul_kernel<T><<<num_tokens, 256, 0, stream>>>(gate_up, inter, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("silu_and_mul_kernel");
}

template void silu_and_mul<__half>(const float*, int, int, __half*, cudaStream_t);
template void silu_and_mul<__nv_bfloat16>(const float*, int, int, __nv_bfloat16*, cudaStream_t);

}  // namespace pagedllm::cuda
