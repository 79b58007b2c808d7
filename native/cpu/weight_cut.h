// Where min-p (by weight), top-k (by count) or top-p (by mass) cuts a row of non-negative token weights: radix selection on the float
// bits, O(vocab), no sort. The ranking is weight descending, ties by lowest id (src/engine/weight-cutoff.ts is the twin).
#pragma once
#include <cstdint>
#include <vector>

namespace pagedllm {
namespace cpu {

// Keep tokens whose weight bits exceed threshold_bits, plus the first tie_take (lowest ids) whose bits equal it.
struct WeightCut {
  int32_t threshold_bits = -1;
  int tie_take = 0;
  double kept_mass = 0;
  bool keep_all = true;
};

class WeightCutFinder {
 public:
  // The k heaviest tokens and every token tied with the k-th.
  WeightCut top_count(const float* weights, int size, int k) { return find(weights, size, k, false); }
  // The tokens weighing at least min_weight (min-p: the best token weighs 1).
  WeightCut at_least(const float* weights, int size, double min_weight);
  // The shortest prefix whose mass reaches target_mass (a token stays while the mass ranked above it is below it).
  WeightCut top_mass(const float* weights, int size, double target_mass) { return find(weights, size, target_mass, true); }

 private:
  WeightCut find(const float* weights, int size, double budget, bool by_mass);
  std::vector<int32_t> candidates_, next_candidates_;
};

// The shorter of two cuts of the same ranking.
inline WeightCut shorter_cut(const WeightCut& a, const WeightCut& b) {
  if (a.keep_all) return b;
  if (b.keep_all) return a;
  if (a.threshold_bits != b.threshold_bits) return a.threshold_bits > b.threshold_bits ? a : b;
  return a.tie_take <= b.tie_take ? a : b;
}

}  // namespace cpu
}  // namespace pagedllm
