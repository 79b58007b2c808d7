// The biases the Llama-family loader (cuda_weights.cu) does not hold: PhiMoE's LayerNorm biases (input_layernorm,
// post_attention_layernorm, model.norm) and its lm_head bias (lm_head_bias), fp32 in an allocation of their own.
// A model without them allocates nothing, and every accessor gives null (no bias), as the CPU's empty vectors.
#pragma once
#include <cuda_runtime.h>

#include <vector>

#include "cuda_memory.h"
#include "pagedllm/backend.h"

namespace pagedllm::cuda {

class NormBiasWeights {
 public:
  NormBiasWeights(const BackendOptions& options, cudaStream_t stream);
  const float* input_norm(int layer) const { return input_norm_[layer]; }
  const float* post_attention_norm(int layer) const { return post_attention_norm_[layer]; }
  const float* final_norm() const { return final_norm_; }
  const float* lm_head() const { return lm_head_; }
  size_t bytes() const { return storage_.bytes(); }

 private:
  DeviceMemory storage_;
  std::vector<const float*> input_norm_, post_attention_norm_;
  const float* final_norm_ = nullptr;
  const float* lm_head_ = nullptr;
};

}  // namespace pagedllm::cuda
