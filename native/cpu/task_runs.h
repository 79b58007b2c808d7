// Runs task indices 0..n-1 over the pool as one contiguous run per thread, with stealing from the other runs' ends.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>

#include "thread_pool.h"

namespace pagedllm {
namespace cpu {

// Thread t owns run t of [0, n) and takes its tasks front to back; a thread whose run is empty takes tasks from the
// back of the others' runs. So each thread walks its share in order (a weight-streaming kernel reads one stretch of
// memory in address order) and a thread slowed or not yet woken costs no one a wait: the others finish its run.
class TaskRuns {
 public:
  TaskRuns(int num_tasks, int num_runs) : num_runs_(num_runs), runs_(new Run[num_runs]) {
    for (int r = 0; r < num_runs; ++r) {
      const uint64_t begin = static_cast<uint64_t>(num_tasks) * r / num_runs, end = static_cast<uint64_t>(num_tasks) * (r + 1) / num_runs;
      runs_[r].bounds.store(begin | end << 32, std::memory_order_relaxed);
    }
  }
  int num_runs() const { return num_runs_; }

  // The next task of run r, from its front (the owner) or back (a thief); -1 when the run is empty.
  int take(int r, bool from_front) {
    std::atomic<uint64_t>& bounds = runs_[r].bounds;
    uint64_t current = bounds.load(std::memory_order_relaxed);
    for (;;) {
      const uint32_t begin = static_cast<uint32_t>(current), end = static_cast<uint32_t>(current >> 32);
      if (begin >= end) return -1;
      const uint64_t next = from_front ? (current + 1) : (static_cast<uint64_t>(end - 1) << 32 | begin);
      if (bounds.compare_exchange_weak(current, next, std::memory_order_relaxed)) return static_cast<int>(from_front ? begin : end - 1);
    }
  }

 private:
  // One cache line per run: the owner's takes stay in its own core's cache.
  struct alignas(64) Run {
    std::atomic<uint64_t> bounds{0};  // begin | end << 32
  };
  int num_runs_;
  std::unique_ptr<Run[]> runs_;
};

// Calls fn(task) for every task in [0, num_tasks), over the pool's threads as TaskRuns deals them.
template <typename Fn>
void for_task_runs(ThreadPool& pool, int num_tasks, Fn fn) {
  const int num_runs = std::min(pool.size(), num_tasks);
  if (num_runs <= 1) {
    for (int task = 0; task < num_tasks; ++task) fn(task);
    return;
  }
  TaskRuns runs(num_tasks, num_runs);
  pool.parallel_for(num_runs, [&](int own) {
    for (int task; (task = runs.take(own, true)) >= 0;) fn(task);
    for (int k = 1; k < num_runs; ++k) {
      const int other = (own + k) % num_runs;
      for (int task; (task = runs.take(other, false)) >= 0;) fn(task);
    }
  });
}

}  // namespace cpu
}  // namespace pagedllm
