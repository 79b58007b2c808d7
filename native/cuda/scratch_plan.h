// Bump allocator over one grow-only device buffer: a step's scratch tensors are carved from it (cuda_backend.cu's
// forward pass, layernorm_forward.cu's). src/engine/gpu-memory.ts mirrors the plans.
#pragma once
#include <cstddef>

namespace pagedllm::cuda {

class ScratchPlan {
 public:
  size_t add(size_t bytes) {
    const size_t offset = total_;
    total_ += (bytes + 255) / 256 * 256;
    return offset;
  }
  size_t total() const { return total_; }

 private:
  size_t total_ = 0;
};

}  // namespace pagedllm::cuda
