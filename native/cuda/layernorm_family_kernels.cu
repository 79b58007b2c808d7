// The LayerNorm family's kernels (OPT, GPT-NeoX, GPT-2, Phi, StableLM, StarCoder2, Falcon, BLOOM, MPT, ...): LayerNorm
// with bias over rows or q/k heads, the plain MLP's activation, residual adds, learned positions, clip. Each mirrors
// native/cpu/layernorm_family.cpp's arithmetic: mean and variance in double, the rest in fp32.
#include <algorithm>

#include "cuda_common.cuh"
#include "layernorm_family_kernels.cuh"
#include "layernorm_family_ops.h"

namespace pagedllm::cuda {

template <typename T>
void layer_norm(const float* x, const int32_t* row_indices, int num_rows, int dim, const float* weight, const float* bias, float eps,
                float* out_f32, T* out, cudaStream_t stream) {
  if (num_rows == 0) return;
  if (row_indices && out_f32 == x) throw std::runtime_error("layer_norm: a gathered norm cannot write its rows in place");
  layer_norm_kernel<T><<<num_rows, row_threads(dim), 0, stream>>>(x, row_indices, dim, weight, bias, eps, out_f32, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("layer_norm_kernel");
}

void head_layer_norm(float* qkv, int row_stride, int num_tokens, int num_heads, int num_kv_heads, int head_dim, bool shared,
                     const float* q_weight, const float* q_bias, const float* k_weight, const float* k_bias, float eps, cudaStream_t stream) {
  const int64_t items = int64_t(num_tokens) * (num_heads + num_kv_heads);
  if (items == 0) return;
  head_layer_norm_kernel<<<int((items + kHeadNormWarps - 1) / kHeadNormWarps), kHeadNormWarps * 32, 0, stream>>>(
      qkv, row_stride, num_tokens, num_heads, num_kv_heads, head_dim, shared, q_weight, q_bias, k_weight, k_bias, eps);
  PAGEDLLM_CUDA_CHECK_LAUNCH("head_layer_norm_kernel");
}

template <typename T>
void plain_activation(const float* x, size_t count, Activation act, T* out, cudaStream_t stream) {
  if (count == 0) return;
  plain_activation_kernel<T><<<element_blocks(count), kElementThreads, 0, stream>>>(x, count, act, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("plain_activation_kernel");
}

void residual_add(float* residual, const float* a, const float* b, size_t count, cudaStream_t stream) {
  if (count == 0) return;
  residual_add_kernel<<<element_blocks(count), kElementThreads, 0, stream>>>(residual, a, b, count);
  PAGEDLLM_CUDA_CHECK_LAUNCH("residual_add_kernel");
}

void add_position_rows(float* residual, const float* table, const int32_t* positions, int offset, int num_tokens, int hidden, cudaStream_t stream) {
  if (num_tokens == 0) return;
  add_position_rows_kernel<<<num_tokens, row_threads(hidden), 0, stream>>>(residual, table, positions, offset, hidden);
  PAGEDLLM_CUDA_CHECK_LAUNCH("add_position_rows_kernel");
}

void clamp_values(float* x, size_t count, float limit, cudaStream_t stream) {
  if (count == 0) return;
  clamp_kernel<<<element_blocks(count), kElementThreads, 0, stream>>>(x, count, limit);
  PAGEDLLM_CUDA_CHECK_LAUNCH("clamp_kernel");
}

template <typename T>
void rows_to(const float* x, const int32_t* row_indices, int num_rows, int dim, T* out, cudaStream_t stream) {
  if (num_rows == 0) return;
  rows_to_kernel<T><<<num_rows, row_threads(dim), 0, stream>>>(x, row_indices, dim, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("rows_to_kernel");
}

template void layer_norm<__half>(const float*, const int32_t*, int, int, const float*, const float*, float, float*, __half*, cudaStream_t);
template void layer_norm<__nv_bfloat16>(const float*, const int32_t*, int, int, const float*, const float*, float, float*, __nv_bfloat16*,
                                        cudaStream_t);
template void plain_activation<__half>(const float*, size_t, Activation, __half*, cudaStream_t);
template void plain_activation<__nv_bfloat16>(const float*, size_t, Activation, __nv_bfloat16*, cudaStream_t);
template void rows_to<__half>(const float*, const int32_t*, int, int, __half*, cudaStream_t);
template void rows_to<__nv_bfloat16>(const float*, const int32_t*, int, int, __nv_bfloat16*, cudaStream_t);

}  // namespace pagedllm::cuda
