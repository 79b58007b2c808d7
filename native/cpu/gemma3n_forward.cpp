// Gemma 3n's decoder layers. Before the first layer the embeddings become N streams: stream 0 the embeddings, stream i
// altup_projections[i - 1](embeddings) rescaled to their RMS. Per layer (transformers 5.18's Gemma3nTextDecoderLayer):
//   predictions[j] = streams[j] + sum_i c[j][i] streams[i]      c from prediction_coefs(tanh(router(norm(active) / hidden)))
//   x = predictions[active]; n = input_norm(x)
//   a = (x + post_attention_norm(attention(n)) + n + post_laurel_norm(laurel_right(laurel_left(n)))) / sqrt(2)
//   y = a + post_feedforward_norm(mlp(pre_feedforward_norm(a)))        the gate cut by a gaussian top-k on sparse layers
//   streams[j] = predictions[j] + (1 + correction_coefs(tanh(router(norm(y) / hidden)))[j]) (y - x)
//   streams[1..N-1] += post_per_layer_input_norm(projection(act(gate(streams[active] * scale)) * per_layer_input))
// After the last: stream 0 and altup_unembed_projections of the others (each rescaled to stream 0's RMS), averaged.
#include "gemma3n_forward.h"

#include <cmath>

namespace pagedllm {
namespace cpu {

// The standard normal's quantile of `share` as torch's Normal(0, 1).icdf takes it (a float32 argument): erfinv by
// Newton's method on erf, which converges monotonically from 0 (erf is concave there).
static float normal_quantile(float share) {
  const double y = 2.0 * static_cast<double>(share) - 1.0;
  const double target = std::fabs(y);
  double x = 0.0;
  for (int i = 0; i < 200; ++i) {
    const double step = (target - std::erf(x)) / (2.0 / std::sqrt(M_PI) * std::exp(-x * x));
    x += step;
    if (std::fabs(step) < 1e-15) break;
  }
  return static_cast<float>((y < 0 ? -x : x) * std::sqrt(2.0));
}

// Each row of `rows` scaled to the RMS of the same row of `target`: x * rms(target) / sqrt(max(mean(x^2), 1e-5)).
static void match_magnitude(const float* target, float* rows, int tokens, int dim) {
  for (int t = 0; t < tokens; ++t) {
    const float* want = target + static_cast<size_t>(t) * dim;
    float* row = rows + static_cast<size_t>(t) * dim;
    double want_sq = 0.0, have_sq = 0.0;
    for (int i = 0; i < dim; ++i) {
      want_sq += static_cast<double>(want[i]) * want[i];
      have_sq += static_cast<double>(row[i]) * row[i];
    }
    const float magnitude = static_cast<float>(std::sqrt(want_sq / dim));
    const float current = static_cast<float>(std::sqrt(std::max(have_sq / dim, 1e-5)));
    for (int i = 0; i < dim; ++i) row[i] = row[i] * magnitude / current;
  }
}

// Each row cut to relu(x - (mean + std * multiplier)), the std over the row (not the unbiased one).
static void gaussian_top_k(float* rows, int tokens, int dim, int stride, float multiplier) {
  for (int t = 0; t < tokens; ++t) {
    float* row = rows + static_cast<size_t>(t) * stride;
    double sum = 0.0;
    for (int i = 0; i < dim; ++i) sum += row[i];
    const double mean = sum / dim;
    double var = 0.0;
    for (int i = 0; i < dim; ++i) var += (row[i] - mean) * (row[i] - mean);
    const float cutoff = static_cast<float>(mean) + static_cast<float>(std::sqrt(var / dim)) * multiplier;
    for (int i = 0; i < dim; ++i) row[i] = std::max(row[i] - cutoff, 0.f);
  }
}

Gemma3nForward::Gemma3nForward(const ModelConfig& config) : config_(config), base_(config) {
  for (float share : config.gemma4.gemma3n.activation_sparsity) std_multipliers_.push_back(share > 0.f ? normal_quantile(share) : 0.f);
}

void Gemma3nForward::layers(ThreadPool& pool, const ModelWeights& w, const std::vector<Gemma4Kv>& kv, LinearOrder order,
                            const ForwardBatch& b, std::vector<float>& residual, std::vector<float>& hidden) {
  const Gemma3nConfig& g = config_.gemma4.gemma3n;
  const Gemma3nWeights& gw = w.gemma4.gemma3n;
  const int tokens = b.num_tokens, hidden_size = config_.hidden_size, n = g.altup_inputs;
  const size_t count = static_cast<size_t>(tokens) * hidden_size;
  base_.tables_.clear();
  base_.normed_.resize(count);
  base_.out_.resize(count);
  embedded_.resize(count);
  for (int t = 0; t < tokens; ++t) w.embed_tokens.load_row(b.token_ids[t], embedded_.data() + static_cast<size_t>(t) * hidden_size);
  for (float& x : embedded_) x *= config_.embedding_scale;
  base_.per_layer_inputs(pool, w, order, b, embedded_.data());
  streams_.resize(n * count);
  std::copy(embedded_.begin(), embedded_.end(), streams_.begin());
  for (int i = 1; i < n; ++i) {
    linear(pool, embedded_.data(), tokens, gw.altup_projections[i - 1], nullptr, stream(streams_, i, tokens), order);
    match_magnitude(embedded_.data(), stream(streams_, i, tokens), tokens, hidden_size);
  }
  for (int l = 0; l < config_.num_layers; ++l) layer(pool, w, l, kv[l], order, b);
  residual.assign(streams_.begin(), streams_.begin() + count);
  scaled_.resize(count);
  for (int i = 1; i < n; ++i) {
    linear(pool, stream(streams_, i, tokens), tokens, gw.altup_unembed[i - 1], nullptr, scaled_.data(), order);
    match_magnitude(streams_.data(), scaled_.data(), tokens, hidden_size);
    for (size_t k = 0; k < count; ++k) residual[k] += scaled_[k];
  }
  for (float& x : residual) x /= static_cast<float>(n);
  hidden.assign(count, 0.f);
}

void Gemma3nForward::layer(ThreadPool& pool, const ModelWeights& w, int l, const Gemma4Kv& kv, LinearOrder order, const ForwardBatch& b) {
  const Gemma3nConfig& g = config_.gemma4.gemma3n;
  const Gemma3nLayerWeights& gw = w.gemma4.gemma3n.layers[l];
  const LayerWeights& lw = w.layers[l];
  const int tokens = b.num_tokens, hidden_size = config_.hidden_size;
  const size_t count = static_cast<size_t>(tokens) * hidden_size;
  const float eps = config_.rms_norm_eps;
  predict(l, w, tokens);
  const float* active = stream(predictions_, g.altup_active, tokens);
  float* normed = base_.normed_.data();
  rms_norm(pool, active, lw.input_norm.data(), normed, tokens, hidden_size, eps);
  // LAuReL: n + norm(right(left(n))).
  laurel_rank_.resize(static_cast<size_t>(tokens) * g.laurel_rank);
  laurel_.resize(count);
  linear(pool, normed, tokens, gw.laurel_left, nullptr, laurel_rank_.data(), order);
  linear(pool, laurel_rank_.data(), tokens, gw.laurel_right, nullptr, laurel_.data(), order);
  rms_norm(pool, laurel_.data(), gw.laurel_norm.data(), laurel_.data(), tokens, hidden_size, eps);
  for (size_t i = 0; i < count; ++i) laurel_[i] += normed[i];
  float* attn = base_.out_.data();
  base_.attention(pool, w, l, kv, order, b, attn);
  rms_norm(pool, attn, lw.attention_out_norm.data(), attn, tokens, hidden_size, eps);
  attn_laurel_.resize(count);
  const float root2 = static_cast<float>(std::sqrt(2.0));
  for (size_t i = 0; i < count; ++i) attn_laurel_[i] = ((active[i] + attn[i]) + laurel_[i]) / root2;
  rms_norm(pool, attn_laurel_.data(), lw.post_attention_norm.data(), normed, tokens, hidden_size, eps);
  mlp(pool, w, l, order, tokens, normed, attn);
  rms_norm(pool, attn, lw.mlp_out_norm.data(), attn, tokens, hidden_size, eps);
  activated_.resize(count);
  for (size_t i = 0; i < count; ++i) activated_[i] = attn_laurel_[i] + attn[i];
  correct(l, w, tokens, activated_.data());
  per_layer_input(pool, w, l, order, tokens);
}

// tanh(router(norm(x) / hidden)) per token into modalities_ [tokens, N].
void Gemma3nForward::modalities(int l, const ModelWeights& w, int tokens, const float* x) {
  const Gemma3nLayerWeights& gw = w.gemma4.gemma3n.layers[l];
  const int hidden_size = config_.hidden_size, n = config_.gemma4.gemma3n.altup_inputs;
  const float scale = 1.f / static_cast<float>(hidden_size);
  scaled_.resize(hidden_size);
  modalities_.resize(static_cast<size_t>(tokens) * n);
  for (int t = 0; t < tokens; ++t) {
    const float* row = x + static_cast<size_t>(t) * hidden_size;
    double sq = 0.0;
    for (int i = 0; i < hidden_size; ++i) sq += static_cast<double>(row[i]) * row[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(sq / hidden_size + config_.rms_norm_eps));
    for (int i = 0; i < hidden_size; ++i) scaled_[i] = row[i] * inv * gw.router_norm[i] * scale;
    for (int j = 0; j < n; ++j) {
      const float* weight = gw.router.data() + static_cast<size_t>(j) * hidden_size;
      float dot = 0.f;
      for (int i = 0; i < hidden_size; ++i) dot += scaled_[i] * weight[i];
      modalities_[static_cast<size_t>(t) * n + j] = std::tanh(dot);
    }
  }
}

// predictions[j] = streams[j] + sum_i c[j][i] streams[i], c = prediction_coefs(modalities) as [N, N] per token.
void Gemma3nForward::predict(int l, const ModelWeights& w, int tokens) {
  const Gemma3nConfig& g = config_.gemma4.gemma3n;
  const std::vector<float>& pc = w.gemma4.gemma3n.layers[l].prediction_coefs;
  const int hidden_size = config_.hidden_size, n = g.altup_inputs;
  modalities(l, w, tokens, stream(streams_, g.altup_active, tokens));
  predictions_.resize(streams_.size());
  coefs_.resize(static_cast<size_t>(n) * n);
  for (int t = 0; t < tokens; ++t) {
    const float* m = modalities_.data() + static_cast<size_t>(t) * n;
    for (int r = 0; r < n * n; ++r) {
      float c = 0.f;
      for (int k = 0; k < n; ++k) c += m[k] * pc[static_cast<size_t>(r) * n + k];
      coefs_[r] = c;
    }
    const size_t at = static_cast<size_t>(t) * hidden_size;
    for (int j = 0; j < n; ++j) {
      float* out = stream(predictions_, j, tokens) + at;
      const float* own = stream(streams_, j, tokens) + at;
      for (int d = 0; d < hidden_size; ++d) {
        float sum = 0.f;
        for (int i = 0; i < n; ++i) sum += stream(streams_, i, tokens)[at + d] * coefs_[static_cast<size_t>(j) * n + i];
        out[d] = sum + own[d];
      }
    }
  }
}

// streams[j] = predictions[j] + (correction_coefs(modalities)[j] + 1) * (activated - predictions[active]).
void Gemma3nForward::correct(int l, const ModelWeights& w, int tokens, const float* activated) {
  const Gemma3nConfig& g = config_.gemma4.gemma3n;
  const std::vector<float>& cc = w.gemma4.gemma3n.layers[l].correction_coefs;
  const int hidden_size = config_.hidden_size, n = g.altup_inputs;
  modalities(l, w, tokens, activated);
  const float* active = stream(predictions_, g.altup_active, tokens);
  for (int t = 0; t < tokens; ++t) {
    const float* m = modalities_.data() + static_cast<size_t>(t) * n;
    const size_t at = static_cast<size_t>(t) * hidden_size;
    for (int j = 0; j < n; ++j) {
      float c = 0.f;
      for (int k = 0; k < n; ++k) c += m[k] * cc[static_cast<size_t>(j) * n + k];
      c += 1.f;
      const float* prediction = stream(predictions_, j, tokens) + at;
      float* out = stream(streams_, j, tokens) + at;
      for (int d = 0; d < hidden_size; ++d) out[d] = (activated[at + d] - active[at + d]) * c + prediction[d];
    }
  }
}

// down(act(cut(gate(x))) * up(x)), the cut a gaussian top-k where the layer is sparse.
void Gemma3nForward::mlp(ThreadPool& pool, const ModelWeights& w, int l, LinearOrder order, int tokens, const float* x, float* out) {
  const LayerWeights& lw = w.layers[l];
  const int inter = config_.gemma4.layers[l].intermediate_size;
  gate_up_.resize(static_cast<size_t>(tokens) * 2 * inter);
  gated_.resize(static_cast<size_t>(tokens) * inter);
  linear(pool, x, tokens, lw.gate_up, nullptr, gate_up_.data(), order);
  if (config_.gemma4.gemma3n.activation_sparsity[l] > 0.f) gaussian_top_k(gate_up_.data(), tokens, inter, 2 * inter, std_multipliers_[l]);
  gated_and_mul(pool, config_.hidden_act, gate_up_.data(), gated_.data(), tokens, inter);
  linear(pool, gated_.data(), tokens, lw.down, nullptr, out, order);
}

// streams[1..N-1] += norm(projection(act(gate(streams[active] (* correct_output_scale))) * per_layer_input[layer])).
void Gemma3nForward::per_layer_input(ThreadPool& pool, const ModelWeights& w, int l, LinearOrder order, int tokens) {
  const Gemma3nConfig& g = config_.gemma4.gemma3n;
  const Gemma4LayerWeights& lw = w.gemma4.layers[l];
  const std::vector<float>& scale = w.gemma4.gemma3n.layers[l].correct_output_scale;
  const int hidden_size = config_.hidden_size, ple = config_.gemma4.per_layer_input_size, width = config_.num_layers * ple, n = g.altup_inputs;
  const size_t count = static_cast<size_t>(tokens) * hidden_size;
  const float* first = stream(streams_, g.altup_active, tokens);
  scaled_.resize(count);
  for (size_t i = 0; i < count; ++i) scaled_[i] = g.altup_correct_scale ? first[i] * scale[i % hidden_size] : first[i];
  std::vector<float>& gate = base_.ple_gate_;
  gate.resize(static_cast<size_t>(tokens) * ple);
  linear(pool, scaled_.data(), tokens, lw.ple_gate, nullptr, gate.data(), order);
  for (int t = 0; t < tokens; ++t) {
    float* row = gate.data() + static_cast<size_t>(t) * ple;
    const float* input = base_.ple_.data() + static_cast<size_t>(t) * width + static_cast<size_t>(l) * ple;
    for (int i = 0; i < ple; ++i) row[i] = activate(row[i], config_.hidden_act) * input[i];
  }
  float* projected = base_.out_.data();
  linear(pool, gate.data(), tokens, lw.ple_projection, nullptr, projected, order);
  rms_norm(pool, projected, lw.ple_norm.data(), projected, tokens, hidden_size, config_.rms_norm_eps);
  for (int j = 1; j < n; ++j) {
    float* s = stream(streams_, j, tokens);
    for (size_t i = 0; i < count; ++i) s[i] += projected[i];
  }
}

}  // namespace cpu
}  // namespace pagedllm
