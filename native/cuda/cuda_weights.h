// Model weights on the GPU in bf16/fp16, with q/k/v and gate/up fused into single matrices (one GEMM each).
#pragma once
#include <vector>

#include "cuda_memory.h"
#include "moe_forward.h"
#include "pagedllm/backend.h"

namespace pagedllm::cuda {

// Norm weights and biases are fp32: biases are added to fp32 GEMM outputs, and Gemma's (1 + weight) is formed at load
// in fp32 (as the CPU does; in bf16 it would round).
template <typename T>
struct LayerWeights {
  const float* input_norm;  // or nullptr (OLMo2: no pre-norms)
  const T* qkv;            // [(num_heads + 2 * num_kv_heads) * head_dim, hidden]: q rows, then k, then v
  const float* qkv_bias;   // same rows, or nullptr
  const float* q_norm;     // [head_dim] each (Qwen3), [q rows] / [kv rows] (OLMo2's whole_qk_norm), or nullptr
  const float* k_norm;
  const T* o_proj;         // [hidden, num_heads * head_dim]
  const float* o_bias;     // [hidden] (Llama's attention_bias), or nullptr
  const float* attention_out_norm;  // Gemma 2's (and OLMo2's) post_attention_layernorm on o_proj's output, or nullptr
  const float* post_attention_norm;  // the pre-MLP norm (Gemma 2: pre_feedforward_layernorm), or nullptr (OLMo2)
  const T* gate_up;        // [2 * intermediate, hidden]: gate rows, then up rows
  const float* gate_up_bias;  // [2 * intermediate] (Llama's mlp_bias), or nullptr
  const T* down_proj;      // [hidden, intermediate]
  const float* down_bias;  // [hidden] (mlp_bias), or nullptr
  const float* mlp_out_norm;  // Gemma 2's (and OLMo2's) post_feedforward_layernorm on the MLP output, or nullptr
  // A sparse layer (ModelConfig::is_sparse_layer) has no gate_up / down: DeviceWeights::moe_layer holds its experts.
};

template <typename T>
class DeviceWeights {
 public:
  // Reads every tensor straight from its safetensors file and converts it on the device.
  DeviceWeights(const BackendOptions& options, cudaStream_t stream);
  const T* embed_tokens() const { return embed_tokens_; }
  const float* final_norm() const { return final_norm_; }
  const T* lm_head() const { return lm_head_; }
  const LayerWeights<T>& layer(int i) const { return layers_[i]; }
  // A sparse layer's router and experts (moe_forward.h), or nullptr for a dense one.
  const MoeLayerWeights<T>* moe_layer(int i) const { return moe_layers_[i].router != nullptr ? &moe_layers_[i] : nullptr; }
  size_t bytes() const { return storage_.bytes(); }

 private:
  DeviceMemory storage_;  // one allocation for all weights
  const T* embed_tokens_ = nullptr;
  const float* final_norm_ = nullptr;
  const T* lm_head_ = nullptr;
  std::vector<LayerWeights<T>> layers_;
  std::vector<MoeLayerWeights<T>> moe_layers_;
};

}  // namespace pagedllm::cuda
