// Qwen3's q/k norm kernel (head_norm_kernels.cu launches it): device code that leans only on its includer
// (cuda_common.cuh, or emulation/cuda_emulation.h, which runs it on the CPU in emulation/head_norm.cpp).
#pragma once
#include <cstdint>

namespace pagedllm::cuda {

// One warp per (token, head): blockIdx.x is the token, warp w of the block the head (q heads, then k heads). A head
// is a few hundred floats at most, so one warp's lanes stride over it and a shuffle reduction gives the mean square.
constexpr int kHeadsPerBlock = 4;

__global__ void head_rms_norm_kernel(float* __restrict__ qkv, int row_stride, int num_heads, int num_kv_heads, int head_dim,
                                     const float* __restrict__ q_weight, const float* __restrict__ k_weight, float eps) {
  const int head = blockIdx.y * kHeadsPerBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (head >= num_heads + num_kv_heads) return;
  float* x = qkv + int64_t(blockIdx.x) * row_stride + int64_t(head) * head_dim;  // k heads follow the q heads
  const float* weight = head < num_heads ? q_weight : k_weight;
  float sum_squares = 0.f;
  for (int i = lane; i < head_dim; i += 32) sum_squares += x[i] * x[i];
  const float inv_rms = rsqrtf(warp_sum(sum_squares) / head_dim + eps);
  for (int i = lane; i < head_dim; i += 32) x[i] = x[i] * inv_rms * weight[i];
}

}  // namespace pagedllm::cuda
