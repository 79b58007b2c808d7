// A step's prompt rows (echo / prompt_logprobs) ranked right after the LM head, a bounded chunk of rows at a time: the
// LM head writes a chunk's logits into one reused buffer, the pool ranks its rows, the next chunk overwrites it. So a
// long prompt's logits never exist whole (2,000 rows x 152k vocabulary would be 1.2 GB) and none leave the step.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "pagedllm/prompt_rows.h"
#include "thread_pool.h"

namespace pagedllm {
namespace cpu {

// Writes the logits of batch rows rows[0, count) to out [count, vocab]: the final norm and the LM head.
using LmHead = std::function<void(const int32_t* rows, int count, float* out)>;

// Rows per chunk: about 32 MiB of logits (or $PAGEDLLM_PROMPT_CHUNK_ROWS), never fewer than 64 rows (see prompt_ranking.cpp).
int prompt_chunk_rows(int vocab);

// Ranks every entry of `asked` (rows of the batch) into `out`; `buffer` is the reused chunk of logits.
void rank_prompt_rows(ThreadPool& pool, int vocab, const PromptRows& asked, const PromptRowsOutput& out, const LmHead& head,
                      std::vector<float>& buffer);

}  // namespace cpu
}  // namespace pagedllm
