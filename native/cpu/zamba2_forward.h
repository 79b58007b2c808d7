// Zamba2's decoder (transformers' Zamba2Model) over one validated batch: each layer h <- h + mixer(norm(h + T)), where
// T is 0, or on a layer with a shared block linear(block([h | embeddings])): the block's attention (head_dim
// 2 * hidden / heads, scaled by (head_dim / 2)^-0.5, rope with use_mem_rope) and gated MLP, each projection plus the
// layer's own adapter. Zamba (v1) runs the same with Mamba-1 mixers (config.mamba1), no rope and no adapters.
#pragma once
#include <vector>

#include "hybrid_layers.h"
#include "layernorm_family.h"  // LayerKv
#include "model_weights.h"

namespace pagedllm {
namespace cpu {

class Zamba2Forward {
 public:
  explicit Zamba2Forward(const ModelConfig& config) : config_(config) {}
  // Every layer over the batch; leaves the last hidden state in `residual` and zeros in `hidden`, the inputs the
  // backend's LM head adds and normalises. kv[l]: layer l's cache (used where it attends).
  void layers(ThreadPool& pool, const ModelWeights& weights, HybridLayers& hybrid, const std::vector<LayerKv>& kv,
              const KvLayout& layout, const std::vector<double>& inv_freq, LinearOrder order, const ForwardBatch& batch,
              std::vector<float>& residual, std::vector<float>& hidden);

 private:
  // T for layer `layer` from h and the embeddings, into t [tokens, hidden].
  void shared_block(ThreadPool& pool, const ModelWeights& weights, int layer, const LayerKv& kv, const KvLayout& layout,
                    LinearOrder order, const ForwardBatch& batch, const float* h, float* t);
  // out rows (out_stride apart) += a.up(a.down(x)).
  void add_low_rank(ThreadPool& pool, const LowRank& a, const float* x, int rows, float* out, int out_stride, LinearOrder order);

  ModelConfig config_;
  std::vector<float> embedded_, cos_sin_, concat_, normed_, qkv_, attention_out_, block_out_, gate_up_, activated_, low_, low_out_, mixer_in_, block_t_;
};

}  // namespace cpu
}  // namespace pagedllm
