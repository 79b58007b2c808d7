// Anonymous mappings aligned to 2 MB with MADV_HUGEPAGE (THP is often in "madvise" mode); pages stay
// untouched, so zero, until first use.
#include "huge_buffer.h"

#include <sys/mman.h>

#include <cstdint>
#include <string>
#include <stdexcept>
#include <utility>

namespace pagedllm {
namespace cpu {

namespace {
constexpr size_t kHugePage = 2u << 20;
}

HugeBuffer::HugeBuffer(size_t bytes) {
  if (bytes == 0) return;
  // Small buffers are not worth a 2 MB alignment pad.
  const size_t pad = bytes >= kHugePage ? kHugePage : 0;
  mapping_bytes_ = bytes + pad;
  void* mapping = ::mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) throw std::runtime_error("cannot allocate " + std::to_string(bytes) + " bytes");
  mapping_ = mapping;
  uintptr_t start = reinterpret_cast<uintptr_t>(mapping);
  if (pad) start = (start + kHugePage - 1) / kHugePage * kHugePage;
  data_ = reinterpret_cast<void*>(start);
  size_ = bytes;
#ifdef MADV_HUGEPAGE
  if (pad) ::madvise(data_, (bytes + kHugePage - 1) / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
}

HugeBuffer::~HugeBuffer() { release(); }

HugeBuffer::HugeBuffer(HugeBuffer&& other) noexcept { *this = std::move(other); }

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& other) noexcept {
  if (this != &other) {
    release();
    std::swap(mapping_, other.mapping_);
    std::swap(mapping_bytes_, other.mapping_bytes_);
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }
  return *this;
}

void HugeBuffer::release() {
  if (mapping_) ::munmap(mapping_, mapping_bytes_);
  mapping_ = nullptr;
  mapping_bytes_ = 0;
  data_ = nullptr;
  size_ = 0;
}

}  // namespace cpu
}  // namespace pagedllm
