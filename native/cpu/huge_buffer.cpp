// Anonymous mappings aligned to 2 MB with MADV_HUGEPAGE (THP is often in "madvise" mode); buffers under 2 MB are cut
// from shared slabs of huge pages. Pages stay untouched, so zero, until first use.
// Why slabs: a model's per-layer matrices are often under 2 MB (a hidden-512 model's are 0.25-1.7 MB), and on their
// own 4 KB pages a decode step's GEMVs read them about a quarter slower than the same bytes in huge pages (TLB
// misses every 4 KB of the stream; docs/PERFORMANCE.md).
#include "huge_buffer.h"

#include <sys/mman.h>

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

namespace pagedllm {
namespace cpu {

namespace {
constexpr size_t kHugePage = 2u << 20;
constexpr size_t kSlabBytes = 16 * kHugePage;
constexpr size_t kSlabAlign = 4096;
constexpr size_t kRoundUpBelow = 32 * kHugePage;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// Maps `bytes` at a 2 MB boundary, advised for huge pages; returns the aligned start, sets the mapping to unmap later.
void* map_huge_pages(size_t bytes, void** mapping, size_t* mapping_bytes) {
  *mapping_bytes = bytes + kHugePage;
  void* base = ::mmap(nullptr, *mapping_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) throw std::runtime_error("cannot allocate " + std::to_string(bytes) + " bytes");
  *mapping = base;
  void* data = reinterpret_cast<void*>(round_up(reinterpret_cast<uintptr_t>(base), kHugePage));
#ifdef MADV_HUGEPAGE
  ::madvise(data, bytes, MADV_HUGEPAGE);
#endif
  return data;
}
}  // namespace

// Space is handed out front to back and never reused, so it is zero; the slab is unmapped when its last buffer goes.
struct HugeBuffer::Slab {
  void* mapping = nullptr;
  size_t mapping_bytes = 0;
  uint8_t* data = nullptr;
  size_t used = 0;
  int live = 0;
};

namespace {
std::mutex slab_mutex;
HugeBuffer::Slab* open_slab = nullptr;  // where the next small buffer goes

void unmap_slab(HugeBuffer::Slab* slab) {
  ::munmap(slab->mapping, slab->mapping_bytes);
  delete slab;
}
}  // namespace

HugeBuffer::HugeBuffer(size_t bytes) {
  if (bytes == 0) return;
  size_ = bytes;
  if (bytes >= kHugePage) {
    // A last partial 2 MB is given a whole huge page too while it is a noticeable share of the buffer; in a big buffer
    // (a large model's matrices and KV pools, many of them) it stays on 4 KB pages rather than cost up to 2 MB each.
    data_ = map_huge_pages(bytes < kRoundUpBelow ? round_up(bytes, kHugePage) : bytes, &mapping_, &mapping_bytes_);
    return;
  }
  std::lock_guard<std::mutex> lock(slab_mutex);
  if (!open_slab || open_slab->used + bytes > kSlabBytes) {
    if (open_slab && open_slab->live == 0) unmap_slab(open_slab);
    auto* slab = new Slab;
    try {
      slab->data = static_cast<uint8_t*>(map_huge_pages(kSlabBytes, &slab->mapping, &slab->mapping_bytes));
    } catch (...) {
      delete slab;
      open_slab = nullptr;
      throw;
    }
    open_slab = slab;
  }
  slab_ = open_slab;
  data_ = slab_->data + slab_->used;
  slab_->used += round_up(bytes, kSlabAlign);
  ++slab_->live;
}

HugeBuffer::~HugeBuffer() { release(); }

HugeBuffer::HugeBuffer(HugeBuffer&& other) noexcept { *this = std::move(other); }

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& other) noexcept {
  if (this != &other) {
    release();
    std::swap(mapping_, other.mapping_);
    std::swap(mapping_bytes_, other.mapping_bytes_);
    std::swap(slab_, other.slab_);
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }
  return *this;
}

void HugeBuffer::release() {
  if (mapping_) ::munmap(mapping_, mapping_bytes_);
  if (slab_) {
    std::lock_guard<std::mutex> lock(slab_mutex);
    if (--slab_->live == 0 && slab_ != open_slab) unmap_slab(slab_);
  }
  mapping_ = nullptr;
  mapping_bytes_ = 0;
  slab_ = nullptr;
  data_ = nullptr;
  size_ = 0;
}

}  // namespace cpu
}  // namespace pagedllm
