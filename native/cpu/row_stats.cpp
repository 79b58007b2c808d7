// Per-row max, argmax and log-sum-exp of a logits array: what greedy sampling and raw logprobs need, in one
// native call per step instead of a JS exp over the vocabulary for every row.
#include <cmath>
#include <limits>

#include "kernels_avx2.h"

namespace pagedllm {
namespace cpu {

namespace {
avx2::RowExpSum portable_row_exp_sum(const float* row, int vocab) {
  avx2::RowExpSum result{-std::numeric_limits<float>::infinity(), 0, 0.0, false};
  for (int i = 0; i < vocab; ++i) {
    if (row[i] > result.max) {
      result.max = row[i];
      result.argmax = i;
    } else if (std::isnan(row[i])) {
      result.has_nan = true;
    }
  }
  if (!std::isfinite(result.max)) return result;
  // The shift is taken in float and the exp in float, as the vector path does; the sum is kept in double.
  double sum = 0;
  for (int i = 0; i < vocab; ++i) sum += std::exp(row[i] - result.max);
  result.shifted_exp_sum = sum;
  return result;
}
}  // namespace

void row_stats(const float* logits, int num_rows, int vocab, double* stats) {
  const bool vector = avx2_enabled();
  for (int r = 0; r < num_rows; ++r) {
    const float* row = logits + static_cast<size_t>(r) * vocab;
    const avx2::RowExpSum sums = vector ? avx2::row_exp_sum(row, vocab) : portable_row_exp_sum(row, vocab);
    double* out = stats + 3 * static_cast<size_t>(r);
    out[0] = sums.max;
    out[1] = sums.argmax;
    if (sums.has_nan) {
      out[2] = std::numeric_limits<double>::quiet_NaN();
    } else if (!std::isfinite(sums.max)) {
      out[2] = sums.max;  // all -inf: log(0); some +inf: +inf
    } else {
      out[2] = sums.max + std::log(sums.shifted_exp_sum);
    }
  }
}

}  // namespace cpu
}  // namespace pagedllm
