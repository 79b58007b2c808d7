// Large zero-initialised allocations backed by transparent huge pages where the kernel allows it: the KV pool
// and the weights are read in scattered blocks and long streams, and 4 KB pages make every block a TLB miss.
#pragma once
#include <cstddef>

namespace pagedllm {
namespace cpu {

class HugeBuffer {
 public:
  HugeBuffer() = default;
  explicit HugeBuffer(size_t bytes);
  ~HugeBuffer();
  HugeBuffer(HugeBuffer&& other) noexcept;
  HugeBuffer& operator=(HugeBuffer&& other) noexcept;
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }

  struct Slab;

 private:
  void release();
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  Slab* slab_ = nullptr;  // a buffer under 2 MB lives in a slab shared with others, or it would get no huge page
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace cpu
}  // namespace pagedllm
