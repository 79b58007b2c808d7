// Splits row-wise work over the pool only when there is enough of it to pay for waking workers.
#pragma once
#include <algorithm>

#include "task_runs.h"
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

// Weight-streaming kernels (few activation rows, bandwidth-bound): tasks are (row block, column chunk) of the output.
// A chunk of `granule`-multiple output columns (at most max_chunk, about four per thread) keeps its weights in cache
// while the row blocks pass by. Calls fn(col_begin, col_end, row_begin, row_end).
// The tasks (column chunks fastest) are dealt out as one contiguous run per thread (TaskRuns), so at decode each thread
// streams its own stretch of the matrix in address order, the hardware prefetcher's best case.
template <typename Fn>
void for_weight_tiles(ThreadPool& pool, int out_cols, int num_rows, int row_block, int granule, int max_chunk, Fn fn) {
  int col_chunk = (out_cols + pool.size() * 4 - 1) / (pool.size() * 4);
  col_chunk = std::max(granule, std::min(max_chunk, (col_chunk + granule - 1) / granule * granule));
  const int num_col_chunks = (out_cols + col_chunk - 1) / col_chunk;
  const int num_row_blocks = (num_rows + row_block - 1) / row_block;
  for_task_runs(pool, num_col_chunks * num_row_blocks, [&](int task) {
    const int col_begin = (task % num_col_chunks) * col_chunk, col_end = std::min(out_cols, col_begin + col_chunk);
    const int row_begin = (task / num_col_chunks) * row_block, row_end = std::min(num_rows, row_begin + row_block);
    fn(col_begin, col_end, row_begin, row_end);
  });
}

}  // namespace cpu
}  // namespace pagedllm
