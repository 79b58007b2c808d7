// Prompt rows ranked on the host, where the backend's own path declines (CUDA, for a top-N over its kernel's 64): they join
// the step's logits rows, come back to the host after the rows JS reads, and are ranked by the CPU code
// (cpu/prompt_logprobs.cpp), so the answers are the same. Their host buffer is rows x vocab floats; they never reach JS.
// PAGEDLLM_PROMPT_RANKING=host sends every backend this way (tests run it on the CPU backend).
#include "ranked_step.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "../cpu/prompt_logprobs.h"
#include "pagedllm/prompt_chunks.h"

namespace pagedllm {

void run_ranked_step(Backend& backend, int vocab, const BlockMoves& moves, const ForwardBatch& batch, float* logits_out,
                     const SampleBatch* sampling, const SampleOutputs* sampled, const PromptRanking& ranking) {
  const char* forced = std::getenv("PAGEDLLM_PROMPT_RANKING");
  const bool on_host = forced != nullptr && std::string(forced) == "host";
  if (!on_host && backend.step_ranked(moves, batch, logits_out, sampling, sampled, ranking)) return;
  const int extra = ranking.asked.num_rows;
  std::vector<int32_t> indices = logits_rows_with_prompt_rows(batch, ranking.asked);
  ForwardBatch extended = batch;
  extended.logits_indices = indices.data();
  extended.num_logits = static_cast<int>(indices.size());
  // The rows JS reads first (as logits_out wants them), then the prompt rows.
  const int own = sampling ? sampling->num_host_rows : batch.num_logits;
  std::vector<float> logits(static_cast<size_t>(own + extra) * vocab);
  if (sampling) {
    std::vector<int32_t> host_rows(sampling->host_rows, sampling->host_rows + sampling->num_host_rows);
    for (int i = 0; i < extra; ++i) host_rows.push_back(batch.num_logits + i);
    SampleBatch with_prompt_rows = *sampling;
    with_prompt_rows.host_rows = host_rows.data();
    with_prompt_rows.num_host_rows = static_cast<int>(host_rows.size());
    backend.step(moves, extended, logits.data(), &with_prompt_rows, sampled);
  } else {
    backend.step(moves, extended, logits.data(), nullptr, nullptr);
  }
  std::copy_n(logits.data(), static_cast<size_t>(own) * vocab, logits_out);
  std::vector<int32_t> rows(extra);
  std::iota(rows.begin(), rows.end(), 0);
  PromptRows asked = ranking.asked;
  asked.rows = rows.data();
  const int threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  cpu::prompt_logprobs(logits.data() + static_cast<size_t>(own) * vocab, vocab, asked, ranking.out, threads);
}

}  // namespace pagedllm
