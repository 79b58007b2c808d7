// Prompt rows ranked for a backend without its own path (CUDA): they join the step's logits rows, come back to the host
// after the rows JS reads, and are ranked by the CPU code (cpu/prompt_logprobs.cpp), so the answers are the same. Their
// host buffer is rows x vocab floats, as before the CPU backend ranked in the step; they still never reach JS.
// PAGEDLLM_PROMPT_RANKING=host sends every backend this way (tests run it on the CPU backend).
#include "ranked_step.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../cpu/prompt_logprobs.h"

namespace pagedllm {

void run_ranked_step(Backend& backend, int vocab, const BlockMoves& moves, const ForwardBatch& batch, float* logits_out,
                     const SampleBatch* sampling, const SampleOutputs* sampled, const PromptRanking& ranking) {
  const char* forced = std::getenv("PAGEDLLM_PROMPT_RANKING");
  const bool on_host = forced != nullptr && std::string(forced) == "host";
  if (!on_host && backend.step_ranked(moves, batch, logits_out, sampling, sampled, ranking)) return;
  const int extra = ranking.asked.num_rows;
  std::vector<int32_t> indices(batch.logits_indices, batch.logits_indices + batch.num_logits);
  indices.insert(indices.end(), ranking.asked.rows, ranking.asked.rows + extra);
  // CUDA's final norm adds each logits row's residual in place: a row asked twice would be added twice.
  std::vector<bool> seen(batch.num_tokens);
  for (const int32_t row : indices) {
    if (row < 0 || row >= batch.num_tokens) continue;  // the backend refuses it
    if (seen[row]) throw std::invalid_argument("batch row " + std::to_string(row) + " is asked for twice (logits or prompt logprobs)");
    seen[row] = true;
  }
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
