// The LayerNorm family's forward pass (OPT, GPT-NeoX, GPT-2, Phi, StableLM, StarCoder2, GPT-J) and its kernels: LayerNorm with bias, a plain MLP activation.
#pragma once
#include <vector>

#include "kernels.h"
#include "model_weights.h"

namespace pagedllm {
namespace cpu {

// out[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias, mean and variance accumulated in double (one order per
// row, so batch-invariant); out may be x.
void layer_norm(ThreadPool& pool, const float* x, const float* weight, const float* bias, float* out, int num_rows, int dim, float eps);
// LayerNorm of each of the first num_heads heads of every row (row stride row_stride floats), in place: Phi's and
// StableLM's q / k norms; weight and bias hold [num_heads * head_dim] (one set per head).
void head_layer_norm(ThreadPool& pool, float* x, int num_rows, int row_stride, int num_heads, int head_dim, const float* weight, const float* bias, float eps);
// x = act(x) in place for relu, gelu (erf form) or gelu's tanh form (gelu_new, gelu_pytorch_tanh).
void plain_activation(ThreadPool& pool, float* x, int num_rows, int dim, Activation act);

namespace avx2 {
// LayerNorm of rows [row_begin, row_end): see cpu::layer_norm (layernorm_family_avx2.cpp).
void layer_norm_rows(const float* x, const float* weight, const float* bias, float* out, int row_begin, int row_end, int dim, float eps);
}  // namespace avx2

// One layer's K and V pools as the backend owns them.
struct LayerKv {
  float* keys;
  float* values;
};

// Runs the LayerNorm-family model over one validated batch; owns its activations (grown to the largest batch).
class LayerNormForward {
 public:
  explicit LayerNormForward(const ModelConfig& config);
  // The layers over every row of the batch; head() then gives the logits of the rows wanted.
  void layers(ThreadPool& pool, const ModelWeights& weights, const std::vector<LayerKv>& kv, const KvLayout& layout,
              LinearOrder order, const ForwardBatch& batch);
  // Final norm, project_out and the LM head of batch rows rows[0, count) into out [count, vocab].
  void head(ThreadPool& pool, const ModelWeights& weights, LinearOrder order, const int32_t* rows, int count, float* out);

 private:
  void attention_block(ThreadPool& pool, const LayerWeights& w, const LayerKv& kv, const KvLayout& layout, LinearOrder order,
                       const ForwardBatch& batch, int window, float scale, const float* normed, float* out);
  void mlp_block(ThreadPool& pool, const LayerWeights& w, LinearOrder order, int tokens, const float* normed, float* out);

  ModelConfig config_;
  std::vector<double> inv_freq_;  // [rotary_dim / 2]
  std::vector<float> sinusoid_freq_;  // XGLM's sinusoidal positions: [hidden_size / 2] frequencies (empty: none)
  std::vector<float> residual_, normed_, qkv_, attention_out_, attention_proj_, fc1_, gate_up_, mlp_out_, cos_sin_, final_rows_, projected_;
};

}  // namespace cpu
}  // namespace pagedllm
