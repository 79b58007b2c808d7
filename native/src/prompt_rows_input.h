// Prompt-logprob entries as JS asks them ({rows, tokenIds, topNs}: ops.promptLogprobs and a step's promptLogprobs),
// copied and checked so a worker thread can rank them, and the answers back as typed arrays.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "pagedllm/prompt_rows.h"

namespace pagedllm {

struct PromptRowsInput {
  std::vector<int32_t> rows, token_ids, top_ns;
  int top_stride = 1;

  PromptRows asked() const;
};

// Rows in [0, num_rows) (`what` names them in errors: "rows of logits", "tokens of the batch"), token ids in [0, vocab),
// top Ns in [0, vocab]; `field` prefixes every error.
PromptRowsInput parse_prompt_rows(const Napi::Object& asked, long num_rows, const char* what, int vocab, const std::string& field);

struct PromptRowsResults {
  explicit PromptRowsResults(const PromptRowsInput& input);
  std::vector<double> logprobs, top_logprobs;
  std::vector<int32_t> ranks, top_counts, top_ids;
  int top_stride;

  PromptRowsOutput outputs();
  // {logprobs, ranks, topCounts, topIds, topLogprobs, topStride} (src/engine/native.ts PromptLogprobArrays).
  Napi::Object to_js(Napi::Env env) const;
};

}  // namespace pagedllm
