// Splits row-wise work over the pool only when there is enough of it to pay for waking workers.
#pragma once
#include <algorithm>

#include "thread_pool.h"

namespace pagedllm {
namespace cpu {

// Calls fn(row_begin, row_end) over [0, num_rows); floats_per_row sizes the work.
template <typename Fn>
void for_row_ranges(ThreadPool& pool, int num_rows, size_t floats_per_row, Fn fn) {
  constexpr size_t kMinFloatsPerTask = 16384;
  size_t total = static_cast<size_t>(num_rows) * floats_per_row;
  int tasks = static_cast<int>(std::min<size_t>(static_cast<size_t>(pool.size()) * 2, total / kMinFloatsPerTask));
  tasks = std::min(tasks, num_rows);
  if (tasks <= 1) {
    if (num_rows > 0) fn(0, num_rows);
    return;
  }
  pool.parallel_for(tasks, [&](int task) {
    int begin = static_cast<int>(static_cast<long>(num_rows) * task / tasks);
    int end = static_cast<int>(static_cast<long>(num_rows) * (task + 1) / tasks);
    fn(begin, end);
  });
}

}  // namespace cpu
}  // namespace pagedllm
