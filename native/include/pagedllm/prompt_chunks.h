// A step whose prompt rows (echo / prompt_logprobs) go through the LM head after its own logits rows: the rows the
// head runs, and how each of its chunks splits into rows handed back and prompt rows to rank. Plain C++ with no CUDA
// headers: the host ranking path (native/src/ranked_step.cpp) and the CUDA backend's device ranking share it, and the
// CPU build's tests check the chunk plan (ops.promptChunkPlan).
#pragma once
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "pagedllm/backend.h"

namespace pagedllm {

// The step's logits rows, then every prompt row asked. A row asked twice is refused: CUDA's final norm adds each
// logits row's residual in place, so it would be added twice. Rows outside the batch are left for the backend's checks.
inline std::vector<int32_t> logits_rows_with_prompt_rows(const ForwardBatch& batch, const PromptRows& asked) {
  std::vector<int32_t> rows(batch.logits_indices, batch.logits_indices + batch.num_logits);
  rows.insert(rows.end(), asked.rows, asked.rows + asked.num_rows);
  std::vector<bool> seen(batch.num_tokens);
  for (const int32_t row : rows) {
    if (row < 0 || row >= batch.num_tokens) continue;
    if (seen[row]) throw std::invalid_argument("batch row " + std::to_string(row) + " is asked for twice (logits or prompt logprobs)");
    seen[row] = true;
  }
  return rows;
}

// Chunk [first, first + rows) of the head's rows: its first own_rows are the step's own logits rows (handed back or
// sampled); prompt entries [first_entry, first_entry + num_entries) follow at chunk row first_entry_row.
struct PromptChunk {
  int own_rows = 0;
  int first_entry = 0;
  int num_entries = 0;
  int first_entry_row = 0;
};

inline PromptChunk plan_prompt_chunk(int own_logits, int first, int rows) {
  PromptChunk chunk;
  chunk.own_rows = std::clamp(own_logits - first, 0, rows);
  chunk.first_entry_row = chunk.own_rows;
  chunk.first_entry = first + chunk.own_rows - own_logits;
  chunk.num_entries = rows - chunk.own_rows;
  if (chunk.num_entries == 0) chunk.first_entry = 0;
  return chunk;
}

// Whether the device ranks these entries: its top-N kernel takes at most max_top per row (the engine asks at most 20);
// larger asks (ops.promptLogprobs allows up to the vocabulary) go the host way.
inline bool device_ranks(const PromptRows& asked, int max_top) {
  return std::all_of(asked.top_ns, asked.top_ns + asked.num_rows, [max_top](int32_t n) { return n <= max_top; });
}

}  // namespace pagedllm
