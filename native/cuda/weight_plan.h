// Where each checkpoint tensor goes in a backend's one weight allocation, and the upload that fills it: shared by the
// Llama-family loader (cuda_weights.cu) and the LayerNorm family's (layernorm_weights.cu).
#pragma once
#include <cuda_runtime.h>

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cuda_memory.h"
#include "pagedllm/backend.h"

namespace pagedllm::cuda {

inline size_t dtype_bytes(DType dtype) { return dtype == DType::F32 ? 4 : 2; }
inline size_t align256(size_t bytes) { return (bytes + 255) / 256 * 256; }

// Where one checkpoint tensor goes: `rows` x `cols` elements at byte `offset` of the weight allocation.
struct Placement {
  const TensorSource* source;
  int64_t rows, cols;
  size_t offset;
  bool as_float;  // biases and norm weights stay fp32
  float add;      // added to every value in fp32 (norm weights: ModelConfig::norm_weight_offset)
};

class Planner {
 public:
  explicit Planner(const std::vector<TensorSource>& tensors) {
    for (const auto& tensor : tensors) by_name_[tensor.name] = &tensor;
  }
  bool has(const std::string& name) const { return by_name_.count(name) > 0; }

  // Reserves a region for `count` elements; the tensors in `parts` fill it one after another (row concatenation).
  size_t reserve(const std::vector<std::pair<std::string, std::vector<int64_t>>>& parts, size_t element_bytes, bool as_float,
                 float add = 0.f) {
    const size_t start = total_;
    size_t offset = start;
    for (const auto& [name, shape] : parts) {
      auto it = by_name_.find(name);
      if (it == by_name_.end()) throw std::runtime_error("CUDA backend: checkpoint has no tensor " + name);
      if (it->second->shape != shape) throw std::runtime_error("CUDA backend: unexpected shape for " + name);
      int64_t count = 1;
      for (int64_t dim : shape) count *= dim;
      if (it->second->nbytes != size_t(count) * dtype_bytes(it->second->dtype))
        throw std::runtime_error("CUDA backend: byte size does not match shape for " + name);
      placements_.push_back({it->second, shape[0], count / shape[0], offset, as_float, add});
      offset += size_t(count) * element_bytes;
    }
    total_ = align256(offset);
    return start;
  }
  size_t total() const { return total_; }
  const std::vector<Placement>& placements() const { return placements_; }

 private:
  std::map<std::string, const TensorSource*> by_name_;
  std::vector<Placement> placements_;
  size_t total_ = 0;
};

// Allocates `storage` for the plan and fills it: each tensor read from its file, put in compute row order on the host
// (pagedllm/tensor_rows.h), converted to T (or fp32) on the device. Returns when the last tensor is converted.
template <typename T>
void upload_planned_weights(const Planner& plan, DeviceMemory& storage, cudaStream_t stream);

}  // namespace pagedllm::cuda
