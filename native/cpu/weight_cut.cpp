// Radix selection of a top-k / top-p cut: three histogram passes over 11 + 11 + 9 bits of the weights' float
// patterns (non-negative floats order like their bits), each narrowing to the bucket where the budget is crossed.
#include "weight_cut.h"

#include <algorithm>
#include <cstring>

namespace pagedllm {
namespace cpu {

namespace {
constexpr int kLevels[3][2] = {{20, 0x7ff}, {9, 0x7ff}, {0, 0x1ff}};  // {shift, mask}, most significant first
constexpr int kBuckets = 2048;

inline uint32_t bits_of(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}
}  // namespace

WeightCut WeightCutFinder::find(const float* weights, int size, double budget, bool by_mass) {
  candidates_.resize(size);
  next_candidates_.resize(size);
  int num_candidates = -1;  // -1: every token (the first level scans the row directly)
  uint32_t prefix_bits = 0;
  double mass_above = 0;
  long count_above = 0;
  int counts[kBuckets];
  double masses[kBuckets];
  for (const auto& level : kLevels) {
    const int shift = level[0], mask = level[1];
    std::fill(counts, counts + mask + 1, 0);
    std::fill(masses, masses + mask + 1, 0.0);
    const int scan = num_candidates < 0 ? size : num_candidates;
    for (int c = 0; c < scan; ++c) {
      const int i = num_candidates < 0 ? c : candidates_[c];
      const int key = (bits_of(weights[i]) >> shift) & mask;
      counts[key]++;
      masses[key] += weights[i];
    }
    int crossing = -1;
    for (int key = mask; key >= 0; --key) {
      if (counts[key] == 0) continue;
      const bool reached = by_mass ? mass_above + masses[key] >= budget : count_above + counts[key] >= budget;
      if (reached) {
        crossing = key;
        break;
      }
      mass_above += masses[key];
      count_above += counts[key];
    }
    if (crossing < 0) return WeightCut{};  // the budget exceeds the whole row: nothing is cut
    prefix_bits |= static_cast<uint32_t>(crossing) << shift;
    int gathered = 0;
    for (int c = 0; c < scan; ++c) {
      const int i = num_candidates < 0 ? c : candidates_[c];
      if (static_cast<int>((bits_of(weights[i]) >> shift) & mask) == crossing) next_candidates_[gathered++] = i;
    }
    std::swap(candidates_, next_candidates_);
    num_candidates = gathered;
  }
  // The remaining candidates all weigh exactly prefix_bits; keep as many (lowest ids first) as the budget needs.
  const double tie_weight = weights[candidates_[0]];
  int tie_take = 0;
  if (by_mass) {
    double mass = mass_above;
    while (tie_take < num_candidates && mass < budget) {
      mass += tie_weight;
      tie_take++;
    }
  } else {
    tie_take = num_candidates;  // every tie of the k-th (vLLM's top-k masks only logits below the k-th)
  }
  WeightCut cut;
  cut.keep_all = false;
  cut.threshold_bits = static_cast<int32_t>(prefix_bits);
  cut.tie_take = tie_take;
  cut.kept_mass = mass_above + tie_take * tie_weight;
  return cut;
}

WeightCut WeightCutFinder::at_least(const float* weights, int size, double min_weight) {
  // Float weights compare with the double bound as with its float rounding, taken inclusively when not below it.
  const float bound = static_cast<float>(min_weight);
  WeightCut cut;
  cut.keep_all = false;
  cut.threshold_bits = static_cast<int32_t>(bits_of(bound)) - (bound >= min_weight ? 1 : 0);
  for (int i = 0; i < size; ++i)
    if (static_cast<int32_t>(bits_of(weights[i])) > cut.threshold_bits) cut.kept_mass += weights[i];
  return cut;
}

}  // namespace cpu
}  // namespace pagedllm
