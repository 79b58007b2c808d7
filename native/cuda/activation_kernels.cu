// SiLU-and-mul: the Llama MLP gate, reading the fused gate/up projection and writing the down projection's input.
#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

// Grid (token, chunk of 4 x blockDim outputs): each thread reads one float4 of the gate and of the up projection, so
// a decode step's single row spreads over many blocks instead of one looping block. Widths that are not a multiple
// of 4 read element by element.
constexpr int kSiluThreads = 256;

__device__ __forceinline__ float silu_mul(float g, float u) { return g / (1.f + __expf(-g)) * u; }

template <typename T>
__global__ void __launch_bounds__(kSiluThreads) silu_and_mul_kernel(const float* __restrict__ gate_up, int inter, T* __restrict__ out) {
  const float* gate = gate_up + int64_t(blockIdx.x) * 2 * inter;
  const float* up = gate + inter;
  T* dst = out + int64_t(blockIdx.x) * inter;
  const int first = 4 * (blockIdx.y * kSiluThreads + threadIdx.x);
  if (first >= inter) return;
  if (inter % 4 == 0) {
    const float4 g = *reinterpret_cast<const float4*>(gate + first), u = *reinterpret_cast<const float4*>(up + first);
    dst[first] = from_float<T>(silu_mul(g.x, u.x));
    dst[first + 1] = from_float<T>(silu_mul(g.y, u.y));
    dst[first + 2] = from_float<T>(silu_mul(g.z, u.z));
    dst[first + 3] = from_float<T>(silu_mul(g.w, u.w));
    return;
  }
  for (int i = first; i < min(first + 4, inter); ++i) dst[i] = from_float<T>(silu_mul(gate[i], up[i]));
}

template <typename T>
void silu_and_mul(const float* gate_up, int num_tokens, int inter, T* out, cudaStream_t stream) {
  if (num_tokens == 0) return;
  const dim3 grid(num_tokens, ceil_div(inter, 4 * kSiluThreads));  // tokens on x: its limit is 2^31 - 1
  silu_and_mul_kernel<T><<<grid, kSiluThreads, 0, stream>>>(gate_up, inter, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("silu_and_mul_kernel");
}

template void silu_and_mul<__half>(const float*, int, int, __half*, cudaStream_t);
template void silu_and_mul<__nv_bfloat16>(const float*, int, int, __nv_bfloat16*, cudaStream_t);

}  // namespace pagedllm::cuda
