// The LayerNorm family's forward pass on the GPU (OPT, GPT-NeoX, GPT-2, Phi, StableLM, StarCoder2, GPT-J, GPT-BigCode,
// Falcon, BLOOM, MPT): the CUDA mirror of native/cpu/layernorm_family.cpp over the backend's KV pool, indices and GEMM.
#pragma once
#include <functional>
#include <memory>

#include "cuda_memory.h"
#include "cuda_ops.h"
#include "gemm.h"
#include "layernorm_weights.h"
#include "pagedllm/learned_positions.h"  // check_learned_positions, which the backend calls

namespace pagedllm::cuda {

// One step's device indices as the backend uploaded them, and its attention rows.
struct LayerNormStep {
  int num_tokens = 0;
  int num_logits = 0;
  const int32_t* token_ids = nullptr;
  const int32_t* positions = nullptr;
  const int32_t* slot_mapping = nullptr;
  const int32_t* logits_indices = nullptr;
  AttentionRows rows;
};

// Logits rows [first, first + rows) of the step, fp32 on the device, valid until the next chunk.
using LogitsChunkSink = std::function<void(const float* logits, int first, int rows)>;

// What of the family the CUDA backend runs; throws naming what it lacks (a gated MLP of relu or erf gelu). The backend
// calls it before loading anything.
void check_layernorm_family_support(const ModelConfig& model);

template <typename T>
class LayerNormForward {
 public:
  LayerNormForward(const BackendOptions& options, const Gemm& gemm, cudaStream_t stream);
  size_t weight_bytes() const { return weights_.bytes(); }  // as cudaWeightBytes counts them (the Llama path's inv_freq is not either)
  // Scratch bytes run() needs for this step; the logits chunk comes first, at offset 0 (the decode graphs rely on it).
  size_t scratch_bytes(const LayerNormStep& step, size_t attention_workspace_bytes) const;
  // The layers over every row, then final norm and LM head for the logits rows, kLogitsChunkRows at a time, each chunk
  // handed to `sink` before the next overwrites it.
  void run(const LayerNormStep& step, T* kv_pool, const KvLayout& layout, char* scratch, size_t attention_workspace_bytes,
           const LogitsChunkSink& sink) const;

 private:
  struct Buffers;
  Buffers carve(const LayerNormStep& step, char* scratch, size_t attention_workspace_bytes, size_t* total) const;
  void attention(const LayerNormStep& step, const LayerNormLayer<T>& w, int layer, T* kv_pool, const KvLayout& layout, const Buffers& b) const;
  void mlp(int n, const LayerNormLayer<T>& w, const Buffers& b) const;

  const ModelConfig model_;
  const Gemm& gemm_;
  cudaStream_t stream_;
  LayerNormWeights<T> weights_;
  DeviceMemory constants_;  // rotary inverse frequencies, then ALiBi slopes
  const float* inv_freq_ = nullptr;
  const float* alibi_slopes_ = nullptr;
};

}  // namespace pagedllm::cuda
