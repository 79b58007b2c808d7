// The Llama-family forward's steps for Cohere's, OLMo's and PhiMoE's LayerNorms (norm_mean: the mean subtracted; OLMo's
// without weights, PhiMoE's with biases) and Command R+'s per-head q/k LayerNorms, on the LayerNorm family's kernels
// (layernorm_family_ops.h). Mirrors native/cpu/rms_variants.cpp;
// Cohere's parallel block and OLMo's clip_qkv are a line each in cuda_backend.cu's forward().
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "layernorm_family_ops.h"
#include "pagedllm/backend.h"

namespace pagedllm::cuda {

// What the Llama-family forward cannot run of these features: weightless RMSNorms, a parallel block before sparse MLPs
// (whose router reads the pre-MLP norm: moe_forward.h), and a norm bias on an RMSNorm (only PhiMoE's LayerNorms have
// them: norm_bias_weights.h).
inline void check_mean_norm_support(const BackendOptions& options) {
  const ModelConfig& m = options.model;
  auto refuse = [](const std::string& what) { throw std::runtime_error("CUDA backend: " + what + " is not implemented (use --device cpu)"); };
  if (!m.norm_affine && !m.norm_mean) refuse("an RMSNorm without weights");
  if (m.num_experts > 0 && m.parallel_residual) refuse("a parallel block with sparse MLPs");
  for (const TensorSource& tensor : options.tensors) {
    const std::string& name = tensor.name;
    const bool norm_bias = name.size() >= 9 && name.compare(name.size() - 9, 9, "norm.bias") == 0;
    if (norm_bias && !m.norm_mean) refuse("a bias on the RMSNorm " + name.substr(0, name.size() - 5));
  }
}

// residual += delta (null: nothing to add yet, layer 0), then out = LayerNorm(residual) * weight (null: 1) + bias
// (PhiMoE's; null: none), as the next GEMM's input: the CPU's residual_step with norm_mean.
template <typename T>
void add_mean_norm(float* residual, const float* delta, int num_rows, int hidden, const float* weight, float eps, T* out, cudaStream_t stream,
                   const float* bias = nullptr) {
  if (delta != nullptr) residual_add(residual, delta, nullptr, size_t(num_rows) * hidden, stream);
  layer_norm<T>(residual, nullptr, num_rows, hidden, weight, bias, eps, nullptr, out, stream);
}

// Command R+'s use_qk_norm: each q head and each k head after them LayerNorm-ed in place in the fp32 QKV rows, no bias,
// each head its own [head_dim] weights (q_weight [num_heads * head_dim], k_weight [num_kv_heads * head_dim]): the CPU's
// head_layer_norm with zero biases.
inline void head_mean_norm(float* qkv, int row_stride, int num_tokens, int num_heads, int num_kv_heads, int head_dim, const float* q_weight,
                           const float* k_weight, float eps, cudaStream_t stream) {
  head_layer_norm(qkv, row_stride, num_tokens, num_heads, num_kv_heads, head_dim, false, q_weight, nullptr, k_weight, nullptr, eps, stream);
}

}  // namespace pagedllm::cuda
