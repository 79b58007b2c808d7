// What the GPU's kernel checks (kernel_checks.cu) and the CPU emulation of the same kernels (native/cuda/emulation/*.cpp)
// share: float64 references, so both hold a kernel to one definition, and the crafted inputs of the cases both run.
// Host-only plain C++.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "pagedllm/backend.h"

namespace pagedllm::cuda {

constexpr double kReferencePi = 3.14159265358979323846;

// Softmax top-k routing of `rows` router rows (`stride` floats apart): each row's experts by probability (ties: the
// lower index first) and their weights, renormalised over the chosen ones or not.
struct RoutingReference {
  std::vector<double> experts, weights;
};

inline RoutingReference softmax_top_k_reference(const float* logits, int stride, int rows, int experts, int top_k, bool renormalize) {
  RoutingReference ref;
  for (int r = 0; r < rows; ++r) {
    const float* row = logits + size_t(r) * stride;
    double max = row[0], sum = 0;
    for (int e = 1; e < experts; ++e) max = std::max<double>(max, row[e]);
    std::vector<double> probs(experts);
    for (int e = 0; e < experts; ++e) sum += probs[e] = std::exp(row[e] - max);
    std::vector<int> order(experts);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return probs[a] > probs[b]; });
    double picked = 0;
    for (int k = 0; k < top_k; ++k) picked += probs[order[k]];
    for (int k = 0; k < top_k; ++k) {
      ref.experts.push_back(order[k]);
      ref.weights.push_back(probs[order[k]] / (renormalize ? picked : sum));
    }
  }
  return ref;
}

// `top_k` distinct experts of `experts` for each of `rows` rows, drawn at random: the routing a dispatch check sorts.
inline std::vector<int32_t> random_distinct_picks(std::mt19937& rng, int rows, int experts, int top_k) {
  std::vector<int32_t> chosen(size_t(rows) * top_k);
  for (int r = 0; r < rows; ++r) {
    std::vector<int32_t> pick(experts);
    std::iota(pick.begin(), pick.end(), 0);
    std::shuffle(pick.begin(), pick.end(), rng);
    std::copy(pick.begin(), pick.begin() + top_k, chosen.begin() + size_t(r) * top_k);
  }
  return chosen;
}

// The sparsemixer's crafted rows over 6 experts (`stride` floats apart): all equal (0, 1, nothing masked), a tie at the
// top (2 before 5), some masked under both picks, a negative top. Row 2 stays as the caller drew it.
inline void craft_sparsemixer_rows(std::vector<float>& logits, int stride) {
  const int experts = 6;
  for (int e = 0; e < experts; ++e) logits[e] = 0.75f;
  for (int e = 0; e < experts; ++e) logits[stride + e] = -0.5f * e;
  logits[stride + 2] = logits[stride + 5] = 3.f;
  const float masked[] = {4.f, 3.9f, 1.f, -2.f, 3.5f, 0.25f};  // first 0 (keeps 1 and 4), second 1 (keeps 4 only)
  for (int e = 0; e < experts; ++e) logits[3 * stride + e] = masked[e];
  const float negative[] = {-1.f, -1.2f, -3.f, -1.1f, -8.f, -2.5f};  // factor max(|logit|, top) = |logit|
  for (int e = 0; e < experts; ++e) logits[4 * stride + e] = negative[e];
}

// PhiMoE's sparsemixer, as native/cpu/sparsemixer.cpp: the top expert (equal logits: the lower index), weighted by a
// softmax over the experts within 2 * jitter_eps (relative) of it, then the best of the rest, its softmax leaving the
// first out.
inline RoutingReference sparsemixer_reference(const float* logits, int stride, int rows, int experts, double jitter_eps) {
  RoutingReference ref;
  for (int r = 0; r < rows; ++r) {
    const float* row = logits + size_t(r) * stride;
    const auto best = [&](int skip) {
      int pick = -1;
      for (int e = 0; e < experts; ++e)
        if (e != skip && (pick < 0 || row[e] > row[pick])) pick = e;
      return pick;
    };
    const auto weight = [&](int picked, int skip) {
      const double top = row[picked];
      double sum = 0;
      for (int e = 0; e < experts; ++e)
        if (e != skip && (top - row[e]) / std::max<double>(std::fabs(row[e]), top) <= 2 * jitter_eps) sum += std::exp(row[e] - top);
      return 1 / sum;
    };
    const int first = best(-1), second = best(first);
    ref.experts.insert(ref.experts.end(), {double(first), double(second)});
    ref.weights.insert(ref.weights.end(), {weight(first, -1), weight(second, first)});
  }
  return ref;
}

// The rotary checks' Llama 3 heads: head_dim 128, 4 query and 2 KV heads, theta 500000, factor 8, low 1, high 4,
// original context 8192.
inline ModelConfig llama3_rope_config() {
  ModelConfig model;
  model.head_dim = 128;
  model.num_heads = 4;
  model.num_kv_heads = 2;
  model.rope_theta = 500000.f;
  model.rope_scaling = RopeScaling::Llama3;
  model.rope_factor = 8.f;
  model.rope_low_freq_factor = 1.f;
  model.rope_high_freq_factor = 4.f;
  model.rope_original_max_position = 8192;
  return model;
}

// Frequency i of llama3_rope_config() in float64.
inline double llama3_frequency_reference(int i) {
  double freq = std::pow(500000.0, -2.0 * i / 128);
  const double wavelen = 2 * kReferencePi / freq;
  if (wavelen > 8192.0) {
    freq /= 8;
  } else if (wavelen >= 8192.0 / 4) {
    const double smooth = (8192.0 / wavelen - 1) / (4 - 1);
    freq = (1 - smooth) * freq / 8 + smooth * freq;
  }
  return freq;
}

// The MoE combine: each row sums its top_k expert outputs (at `positions` in the sorted order) by their weights, plus
// the shared expert's output (times the sigmoid of `gate_logits[row * 2 + 1]` when gated).
inline std::vector<double> moe_combine_reference(const std::vector<float>& expert_out, const std::vector<int32_t>& positions,
                                                 const std::vector<float>& weights, int rows, int top_k, int hidden,
                                                 const std::vector<float>* shared_out, const std::vector<float>* gate_logits) {
  std::vector<double> ref(size_t(rows) * hidden);
  for (int r = 0; r < rows; ++r) {
    const double gate = gate_logits ? 1 / (1 + std::exp(-double((*gate_logits)[size_t(r) * 2 + 1]))) : 1;
    for (int h = 0; h < hidden; ++h) {
      double sum = 0;
      for (int k = 0; k < top_k; ++k) {
        const int slot = r * top_k + k;
        sum += double(weights[slot]) * expert_out[size_t(positions[slot]) * hidden + h];
      }
      if (shared_out) sum += gate * (*shared_out)[size_t(r) * hidden + h];
      ref[size_t(r) * hidden + h] = sum;
    }
  }
  return ref;
}

// The plain (ungated) MLP activations of the LayerNorm family.
inline double plain_activation_reference(Activation act, double v) {
  return act == Activation::Relu ? std::max(v, 0.0) : act == Activation::Silu ? v / (1 + std::exp(-v))
       : act == Activation::GeluErf ? 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))
       : 0.5 * v * (1 + std::tanh(std::sqrt(2 / kReferencePi) * (v + 0.044715 * v * v * v)));
}

}  // namespace pagedllm::cuda
