// Hybrid models' Gated DeltaNet layers (Qwen 3.5's linear_attention): their weights, the per-sequence state pool that
// stands beside the paged KV cache (a conv state and a recurrent state per linear layer and slot), and the layer's
// forward over a batch, one sequence's rows at a time (gated_delta.h holds the kernels).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "huge_buffer.h"
#include "kernels.h"

namespace pagedllm {
namespace cpu {

struct LinearAttentionWeights {
  WeightMatrix in_proj;        // rows: q, k, v (the conv channels), z, b, a
  std::vector<float> conv;     // [conv channels, kernel]
  std::vector<float> dt_bias;  // [v_heads]
  std::vector<float> decay_rate;  // -exp(A_log) [v_heads], so g = decay_rate * softplus(a + dt_bias)
  std::vector<float> norm;     // RMSNormGated's weight [v_dim] (as stored: no (1 + w))
  WeightMatrix out_proj;
  uint64_t bytes() const;
};

// The sizes of one linear layer, from the config.
struct LinearAttentionShape {
  int k_heads, v_heads, k_dim, v_dim, kernel;
  explicit LinearAttentionShape(const ModelConfig& c)
      : k_heads(c.linear_num_k_heads), v_heads(c.linear_num_v_heads), k_dim(c.linear_k_dim), v_dim(c.linear_v_dim),
        kernel(c.linear_conv_kernel) {}
  int key_width() const { return k_heads * k_dim; }
  int value_width() const { return v_heads * v_dim; }
  int conv_channels() const { return 2 * key_width() + value_width(); }
  int in_proj_rows() const { return conv_channels() + value_width() + 2 * v_heads; }
  size_t conv_state_floats() const { return static_cast<size_t>(conv_channels()) * (kernel - 1); }
  size_t recurrent_state_floats() const { return static_cast<size_t>(v_heads) * k_dim * v_dim; }
};

// Reads a float tensor of a shape; loads named [rows, cols] tensors stacked into one matrix in the weight format.
using ReadFloats = std::function<std::vector<float>(const std::string&, const std::vector<int64_t>&)>;
using LoadStacked = std::function<WeightMatrix(const std::vector<std::pair<std::string, int>>&, int)>;
// Reads a mixer's A_log [heads] as its decay rate A = -exp(A_log) (a GGUF file stores A itself).
using ReadDecayRate = std::function<std::vector<float>(const std::string&, int)>;
LinearAttentionWeights load_linear_attention(const ModelConfig& config, const std::string& prefix, const ReadFloats& read,
                                             const ReadDecayRate& decay_rate, const LoadStacked& stacked);

// Every linear layer's states for num_slots sequences (fp32, zero until first written): a Gated DeltaNet layer's conv
// and recurrent states, a Mamba-2 (config.mamba2) or Mamba-1 (config.mamba1) mixer's conv and SSM states, or LFM2's
// short-conv state alone.
class LinearStatePool {
 public:
  LinearStatePool(const ModelConfig& config, int num_slots);
  int num_slots() const { return num_slots_; }
  float* conv(int linear_layer, int slot) const;
  float* recurrent(int linear_layer, int slot) const;
  void reset(int slot);                 // a sequence starting at position 0
  void copy(int src_slot, int dst_slot);  // a forked sequence takes its parent's state
  size_t bytes_per_slot() const;

 private:
  size_t conv_floats_, recurrent_floats_;  // per layer and slot
  int num_slots_;
  int num_linear_layers_;
  std::vector<HugeBuffer> conv_, recurrent_;
};

// x / sqrt(sum(x^2) + eps) per head, times `scale` (the FLA library's l2norm that transformers matches).
void l2_normalize_heads(float* row, int heads, int dim, float scale);

// Scratch reused across steps.
struct LinearAttentionScratch {
  std::vector<float> proj, mixed, gates, core, normed;
};

// One linear layer over the batch: hidden [tokens, hidden_size] in, out [tokens, hidden_size]; each sequence's rows
// read and advance the states of its slot (b.state_slots).
void linear_attention_layer(ThreadPool& pool, const ModelConfig& config, const LinearAttentionWeights& w,
                            LinearStatePool& states, int linear_layer, const ForwardBatch& b, const float* hidden,
                            float* out, LinearOrder order, LinearAttentionScratch& scratch);

}  // namespace cpu
}  // namespace pagedllm
