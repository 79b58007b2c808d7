// The LayerNorm family's kernels (layernorm_family_kernels.cu launches them) and their grids. Device code that leans
// only on its includer (cuda_common.cuh, or emulation/cuda_emulation.h, which runs it on the CPU in
// emulation/layernorm_family.cpp); in an unnamed namespace, as when they lived in the .cu, for the one file that
// launches them.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "pagedllm/backend.h"

namespace pagedllm::cuda {

namespace {

constexpr int kElementThreads = 256;
constexpr int kHeadNormWarps = 8;  // head_layer_norm: a warp per (token, head)

int element_blocks(size_t count) { return int(std::min<size_t>(65535, (count + kElementThreads - 1) / kElementThreads)); }

// The CPU's normalisation of one value: (x - mean_f) * inverse_std * weight + bias in fp32 (the AVX2 path's fma).
__device__ __forceinline__ float normalized(float x, float mean, float inverse_std, const float* weight, const float* bias, int i) {
  return fmaf((x - mean) * inverse_std, weight ? weight[i] : 1.f, bias ? bias[i] : 0.f);
}

// One block per output row: the sum, then the squared deviations from the mean, in double; x may be out_f32.
template <typename T>
__global__ void layer_norm_kernel(const float* x, const int32_t* __restrict__ row_indices, int dim, const float* __restrict__ weight,
                                  const float* __restrict__ bias, float eps, float* out_f32, T* __restrict__ out) {
  __shared__ double scratch[32];
  const int64_t src = row_indices ? row_indices[blockIdx.x] : blockIdx.x;
  const float* row = x + src * dim;
  double sum = 0;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) sum += row[i];
  const double mean = block_sum(sum, scratch) / dim;
  double squares = 0;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) squares += (row[i] - mean) * (row[i] - mean);
  const float inverse_std = float(1.0 / sqrt(block_sum(squares, scratch) / dim + eps));
  const float mean_f = float(mean);
  // Every read of the row is behind the last barrier, so writing it in place is safe.
  for (int i = threadIdx.x; i < dim; i += blockDim.x) {
    const float value = normalized(row[i], mean_f, inverse_std, weight, bias, i);
    if (out_f32) out_f32[int64_t(blockIdx.x) * dim + i] = value;
    if (out) out[int64_t(blockIdx.x) * dim + i] = from_float<T>(value);
  }
}

// A warp per (token, head): q heads, then k heads.
__global__ void head_layer_norm_kernel(float* __restrict__ qkv, int row_stride, int num_tokens, int num_heads, int num_kv_heads, int head_dim,
                                       bool shared, const float* __restrict__ q_weight, const float* __restrict__ q_bias,
                                       const float* __restrict__ k_weight, const float* __restrict__ k_bias, float eps) {
  const int heads = num_heads + num_kv_heads;
  const int64_t item = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (item >= int64_t(num_tokens) * heads) return;
  const int token = int(item / heads), head = int(item % heads), lane = threadIdx.x & 31;
  const bool is_q = head < num_heads;
  const int own = is_q ? head : head - num_heads;  // the head's index among its own kind, for per-head weights
  const int at = shared ? 0 : own * head_dim;
  const float* weight = (is_q ? q_weight : k_weight) + at;
  const float* bias = is_q ? q_bias : k_bias;
  if (bias) bias += at;
  float* x = qkv + int64_t(token) * row_stride + int64_t(head) * head_dim;
  double sum = 0;
  for (int i = lane; i < head_dim; i += 32) sum += x[i];
  const double mean = warp_sum(sum) / head_dim;
  double squares = 0;
  for (int i = lane; i < head_dim; i += 32) squares += (x[i] - mean) * (x[i] - mean);
  const float inverse_std = float(1.0 / sqrt(warp_sum(squares) / head_dim + eps));
  const float mean_f = float(mean);
  for (int i = lane; i < head_dim; i += 32) x[i] = normalized(x[i], mean_f, inverse_std, weight, bias, i);
}

// native/cpu/activation.cpp's formulas, with expf and erff (not the fast intrinsics): the CPU reference is exact.
__device__ __forceinline__ float activate(float x, Activation act) {
  switch (act) {
    case Activation::Relu: return x > 0.f ? x : 0.f;
    case Activation::Relu2: return x > 0.f ? x * x : 0.f;
    case Activation::GeluErf: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case Activation::GeluTanh: return x / (1.f + expf(-2.f * 0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case Activation::Silu: return x / (1.f + expf(-x));
    case Activation::Xielu: break;  // Apertus: CPU only (refused at load)
  }
  return x;
}

template <typename T>
__global__ void plain_activation_kernel(const float* __restrict__ x, size_t count, Activation act, T* __restrict__ out) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    out[i] = from_float<T>(activate(x[i], act));
}

__global__ void residual_add_kernel(float* __restrict__ residual, const float* __restrict__ a, const float* __restrict__ b, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    residual[i] = b ? (b[i] + a[i]) + residual[i] : residual[i] + a[i];
}

__global__ void add_position_rows_kernel(float* __restrict__ residual, const float* __restrict__ table, const int32_t* __restrict__ positions,
                                         int offset, int hidden) {
  const float* row = table + int64_t(positions[blockIdx.x] + offset) * hidden;
  float* dst = residual + int64_t(blockIdx.x) * hidden;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) dst[i] += row[i];
}

__global__ void clamp_kernel(float* __restrict__ x, size_t count, float limit) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    x[i] = fminf(fmaxf(x[i], -limit), limit);
}

template <typename T>
__global__ void rows_to_kernel(const float* __restrict__ x, const int32_t* __restrict__ row_indices, int dim, T* __restrict__ out) {
  const int64_t src = row_indices ? row_indices[blockIdx.x] : blockIdx.x;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) out[int64_t(blockIdx.x) * dim + i] = from_float<T>(x[src * dim + i]);
}

int row_threads(int dim) { return std::min(1024, std::max(32, (dim + 31) / 32 * 32)); }

}  // namespace

}  // namespace pagedllm::cuda
