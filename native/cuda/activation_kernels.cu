// The gated MLP's activation: SiLU-and-mul (Llama's SwiGLU) or GeLU(tanh)-and-mul (Gemma's GeGLU), reading the fused
// gate/up projection and writing the down projection's input.
#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

// Grid (token, chunk of 4 x blockDim outputs): each thread reads one float4 of the gate and of the up projection, so
// a decode step's single row spreads over many blocks instead of one looping block. Widths that are not a multiple
// of 4 read element by element.
constexpr int kSiluThreads = 256;

struct SiluMul {
  __device__ __forceinline__ float operator()(float g, float u) const { return g / (1.f + __expf(-g)) * u; }
};
// gelu's tanh form written as x * sigmoid(2z), z = sqrt(2/pi) (x + 0.044715 x^3), as native/cpu/activation.cpp has it;
// expf, not __expf: the CPU reference is exact against float64.
struct GeluTanhMul {
  __device__ __forceinline__ float operator()(float g, float u) const {
    return g / (1.f + expf(-2.f * 0.7978845608028654f * (g + 0.044715f * g * g * g))) * u;
  }
};

template <typename T, typename Act>
__global__ void __launch_bounds__(kSiluThreads) gated_and_mul_kernel(const float* __restrict__ gate_up, int inter, T* __restrict__ out) {
  const Act act_mul;
  const float* gate = gate_up + int64_t(blockIdx.x) * 2 * inter;
  const float* up = gate + inter;
  T* dst = out + int64_t(blockIdx.x) * inter;
  const int first = 4 * (blockIdx.y * kSiluThreads + threadIdx.x);
  if (first >= inter) return;
  if (inter % 4 == 0) {
    const float4 g = *reinterpret_cast<const float4*>(gate + first), u = *reinterpret_cast<const float4*>(up + first);
    dst[first] = from_float<T>(act_mul(g.x, u.x));
    dst[first + 1] = from_float<T>(act_mul(g.y, u.y));
    dst[first + 2] = from_float<T>(act_mul(g.z, u.z));
    dst[first + 3] = from_float<T>(act_mul(g.w, u.w));
    return;
  }
  for (int i = first; i < min(first + 4, inter); ++i) dst[i] = from_float<T>(act_mul(gate[i], up[i]));
}

template <typename T, typename Act>
void launch_gated(const float* gate_up, int num_tokens, int inter, T* out, cudaStream_t stream) {
  if (num_tokens == 0) return;
  const dim3 grid(num_tokens, ceil_div(inter, 4 * kSiluThreads));  // tokens on x: its limit is 2^31 - 1
  gated_and_mul_kernel<T, Act><<<grid, kSiluThreads, 0, stream>>>(gate_up, inter, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("gated_and_mul_kernel");
}

template <typename T>
void silu_and_mul(const float* gate_up, int num_tokens, int inter, T* out, cudaStream_t stream) {
  launch_gated<T, SiluMul>(gate_up, num_tokens, inter, out, stream);
}

template <typename T>
void gelu_tanh_and_mul(const float* gate_up, int num_tokens, int inter, T* out, cudaStream_t stream) {
  launch_gated<T, GeluTanhMul>(gate_up, num_tokens, inter, out, stream);
}

template void silu_and_mul<__half>(const float*, int, int, __half*, cudaStream_t);
template void silu_and_mul<__nv_bfloat16>(const float*, int, int, __nv_bfloat16*, cudaStream_t);
template void gelu_tanh_and_mul<__half>(const float*, int, int, __half*, cudaStream_t);
template void gelu_tanh_and_mul<__nv_bfloat16>(const float*, int, int, __nv_bfloat16*, cudaStream_t);

}  // namespace pagedllm::cuda
