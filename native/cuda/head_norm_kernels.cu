// Qwen3's q/k norm: RMSNorm of each q and k head of the fp32 QKV rows, in place, before RoPE (fp32 weights [head_dim]).
#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "head_norm_kernels.cuh"

namespace pagedllm::cuda {

void head_rms_norm(float* qkv, int row_stride, int num_tokens, int num_heads, int num_kv_heads, int head_dim,
                   const float* q_weight, const float* k_weight, float eps, cudaStream_t stream) {
  if (num_tokens == 0) return;
  const dim3 grid(num_tokens, (num_heads + num_kv_heads + kHeadsPerBlock - 1) / kHeadsPerBlock);
  head_rms_norm_kernel<<<grid, 32 * kHeadsPerBlock, 0, stream>>>(qkv, row_stride, num_heads, num_kv_heads, head_dim, q_weight,
                                                                 k_weight, eps);
  PAGEDLLM_CUDA_CHECK_LAUNCH("head_rms_norm_kernel");
}

}  // namespace pagedllm::cuda
