// The biased row's peak from the raw row's and the bias entries: the unbiased logits are all <= the raw max and none
// below the raw argmax equals it, so only the argmax (if still at the max) and the biased entries can hold the new one.
#include "sparse_bias.h"

#include <cmath>

namespace pagedllm {
namespace cpu {

std::optional<RowPeak> biased_peak(const float* raw, int vocab, RowPeak raw_peak, const int32_t* ids, const double* biases, int count) {
  RowPeak peak = raw_peak;
  int32_t previous = -1;
  for (int j = 0; j < count; ++j) {
    const int32_t id = ids[j];
    if (id <= previous) return std::nullopt;  // a repeated id would add twice
    previous = id;
    if (id < 0 || id >= vocab) continue;
    const float value = biased_logit(raw[id], biases[j]);
    if (id == raw_peak.argmax && value < raw_peak.max) return std::nullopt;
    if (std::isinf(value) && value > 0) return std::nullopt;
    if (value > peak.max || (value == peak.max && id < peak.argmax)) peak = RowPeak{value, id};
  }
  return peak;
}

}  // namespace cpu
}  // namespace pagedllm
