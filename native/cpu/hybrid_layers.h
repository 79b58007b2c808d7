// What a hybrid model (Qwen 3.5: Gated DeltaNet layers among full-attention ones) adds to the CPU backend: which layers
// have a KV cache (only the full-attention ones), the pool of per-sequence state slots with its copies and resets,
// and the linear layers' forward. For other models it maps every layer to its own cache layer and does nothing else.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "linear_attention.h"

namespace pagedllm {
namespace cpu {

class HybridLayers {
 public:
  HybridLayers(const ModelConfig& config, const CacheConfig& cache);
  int num_kv_layers() const { return num_kv_layers_; }
  // The cache layer of a full-attention layer; -1 for a linear one.
  int kv_layer(int layer) const { return kv_layer_[layer]; }
  // Applies the step's state copies (forks), checking each slot.
  void copy_states(const BlockMoves& moves);
  // Every sequence of a hybrid model's batch names a slot of the pool.
  void validate(const ForwardBatch& b) const;
  // A sequence whose first row is position 0 starts from zero states (its slot may hold a finished sequence's).
  void start_fresh_sequences(const ForwardBatch& b);
  // Layer `layer` (a linear one) over the batch: hidden in, its output written over hidden.
  void linear_layer(ThreadPool& pool, const LinearAttentionWeights& w, int layer, const ForwardBatch& b, float* hidden,
                    LinearOrder order);

 private:
  const ModelConfig& config_;
  std::vector<int> kv_layer_, linear_index_;
  int num_kv_layers_ = 0;
  std::unique_ptr<LinearStatePool> states_;
  LinearAttentionScratch scratch_;
};

}  // namespace cpu
}  // namespace pagedllm
