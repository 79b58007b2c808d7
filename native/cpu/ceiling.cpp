// Machine ceilings that kernel figures are judged against: sustained memory bandwidth (read and triad over
// arrays far beyond L3) and peak fp32 FMA throughput, each run on every thread of the pool at once.
#include <algorithm>
#include <chrono>
#include <vector>

#include "kernels_avx2.h"

namespace pagedllm {
namespace cpu {

namespace {
using Clock = std::chrono::steady_clock;

// Huge-page backed like the KV pool and the weights, and touched before timing.
class FilledArray {
 public:
  FilledArray(size_t floats, float fill) : buffer_(floats * sizeof(float)) { std::fill(get(), get() + floats, fill); }
  float* get() const { return static_cast<float*>(buffer_.data()); }
  float& operator[](size_t i) const { return get()[i]; }

 private:
  HugeBuffer buffer_;
};

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
  FilledArray a(n, 0.f), b(n, 1.f), c(n, 2.f);
  const int tasks = pool.size();
  const bool vector = avx2_enabled();
  double seconds = best_seconds(repeats, [&] {
    pool.parallel_for(tasks, [&](int t) {
      size_t begin = n * t / tasks, end = n * (t + 1) / tasks;
      if (vector) {
        avx2::triad(a.get() + begin, b.get() + begin, c.get() + begin, 0.5f, end - begin);
      } else {
        for (size_t i = begin; i < end; ++i) a[i] = b[i] + 0.5f * c[i];
      }
    });
  });
  return 3.0 * n * sizeof(float) / seconds;
}

double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int repeats) {
  const size_t n = bytes / sizeof(float);
  FilledArray a(n, 1.f);
  const int tasks = pool.size();
  const bool vector = avx2_enabled();
  std::vector<float> sums(tasks);
  double seconds = best_seconds(repeats, [&] {
    pool.parallel_for(tasks, [&](int t) {
      size_t begin = n * t / tasks, end = n * (t + 1) / tasks;
      if (vector) {
        sums[t] = avx2::sum_array(a.get() + begin, end - begin);
        return;
      }
      // Eight partial sums so the adds do not serialise on latency.
      float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      size_t i = begin;
      for (; i + 8 <= end; i += 8)
        for (int lane = 0; lane < 8; ++lane) partial[lane] += a[i + lane];
      for (; i < end; ++i) partial[0] += a[i];
      sums[t] = partial[0] + partial[1] + partial[2] + partial[3] + partial[4] + partial[5] + partial[6] + partial[7];
    });
  });
  volatile float sink = sums[0];
  (void)sink;
  return static_cast<double>(n) * sizeof(float) / seconds;
}

double measure_peak_flops(ThreadPool& pool, double seconds) {
  if (!avx2_enabled()) return 0;
  // Short timed runs (~5 ms each), best of many: on a shared machine some run usually gets the core alone.
  long iterations = 1 << 12;
  for (;;) {
    auto start = Clock::now();
    avx2::fma_chains(iterations);
    if (seconds_since(start) > 0.005 || iterations > (1L << 34)) break;
    iterations *= 2;
  }
  const int tasks = pool.size();
  std::vector<float> sinks(tasks);
  const int repeats = std::max(3, static_cast<int>(seconds / 0.005));
  double best = best_seconds(repeats, [&] {
    pool.parallel_for(tasks, [&](int t) { sinks[t] = avx2::fma_chains(iterations); });
  });
  // fma_chains: 12 chains x 8 lanes x 2 FLOP per iteration.
  return static_cast<double>(tasks) * iterations * 12 * 8 * 2 / best;
}

}  // namespace cpu
}  // namespace pagedllm
