// What a hybrid model (Qwen 3.5: Gated DeltaNet layers among full-attention ones; Granite 4.0 hybrid, Bamba, Mamba2:
// Mamba-2 mixers; Mamba, Falcon-Mamba, Jamba: Mamba-1 mixers; LFM2: gated short convolutions) adds to the CPU backend (only its
// full-attention layers hold a KV pool: cpu_backend.cpp holds_kv): the pool of per-sequence state slots with its copies and resets,
// and the linear layers' forward. For other models it does nothing.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "kimi_delta.h"
#include "linear_attention.h"
#include "mamba1_mixer.h"
#include "mamba2_mixer.h"
#include "short_conv.h"

namespace pagedllm {
namespace cpu {

class HybridLayers {
 public:
  HybridLayers(const ModelConfig& config, const CacheConfig& cache);
  // Applies the step's state copies (forks), checking each slot.
  void copy_states(const BlockMoves& moves);
  // Every sequence of a hybrid model's batch names a slot of the pool.
  void validate(const ForwardBatch& b) const;
  // A sequence whose first row is position 0 starts from zero states (its slot may hold a finished sequence's).
  void start_fresh_sequences(const ForwardBatch& b);
  // Layer `layer` (a linear one) over the batch: hidden in, its output written over hidden.
  void linear_layer(ThreadPool& pool, const LinearAttentionWeights& w, int layer, const ForwardBatch& b, float* hidden,
                    LinearOrder order);
  // Layer `layer` (a Mamba-2 mixer: config.mamba2) over the batch, likewise.
  void mamba2_layer(ThreadPool& pool, const Mamba2Weights& w, int layer, const ForwardBatch& b, float* hidden, LinearOrder order);
  // Layer `layer` (LFM2's gated short convolution: config.short_conv_kernel) over the batch, likewise.
  void short_conv_layer(ThreadPool& pool, const ShortConvWeights& w, int layer, const ForwardBatch& b, float* hidden, LinearOrder order);
  // Layer `layer` (a Mamba-1 mixer: config.mamba1) over the batch, likewise.
  void mamba1_layer(ThreadPool& pool, const Mamba1Weights& w, int layer, const ForwardBatch& b, float* hidden, LinearOrder order);
  // Layer `layer` (Kimi Delta Attention: config.kimi_delta) over the batch, likewise.
  void kimi_delta_layer(ThreadPool& pool, const KimiDeltaWeights& w, int layer, const ForwardBatch& b, float* hidden, LinearOrder order);

 private:
  const ModelConfig& config_;
  std::vector<int> linear_index_;
  std::unique_ptr<LinearStatePool> states_;
  LinearAttentionScratch scratch_;
  Mamba2Scratch mamba2_scratch_;
  ShortConvScratch short_conv_scratch_;
  Mamba1Scratch mamba1_scratch_;
  KimiDeltaScratch kimi_delta_scratch_;
};

}  // namespace cpu
}  // namespace pagedllm
