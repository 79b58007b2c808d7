// Prompt logprobs over rows of raw logits: the same float ops as src/engine/logprobs.ts (row_stats' log-sum-exp, the
// sampler's top_logprobs, a >= count for the rank), so the results equal the JS reference bit for bit.
#include "prompt_logprobs.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "kernels.h"
#include "sampler.h"

namespace pagedllm {
namespace cpu {

namespace {

// Logits a thread should have to rank before another one is started (~1 ms of work).
constexpr size_t kLogitsPerThread = size_t{1} << 21;

int rank_of(const float* row, int vocab, float value) {
  int rank = 0;
  for (int i = 0; i < vocab; ++i) rank += row[i] >= value;
  return std::max(rank, 1);
}

}  // namespace

void rank_prompt_row(const float* row, int vocab, const PromptRows& rows, const PromptRowsOutput& out, int index) {
  const int token = rows.token_ids[index];
  double stats[3];
  row_stats(row, 1, vocab, stats);
  out.logprobs[index] = row[token] - stats[2];
  out.ranks[index] = rank_of(row, vocab, row[token]);
  const size_t top = static_cast<size_t>(index) * rows.top_stride;
  top_logprobs(row, vocab, rows.top_ns[index], token, stats[2], out.top_ids + top, out.top_logprobs + top, out.top_counts + index);
}

void prompt_logprobs(const float* logits, int vocab, const PromptRows& rows, const PromptRowsOutput& out, int threads) {
  const size_t work = static_cast<size_t>(rows.num_rows) * vocab;
  const int count = static_cast<int>(std::clamp<size_t>(work / kLogitsPerThread, 1, static_cast<size_t>(std::max(threads, 1))));
  std::atomic<int> next{0};
  const auto run = [&] {
    for (int index = next++; index < rows.num_rows; index = next++)
      rank_prompt_row(logits + static_cast<size_t>(rows.rows[index]) * vocab, vocab, rows, out, index);
  };
  std::vector<std::thread> helpers;
  for (int t = 1; t < count; ++t) helpers.emplace_back(run);
  run();
  for (std::thread& helper : helpers) helper.join();
}

}  // namespace cpu
}  // namespace pagedllm
