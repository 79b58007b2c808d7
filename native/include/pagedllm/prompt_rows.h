// Prompt logprobs (echo / prompt_logprobs) asked of rows of logits: per entry the logprob and rank of the prompt token
// that came next and the row's top N. The step ranks a batch's prompt rows (Backend::step_ranked); ops.promptLogprobs
// ranks rows of given logits (tests compare both with test/support/prompt-logprobs-reference.ts).
#pragma once
#include <cstdint>

namespace pagedllm {

struct PromptRows {
  int num_rows = 0;
  const int32_t* rows = nullptr;       // per entry: its row (of the logits, or of the batch in a step)
  const int32_t* token_ids = nullptr;  // the prompt token that came next, in [0, vocab)
  const int32_t* top_ns = nullptr;     // how many top logprobs each entry asks for
  int top_stride = 1;                  // slots per entry in top_ids / top_logprobs: the largest top_n + 1
};

struct PromptRowsOutput {
  double* logprobs;      // [num_rows]: logit - log-sum-exp of the row
  int32_t* ranks;        // [num_rows]: how many logits are >= the token's (1 at least; vLLM's rank, ties against it)
  int32_t* top_counts;   // [num_rows]: entries written in the top arrays (top_n, + 1 when the token is not among them)
  int32_t* top_ids;      // [num_rows * top_stride]
  double* top_logprobs;  // [num_rows * top_stride]
};

}  // namespace pagedllm
