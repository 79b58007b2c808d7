// The LayerNorm family's weights on the GPU (OPT, GPT-NeoX, GPT-2, Phi, StableLM, StarCoder2, GPT-J, Falcon, BLOOM, MPT,
// ...), read under the engine's names (src/engine/model/layernorm-family.ts renames them) as native/cpu/model_weights.cpp's
// load_layernorm_family reads them: matrices in bf16/fp16, norms, biases and learned positions in fp32. A tensor the
// checkpoint lacks is a null pointer: a norm without weight scales by 1, a missing bias adds 0.
#pragma once
#include <vector>

#include "cuda_memory.h"
#include "pagedllm/backend.h"

namespace pagedllm::cuda {

template <typename T>
struct LayerNormLayer {
  const float *input_norm, *input_norm_bias;
  const float *post_norm, *post_norm_bias;  // null with a shared norm (Phi, GPT-J, Falcon's parallel block)
  // Phi's / StableLM's q and k head norms: one [head_dim] set for all heads (head_norm_shared) or one per head.
  const float *q_norm, *q_norm_bias, *k_norm, *k_norm_bias;
  bool head_norm_shared;
  const T* qkv;  // [q | k | v] rows, compute order (pagedllm/tensor_rows.h)
  const float* qkv_bias;
  const T* o_proj;
  const float* o_bias;
  const T* fc1;  // fc1, or StableLM's [gate | up]
  const float* fc1_bias;
  const T* fc2;  // fc2 (down)
  const float* fc2_bias;
};

template <typename T>
class LayerNormWeights {
 public:
  LayerNormWeights(const BackendOptions& options, cudaStream_t stream);
  size_t bytes() const { return storage_.bytes(); }

  const T *embed_tokens = nullptr, *lm_head = nullptr;  // lm_head is embed_tokens when tied
  const float* lm_head_bias = nullptr;
  const float *embed_norm = nullptr, *embed_norm_bias = nullptr;  // BLOOM's word_embeddings_layernorm
  const float* positions = nullptr;  // learned position rows (GPT-2, OPT), fp32 as on the CPU
  const T *project_in = nullptr, *project_out = nullptr;  // OPT's word_embed_proj_dim
  const float *final_norm = nullptr, *final_norm_bias = nullptr;
  std::vector<LayerNormLayer<T>> layers;

 private:
  DeviceMemory storage_;
};

}  // namespace pagedllm::cuda
