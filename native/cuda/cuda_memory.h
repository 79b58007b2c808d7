// Owning handles for device memory and pinned host memory (freed in the destructor, movable, not copyable).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

namespace pagedllm::cuda {

template <bool kPinnedHost>
class Allocation {
 public:
  Allocation() = default;
  explicit Allocation(size_t bytes) { resize(bytes); }
  ~Allocation() { release(); }
  Allocation(const Allocation&) = delete;
  Allocation& operator=(const Allocation&) = delete;
  Allocation(Allocation&& other) noexcept : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  Allocation& operator=(Allocation&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }

  // Drops the old contents; used for grow-only scratch buffers and one-time pools.
  void resize(size_t bytes);
  void* data() const { return data_; }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }
  size_t bytes() const { return bytes_; }

 private:
  void release();
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

using DeviceMemory = Allocation<false>;
using PinnedMemory = Allocation<true>;

}  // namespace pagedllm::cuda
