// A step with prompt rows to rank (echo / prompt_logprobs): the backend's own path (Backend::step_ranked), or, where it
// has none, the rows as extra logits rows of the step, ranked here on the host.
#pragma once
#include "pagedllm/backend.h"

namespace pagedllm {

void run_ranked_step(Backend& backend, int vocab, const BlockMoves& moves, const ForwardBatch& batch, float* logits_out,
                     const SampleBatch* sampling, const SampleOutputs* sampled, const PromptRanking& ranking);

}  // namespace pagedllm
