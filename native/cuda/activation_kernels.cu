// The gated MLP's activation: act(gate) * up with SiLU (Llama's SwiGLU), GeLU's tanh form (Gemma's GeGLU), ReLU or
// GeLU's exact erf form, reading the fused gate/up projection and writing the down projection's input.
#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "activation_kernels.cuh"

namespace pagedllm::cuda {

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
