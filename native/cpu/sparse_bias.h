// logit_bias as the sparse edit it is: a row whose only edit is a request's (id, bias) entries has its biased max and
// argmax worked out from the raw row's and those entries, without a whole-vocabulary pass over a biased copy.
#pragma once
#include <cstdint>
#include <optional>

namespace pagedllm {
namespace cpu {

// One biased logit, as the sampler writes it (in double, rounded to float once).
inline float biased_logit(float raw, double bias) { return static_cast<float>(raw + bias); }

struct RowPeak {
  float max;
  int argmax;  // the lowest id holding max
};

// The biased row's peak, given the raw row's (a finite max, no NaN anywhere), or nullopt when the entries alone cannot
// tell: the raw argmax biased down (the next best is unknown), a biased logit at +inf, ids not ascending. Ids outside
// [0, vocab) are skipped, as the sampler skips them.
std::optional<RowPeak> biased_peak(const float* raw, int vocab, RowPeak raw_peak, const int32_t* ids, const double* biases, int count);

}  // namespace cpu
}  // namespace pagedllm
