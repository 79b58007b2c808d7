// Machine ceilings that kernel figures are judged against: sustained memory bandwidth (read and triad over
// arrays far beyond L3) and peak fp32 FMA throughput, each run on every thread of the pool at once.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels_avx2.h"

namespace pagedllm {
namespace cpu {

namespace {
using Clock = std::chrono::steady_clock;

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using AlignedArray = std::unique_ptr<float[], AlignedFree>;

AlignedArray make_array(size_t floats, float fill) {
  size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
  AlignedArray array(static_cast<float*>(std::aligned_alloc(64, bytes)));
  std::fill(array.get(), array.get() + floats, fill);  // touches every page before timing
  return array;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Best of `repeats` timed runs of body() (best filters out the other tenants' bursts).
template <typename Body>
double best_seconds(int repeats, Body body) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    auto start = Clock::now();
    body();
    best = std::min(best, seconds_since(start));
  }
  return best;
}
}  // namespace

double measure_triad_bandwidth(ThreadPool& pool, size_t bytes_per_array, int repeats) {
  const size_t n = bytes_per_array / sizeof(float);
  AlignedArray a = make_array(n, 0.f), b = make_array(n, 1.f), c = make_array(n, 2.f);
  const int tasks = pool.size();
  double seconds = best_seconds(repeats, [&] {
    pool.parallel_for(tasks, [&](int t) {
      size_t begin = n * t / tasks, end = n * (t + 1) / tasks;
      float* out = a.get();
      const float* x = b.get();
      const float* y = c.get();
      for (size_t i = begin; i < end; ++i) out[i] = x[i] + 0.5f * y[i];
    });
  });
  return 3.0 * n * sizeof(float) / seconds;
}

double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int repeats) {
  const size_t n = bytes / sizeof(float);
  AlignedArray a = make_array(n, 1.f);
  const int tasks = pool.size();
  std::vector<float> sums(tasks);
  double seconds = best_seconds(repeats, [&] {
    pool.parallel_for(tasks, [&](int t) {
      size_t begin = n * t / tasks, end = n * (t + 1) / tasks;
      // Eight partial sums so the adds vectorise and do not serialise on latency.
      float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      const float* x = a.get();
      size_t i = begin;
      for (; i + 8 <= end; i += 8)
        for (int lane = 0; lane < 8; ++lane) partial[lane] += x[i + lane];
      for (; i < end; ++i) partial[0] += x[i];
      float total = 0;
      for (float p : partial) total += p;
      sums[t] = total;
    });
  });
  volatile float sink = sums[0];
  (void)sink;
  return static_cast<double>(n) * sizeof(float) / seconds;
}

double measure_peak_flops(ThreadPool& pool, double seconds) {
  if (!avx2_enabled()) return 0;
  // Calibrate the iteration count on one thread, then time all threads together.
  long iterations = 1 << 16;
  for (;;) {
    auto start = Clock::now();
    avx2::fma_chains(iterations);
    if (seconds_since(start) > seconds / 4 || iterations > (1L << 34)) break;
    iterations *= 2;
  }
  const int tasks = pool.size();
  std::vector<float> sinks(tasks);
  double best = best_seconds(3, [&] {
    pool.parallel_for(tasks, [&](int t) { sinks[t] = avx2::fma_chains(iterations); });
  });
  // fma_chains: 12 chains x 8 lanes x 2 FLOP per iteration.
  return static_cast<double>(tasks) * iterations * 12 * 8 * 2 / best;
}

}  // namespace cpu
}  // namespace pagedllm
