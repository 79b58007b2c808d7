// Gemma 3n's decoder (transformers 5.18's Gemma3nTextModel) over one validated batch: Gemma 4's attention (KV-shared
// layers, v norms) and per-layer inputs (gemma4_forward.h) inside AltUp's parallel streams, with LAuReL beside the
// attention and a gaussian top-k cut of the MLP gate on the layers activation_sparsity names.
#pragma once
#include <vector>

#include "gemma4_forward.h"

namespace pagedllm {
namespace cpu {

class Gemma3nForward {
 public:
  explicit Gemma3nForward(const ModelConfig& config);
  // Every layer over the batch; leaves the last hidden state (the streams' mean, not yet normed) in `residual` and
  // zeros in `hidden`, the inputs the backend's LM head adds and normalises.
  void layers(ThreadPool& pool, const ModelWeights& weights, const std::vector<Gemma4Kv>& kv, LinearOrder order,
              const ForwardBatch& batch, std::vector<float>& residual, std::vector<float>& hidden);

 private:
  void layer(ThreadPool& pool, const ModelWeights& weights, int l, const Gemma4Kv& kv, LinearOrder order, const ForwardBatch& batch);
  void predict(int l, const ModelWeights& weights, int tokens);
  void correct(int l, const ModelWeights& weights, int tokens, const float* activated);
  void modalities(int l, const ModelWeights& weights, int tokens, const float* x);
  void mlp(ThreadPool& pool, const ModelWeights& weights, int l, LinearOrder order, int tokens, const float* x, float* out);
  void per_layer_input(ThreadPool& pool, const ModelWeights& weights, int l, LinearOrder order, int tokens);
  float* stream(std::vector<float>& streams, int i, int tokens) { return streams.data() + static_cast<size_t>(i) * tokens * config_.hidden_size; }

  ModelConfig config_;
  Gemma4Forward base_;
  std::vector<float> std_multipliers_;  // per layer: the normal quantile of its sparsity (0 where dense)
  std::vector<float> streams_, predictions_, modalities_, coefs_, embedded_, laurel_rank_, laurel_, attn_laurel_, activated_, gate_up_, gated_, scaled_;
};

}  // namespace cpu
}  // namespace pagedllm
