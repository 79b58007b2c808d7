// Prompt logprobs (echo / prompt_logprobs): per prompt row, the logprob and rank of the token that came next and the
// row's top-N. The step ranks its prompt rows right after the LM head (prompt_ranking.h); ops.promptLogprobs ranks
// rows of given logits. test/support/prompt-logprobs-reference.ts is the JS reference both equal bit for bit.
#pragma once
#include "pagedllm/prompt_rows.h"

namespace pagedllm {
namespace cpu {

// Entry `index` of `rows`, whose logits are `row` [vocab]: its answers go to slot `index` of `out`.
void rank_prompt_row(const float* row, int vocab, const PromptRows& rows, const PromptRowsOutput& out, int index);

// Entries of rows of `logits` [*, vocab], split among up to `threads` threads (this one included) when there are enough to pay.
void prompt_logprobs(const float* logits, int vocab, const PromptRows& rows, const PromptRowsOutput& out, int threads);

}  // namespace cpu
}  // namespace pagedllm
