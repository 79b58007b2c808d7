// The CUDA backend's prompt ranking (echo / prompt_logprobs): a step's prompt rows run through the LM head after its own
// logits rows, and each LM-head chunk's prompt rows are ranked where they lie (prompt_ranking_kernels.cu), so only
// logprobs, ranks and top-N come back instead of rows x vocab floats.
#pragma once
#include <cuda_runtime.h>

#include "cuda_memory.h"
#include "pagedllm/prompt_rows.h"

namespace pagedllm::cuda {

class DevicePromptRanker {
 public:
  // Uploads the entries' token ids and top Ns; the step's own logits rows are the head's first `own_rows`.
  void begin(const PromptRows& asked, int own_rows, int vocab, cudaStream_t stream);
  bool active() const { return active_; }
  // The step's own logits rows: all of num_logits when no ranking is active.
  int own_rows(int num_logits) const { return active_ ? own_rows_ : num_logits; }
  // Ranks the prompt rows among the head's rows [first, first + rows), whose logits are at `logits`.
  void rank_chunk(const float* logits, int first, int rows, cudaStream_t stream);
  // Copies the answers into `out` (synchronizes the stream) and ends the ranking.
  void finish(const PromptRowsOutput& out, cudaStream_t stream);
  // Ends it without answers (the step failed).
  void cancel() { active_ = false; }

 private:
  bool active_ = false;
  int own_rows_ = 0, num_entries_ = 0, top_stride_ = 1, vocab_ = 0;
  DeviceMemory inputs_, results_;
};

}  // namespace pagedllm::cuda
