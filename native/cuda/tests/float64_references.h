// Float64 references shared by the GPU's kernel checks (kernel_checks.cu) and the CPU emulation of the same kernels
// (native/cuda/emulation/*.cpp), so both hold a kernel to one definition. Host-only plain C++.
#pragma once
#include <algorithm>
#include <cmath>
#include <numeric>
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

// Llama 3's rope scaling of frequency i of a head_dim-128 head at theta 500000 (factor 8, low 1, high 4, original
// context 8192): the one config both checks run.
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

// The plain (ungated) MLP activations of the LayerNorm family.
inline double plain_activation_reference(Activation act, double v) {
  return act == Activation::Relu ? std::max(v, 0.0) : act == Activation::Silu ? v / (1 + std::exp(-v))
       : act == Activation::GeluErf ? 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))
       : 0.5 * v * (1 + std::tanh(std::sqrt(2 / kReferencePi) * (v + 0.044715 * v * v * v)));
}

}  // namespace pagedllm::cuda
