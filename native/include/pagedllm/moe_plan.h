// The CUDA MoE MLP's host-side plan (native/cuda/moe_forward.cu): how routed (row, rank) slots are ordered per expert,
// and which expert GEMMs a layer runs. Plain C++ with no CUDA headers, so every build has it and the CPU build's
// tests check it (ops.moeSortSlots); the device counting sort (moe_kernels.cu) must give exactly this order.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pagedllm {

// Slots (row * top_k + rank) the device sort counts per block: its per-expert counts are [chunks, num_experts].
constexpr int kMoeSortChunkSlots = 2048;

inline int moe_sort_chunks(int num_slots) { return (num_slots + kMoeSortChunkSlots - 1) / kMoeSortChunkSlots; }

// One expert's share of the sorted slots: rows [first, first + count) of the gathered input.
struct MoeExpertRun {
  int32_t expert, first, count;
};

// The experts that have rows, in expert order, each starting where the exclusive scan of the counts puts it.
inline std::vector<MoeExpertRun> moe_expert_runs(const int32_t* counts, int num_experts) {
  std::vector<MoeExpertRun> runs;
  int32_t first = 0;
  for (int e = 0; e < num_experts; ++e) {
    if (counts[e] < 0) throw std::runtime_error("moe_expert_runs: expert " + std::to_string(e) + " has a negative count");
    if (counts[e] > 0) runs.push_back({e, first, counts[e]});
    first += counts[e];
  }
  return runs;
}

// The stable counting sort of slots by expert: sorted_slots lists expert 0's slots in slot order, then expert 1's, ...;
// slot_positions[slot] is where that slot landed; counts[e] its expert's number of slots. experts holds
// num_slots expert ids (the router's top-k, row-major).
inline void moe_sort_slots(const int32_t* experts, int num_slots, int num_experts, int32_t* sorted_slots,
                           int32_t* slot_positions, int32_t* counts) {
  for (int e = 0; e < num_experts; ++e) counts[e] = 0;
  for (int s = 0; s < num_slots; ++s) {
    if (experts[s] < 0 || experts[s] >= num_experts)
      throw std::runtime_error("moe_sort_slots: slot " + std::to_string(s) + " names expert " + std::to_string(experts[s]) +
                               " of " + std::to_string(num_experts));
    ++counts[experts[s]];
  }
  std::vector<int32_t> next(num_experts);
  for (const MoeExpertRun& run : moe_expert_runs(counts, num_experts)) next[run.expert] = run.first;
  for (int s = 0; s < num_slots; ++s) {
    const int32_t at = next[experts[s]]++;
    sorted_slots[at] = s;
    slot_positions[s] = at;
  }
}

}  // namespace pagedllm
