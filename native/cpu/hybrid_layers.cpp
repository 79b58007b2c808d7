// HybridLayers (hybrid_layers.h): the layer -> cache layer map, the state slot pool and the linear layers' forward.
#include "hybrid_layers.h"

#include <stdexcept>

namespace pagedllm {
namespace cpu {

namespace {
void check(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}
}  // namespace

HybridLayers::HybridLayers(const ModelConfig& config, const CacheConfig& cache) : config_(config) {
  check(config.linear_layers.empty() || static_cast<int>(config.linear_layers.size()) == config.num_layers,
        "linear_layers must mark every layer");
  int linear = 0;
  for (int l = 0; l < config.num_layers; ++l) {
    const bool is_linear = config.is_linear_layer(l);
    linear_index_.push_back(is_linear ? linear++ : -1);
  }
  if (linear == 0) return;
  const Mamba2Config& m = config.mamba2;
  const LinearAttentionShape s(config);
  const Mamba1Config& m1 = config.mamba1;
  if (config.short_conv_kernel > 0) {
    check(config.short_conv_kernel >= 2, "a short convolution's kernel must be at least 2");
  } else if (m1.enabled()) {
    check(m1.state_size > 0 && m1.conv_kernel >= 1 && m1.dt_rank > 0, "Mamba-1 sizes must be positive");
  } else if (m.enabled()) {
    check(m.head_dim > 0 && m.groups > 0 && m.heads % m.groups == 0 && m.state_size > 0 && m.conv_kernel >= 1 &&
              m.norm_group > 0 && m.inner() % m.norm_group == 0,
          "Mamba-2 sizes must be positive, heads a multiple of groups and the inner width of norm groups");
  } else {
    check(s.k_heads > 0 && s.v_heads > 0 && s.v_heads % s.k_heads == 0 && s.k_dim > 0 && s.v_dim > 0 && s.kernel >= 1,
          "linear attention sizes must be positive, with value heads a multiple of key heads");
    check(!config.kimi_delta || (s.k_heads == s.v_heads && s.k_dim == s.v_dim), "Kimi Delta Attention's key and value heads must be the same heads");
  }
  check(cache.num_state_slots > 0, "a model with linear-attention layers needs state slots (numStateSlots)");
  states_ = std::make_unique<LinearStatePool>(config, cache.num_state_slots);
}

void HybridLayers::copy_states(const BlockMoves& moves) {
  if (moves.num_state_copies > 0) check(states_ != nullptr, "state copies given to a model without linear-attention layers");
  for (int i = 0; i < moves.num_state_copies; ++i) {
    const int src = moves.state_copy_pairs[2 * i], dst = moves.state_copy_pairs[2 * i + 1];
    check(src >= 0 && src < states_->num_slots() && dst >= 0 && dst < states_->num_slots(),
          "state copy " + std::to_string(i) + " (" + std::to_string(src) + ", " + std::to_string(dst) + ") is outside the slot pool");
    states_->copy(src, dst);
  }
}

void HybridLayers::validate(const ForwardBatch& b) const {
  if (!states_) return;
  check(b.state_slots != nullptr, "a model with linear-attention layers needs stateSlots in every batch");
  for (int s = 0; s < b.num_seqs; ++s) {
    check(b.state_slots[s] >= 0 && b.state_slots[s] < states_->num_slots(),
          "state slot " + std::to_string(b.state_slots[s]) + " of sequence " + std::to_string(s) + " is outside the slot pool");
  }
}

void HybridLayers::start_fresh_sequences(const ForwardBatch& b) {
  if (!states_) return;
  for (int s = 0; s < b.num_seqs; ++s) {
    const int begin = b.query_start_loc[s];
    if (begin < b.query_start_loc[s + 1] && b.positions[begin] == 0) states_->reset(b.state_slots[s]);
  }
}

void HybridLayers::linear_layer(ThreadPool& pool, const LinearAttentionWeights& w, int layer, const ForwardBatch& b,
                                float* hidden, LinearOrder order) {
  linear_attention_layer(pool, config_, w, *states_, linear_index_[layer], b, hidden, hidden, order, scratch_);
}

void HybridLayers::mamba2_layer(ThreadPool& pool, const Mamba2Weights& w, int layer, const ForwardBatch& b, float* hidden,
                                LinearOrder order) {
  cpu::mamba2_layer(pool, config_, w, *states_, linear_index_[layer], b, hidden, hidden, order, mamba2_scratch_);
}

void HybridLayers::short_conv_layer(ThreadPool& pool, const ShortConvWeights& w, int layer, const ForwardBatch& b, float* hidden,
                                    LinearOrder order) {
  cpu::short_conv_layer(pool, config_, w, *states_, linear_index_[layer], b, hidden, hidden, order, short_conv_scratch_);
}

void HybridLayers::mamba1_layer(ThreadPool& pool, const Mamba1Weights& w, int layer, const ForwardBatch& b, float* hidden,
                                LinearOrder order) {
  cpu::mamba1_layer(pool, config_, w, *states_, linear_index_[layer], b, hidden, hidden, order, mamba1_scratch_);
}

void HybridLayers::kimi_delta_layer(ThreadPool& pool, const KimiDeltaWeights& w, int layer, const ForwardBatch& b, float* hidden,
                                    LinearOrder order) {
  cpu::kimi_delta_layer(pool, config_, w, *states_, linear_index_[layer], b, hidden, hidden, order, kimi_delta_scratch_);
}

}  // namespace cpu
}  // namespace pagedllm
