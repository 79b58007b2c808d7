// The gated MLP's activation: act(gate) * up with SiLU (Llama's SwiGLU), GeLU's tanh form (Gemma's GeGLU), ReLU or
// GeLU's exact erf form, reading the fused gate/up projection and writing the down projection's input.
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

struct ReluMul {
  __device__ __forceinline__ float operator()(float g, float u) const { return (g > 0.f ? g : 0.f) * u; }
};
struct Relu2Mul {
  __device__ __forceinline__ float operator()(float g, float u) const { return (g > 0.f ? g * g : 0.f) * u; }
};
// gelu's exact form 0.5 x (1 + erf(x / sqrt(2))), erff as the CPU's std::erf in fp32.
struct GeluErfMul {
  __device__ __forceinline__ float operator()(float g, float u) const { return 0.5f * g * (1.f + erff(g * 0.70710678118654752f)) * u; }
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
void gated_and_mul(Activation act, const float* gate_up, int num_tokens, int inter, T* out, cudaStream_t stream) {
  switch (act) {
    case Activation::Silu: return launch_gated<T, SiluMul>(gate_up, num_tokens, inter, out, stream);
    case Activation::GeluTanh: return launch_gated<T, GeluTanhMul>(gate_up, num_tokens, inter, out, stream);
    case Activation::Relu: return launch_gated<T, ReluMul>(gate_up, num_tokens, inter, out, stream);
    case Activation::Relu2: return launch_gated<T, Relu2Mul>(gate_up, num_tokens, inter, out, stream);
    case Activation::GeluErf: return launch_gated<T, GeluErfMul>(gate_up, num_tokens, inter, out, stream);
    case Activation::Xielu: break;  // Apertus: CPU only (refused at load)
  }
  throw std::runtime_error("gated_and_mul: unknown activation");
}

template void gated_and_mul<__half>(Activation, const float*, int, int, __half*, cudaStream_t);
template void gated_and_mul<__nv_bfloat16>(Activation, const float*, int, int, __nv_bfloat16*, cudaStream_t);

}  // namespace pagedllm::cuda
