// The CUDA MoE MLP's host-side plan (native/cuda/moe_forward.cu): how routed (row, rank) slots are ordered per expert,
// which expert GEMMs a layer runs, and where a step's tensors lie in its scratch. Plain C++ with no CUDA headers, so
// every build has it and the CPU build's tests check it (ops.moeSortSlots, ops.moeScratchBytes); the device counting
// sort (moe_kernels.cu) must give exactly this order.
#pragma once
#include <algorithm>
#include <cstddef>
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

// Router rows a sparse layer stores: the experts', plus the shared expert's gate when it has one (its logit comes out of
// the router kernel with the others).
inline int moe_router_rows(int num_experts, int shared_width, bool shared_gated) {
  return num_experts + (shared_width > 0 && shared_gated ? 1 : 0);
}

// Where each tensor of a sparse layer's step of num_rows rows lies in the MoE scratch, every start 256-byte aligned
// (element_bytes: the weight dtype's, 2). src/engine/gpu-memory-moe.ts cudaMoeScratchBytes adds up the same list.
struct MoeScratchPlan {
  size_t x_float, logits, experts, weights, chunk_counts, counts, offsets, sorted, positions, gathered, gate_up, activated,
      expert_out, shared_out, total = 0;

  MoeScratchPlan(int num_rows, int hidden, int num_experts, int top_k, int expert_width, int shared_width, bool shared_gated,
                 size_t element_bytes) {
    const size_t n = size_t(num_rows), H = size_t(hidden), slots = n * size_t(top_k);
    const size_t width = size_t(std::max(expert_width, shared_width));
    x_float = add(n * H * 4);  // the router's input: the pre-MLP norm in fp32
    logits = add(n * size_t(moe_router_rows(num_experts, shared_width, shared_gated)) * 4);
    experts = add(slots * 4);
    weights = add(slots * 4);
    chunk_counts = add(size_t(moe_sort_chunks(int(slots))) * size_t(num_experts) * 4);
    counts = add(size_t(num_experts) * 4);
    offsets = add(size_t(num_experts) * 4);
    sorted = add(slots * 4);
    positions = add(slots * 4);
    gathered = add(slots * H * element_bytes);
    gate_up = add(n * 2 * width * 4);  // one expert's rows at a time (at most n: an expert is picked once a row), or the shared expert's
    activated = add(n * width * element_bytes);
    expert_out = add(slots * H * 4);
    shared_out = add(shared_width > 0 ? n * H * 4 : 0);
  }

 private:
  size_t add(size_t bytes) {
    const size_t at = total;
    total += (bytes + 255) / 256 * 256;
    return at;
  }
};

}  // namespace pagedllm
