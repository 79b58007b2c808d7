// Runs sparsemixer_kernels.cuh's kernel (PhiMoE's routing) on the CPU (cuda_emulation.h) against float64, as
// kernel_checks.cu's check_sparsemixer: the top expert (equal logits: the lower index), weighted by a softmax over the
// experts within 2 * jitter_eps (relative) of it, then the best of the rest, its softmax leaving the first out. Rows
// built here: all equal (0, 1, nothing masked), a tie at the top (2 before 5), some masked under both picks, a negative
// top, one exactly at the threshold (kept: the mask is "greater than"); the rest random, 150 rows (two blocks), logits with the stride of a wider router.
// build: c++ -std=c++17 -O2 -Inative/include native/cuda/emulation/sparsemixer.cpp   usage: sparsemixer [seed]
#include "cuda_emulation.h"
#include "emulation_checks.h"
#include "../tests/shared_checks.h"

#include "../sparsemixer_kernels.cuh"

using namespace pagedllm::cuda;

int main(int argc, char** argv) {
  EmulationChecks checks("sparsemixer", argc, argv);
  const int rows = 150, experts = 6, stride = 7;
  const double jitter_eps = 0.25;  // threshold 0.5
  auto logits = checks.random_floats(size_t(rows) * stride, 2.f);
  craft_sparsemixer_rows(logits, stride);
  const float at_threshold[] = {4.f, 2.f, 1.f, 3.f, -1.f, 0.f};  // (4 - 2) / 4 is the threshold itself: expert 1 is kept
  for (int e = 0; e < experts; ++e) logits[5 * stride + e] = at_threshold[e];
  std::vector<int32_t> chosen(size_t(rows) * 2, -7);
  auto weights = poisoned<float>(size_t(rows) * 2);
  const float threshold = float(2.0 * jitter_eps);  // as sparsemixer_route passes it
  launch({unsigned((rows + kSparsemixerThreads - 1) / kSparsemixerThreads), 1, 1}, kSparsemixerThreads, [&] {
    sparsemixer_kernel(logits.data(), stride, rows, experts, threshold, chosen.data(), weights.data());
  });
  const auto ref = sparsemixer_reference(logits.data(), stride, rows, experts, jitter_eps);
  checks.report("6 experts, jitter 0.25: experts (ties: lower index first)", std::vector<double>(chosen.begin(), chosen.end()),
                ref.experts, 0.0);
  checks.report("6 experts, jitter 0.25: masked-softmax weights", weights, ref.weights, 1e-5);
  // The masked rows by hand: row 3's first pick keeps experts 0, 1 and 4, its second (expert 1) keeps 1 and 4.
  const double first_weight = 1 / (1 + std::exp(3.9 - 4.0) + std::exp(3.5 - 4.0)), second_weight = 1 / (1 + std::exp(3.5 - 3.9));
  checks.expect("row 3 masked by hand: experts 0 then 1",
                chosen[6] == 0 && chosen[7] == 1 && std::fabs(weights[6] - first_weight) < 1e-6 &&
                    std::fabs(weights[7] - second_weight) < 1e-6);
  return checks.finish();
}
