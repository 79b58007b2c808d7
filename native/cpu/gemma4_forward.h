// Gemma 4's decoder (transformers' Gemma4TextModel) over one validated batch: layers of two shapes, KV-shared layers
// reading an earlier layer's cache, v norms, keys as values, per-layer inputs and each layer's output scale.
#pragma once
#include <map>
#include <vector>

#include "model_weights.h"

namespace pagedllm {
namespace cpu {

// One layer's cache: the pool it reads (a KV-shared layer: its source layer's) and that pool's block shape.
struct Gemma4Kv {
  float* key = nullptr;
  float* value = nullptr;
  KvLayout layout;
};

// The cache block shape of `layer` (its source layer's heads and head size).
KvLayout gemma4_kv_layout(const ModelConfig& config, int block_size, int layer);

class Gemma4Forward {
 public:
  explicit Gemma4Forward(const ModelConfig& config);
  // Every layer over the batch; leaves the last hidden state in `residual` and zeros in `hidden`, the inputs the
  // backend's LM head adds and normalises.
  void layers(ThreadPool& pool, const ModelWeights& weights, const std::vector<Gemma4Kv>& kv, LinearOrder order,
              const ForwardBatch& batch, std::vector<float>& residual, std::vector<float>& hidden);

 private:
  friend class Gemma3nForward;  // Gemma 3n runs these steps around its AltUp streams
  void per_layer_inputs(ThreadPool& pool, const ModelWeights& weights, LinearOrder order, const ForwardBatch& batch, const float* embedded);
  void attention(ThreadPool& pool, const ModelWeights& weights, int layer, const Gemma4Kv& kv, LinearOrder order, const ForwardBatch& batch, float* out);
  void moe_block(ThreadPool& pool, const ModelWeights& weights, int layer, LinearOrder order, int tokens, const float* h, float* mlp_out);
  void per_layer_block(ThreadPool& pool, const ModelWeights& weights, int layer, LinearOrder order, int tokens, float* h);
  const float* cos_sin(const ForwardBatch& batch, int layer);

  ModelConfig config_;
  std::vector<float> ones_;  // v_norm has no weight
  // Per step: one cos/sin table per (full?, head size), built on first use.
  std::map<std::pair<bool, int>, std::vector<float>> tables_;
  std::vector<float> normed_, qkv_, attention_out_, gate_up_, activated_, out_, ple_, ple_gate_, router_in_, router_logits_, route_weights_, experts_out_;
  std::vector<int32_t> routed_experts_;
  MoeScratch moe_scratch_;
};

}  // namespace cpu
}  // namespace pagedllm
