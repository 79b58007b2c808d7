// Chunked ranking of a step's prompt rows (see prompt_ranking.h).
#include "prompt_ranking.h"

#include <algorithm>
#include <cstdlib>

#include "linear_packed.h"
#include "prompt_logprobs.h"
#include "quant_packed.h"

namespace pagedllm {
namespace cpu {

namespace {

constexpr size_t kChunkLogits = size_t{8} << 20;  // 32 MiB of fp32
// linear() picks its kernel by row count: every chunk has min(all rows, this) rows, at least every packed kernel's
// minimum, so each row's logits are those one LM-head call over all the prompt rows gives, bit for bit.
constexpr int kMinChunkRows = 64;
static_assert(kMinChunkRows >= avx2::kPackedMinRows && kMinChunkRows >= avx2::kQuantPackedMinRows);

}  // namespace

int prompt_chunk_rows(int vocab) {
  // PAGEDLLM_PROMPT_CHUNK_ROWS (tests, measurements) sets it, from kMinChunkRows up.
  const char* forced = std::getenv("PAGEDLLM_PROMPT_CHUNK_ROWS");
  const long rows = forced ? std::strtol(forced, nullptr, 10) : static_cast<long>(kChunkLogits / static_cast<size_t>(vocab));
  return static_cast<int>(std::clamp<long>(rows, kMinChunkRows, 1L << 20));
}

void rank_prompt_rows(ThreadPool& pool, int vocab, const PromptRows& asked, const PromptRowsOutput& out, const LmHead& head,
                      std::vector<float>& buffer) {
  const int total = asked.num_rows;
  if (total == 0) return;
  const int chunk = std::min(total, prompt_chunk_rows(vocab));
  buffer.resize(static_cast<size_t>(chunk) * vocab);
  for (int first = 0; first < total; first += chunk) {
    // The last chunk reaches back over rows already ranked rather than run short (a short one could change kernel).
    const int begin = std::min(first, total - chunk);
    head(asked.rows + begin, chunk, buffer.data());
    pool.parallel_for(std::min(chunk, total - first), [&](int k) {
      const int index = first + k;
      rank_prompt_row(buffer.data() + static_cast<size_t>(index - begin) * vocab, vocab, asked, out, index);
    });
  }
}

}  // namespace cpu
}  // namespace pagedllm
