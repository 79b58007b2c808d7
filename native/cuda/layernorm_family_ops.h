// Host-side launchers of the LayerNorm family's kernels (layernorm_family_kernels.cu): LayerNorm with bias, the plain
// MLP's activation, residual adds, learned positions, q/k head LayerNorms, MPT's clip. Mirrors native/cpu/layernorm_family.cpp.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "pagedllm/backend.h"

namespace pagedllm::cuda {

// out[r] = (x[src] - mean) / sqrt(var + eps) * weight + bias, src = row_indices ? row_indices[r] : r; mean and variance
// summed in double, as the CPU. weight / bias null: 1 / 0 (OPT's no-affine norms, MPT's bias-free ones). Writes
// out_f32 (may be x, in place, without row_indices) and / or out (a GEMM input); either may be null.
template <typename T>
void layer_norm(const float* x, const int32_t* row_indices, int num_rows, int dim, const float* weight, const float* bias, float eps,
                float* out_f32, T* out, cudaStream_t stream);
// LayerNorm of each q head [0, num_heads) and k head after it, in place in the fp32 QKV rows (Phi's, StableLM's qk_layernorm):
// q_weight / k_weight hold one [head_dim] set for every head (shared) or each head's own ([heads * head_dim]); biases may be null.
void head_layer_norm(float* qkv, int row_stride, int num_tokens, int num_heads, int num_kv_heads, int head_dim, bool shared,
                     const float* q_weight, const float* q_bias, const float* k_weight, const float* k_bias, float eps, cudaStream_t stream);
// out = act(x) over `count` values (relu, gelu erf, gelu tanh, silu: native/cpu activate()), as the next GEMM's input.
template <typename T>
void plain_activation(const float* x, size_t count, Activation act, T* out, cudaStream_t stream);
// residual += a; with b: residual = (b + a) + residual (the parallel residual's order on the CPU: mlp + attention first).
void residual_add(float* residual, const float* a, const float* b, size_t count, cudaStream_t stream);
// residual[t] += table[positions[t] + offset] (GPT-2's and OPT's learned positions, fp32 rows of `hidden`).
void add_position_rows(float* residual, const float* table, const int32_t* positions, int offset, int num_tokens, int hidden, cudaStream_t stream);
// x = clamp(x, -limit, limit) over `count` values (MPT's clip_qkv).
void clamp_values(float* x, size_t count, float limit, cudaStream_t stream);
// out[r] = x[src] as T (src as in layer_norm): a GEMM input from fp32 rows.
template <typename T>
void rows_to(const float* x, const int32_t* row_indices, int num_rows, int dim, T* out, cudaStream_t stream);

}  // namespace pagedllm::cuda
