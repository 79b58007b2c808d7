// The gated MLP's activation kernel and its activations (activation_kernels.cu launches them). Device code that leans
// only on its includer (cuda_common.cuh, or emulation/cuda_emulation.h, which runs it on the CPU in
// emulation/elementwise.cpp).
#pragma once
#include <cstdint>

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

}  // namespace pagedllm::cuda
