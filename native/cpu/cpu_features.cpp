// Run-time instruction-set detection: the addon runs on any x86-64 CPU and uses AVX2 only where present.
#include <atomic>

#include "kernels.h"

namespace pagedllm {
namespace cpu {

namespace {
bool detect_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

std::atomic<bool>& avx2_flag() {
  static std::atomic<bool> flag{detect_avx2()};
  return flag;
}
}  // namespace

bool cpu_supports_avx2() {
  static const bool supported = detect_avx2();
  return supported;
}

bool avx2_enabled() { return avx2_flag().load(std::memory_order_relaxed); }

bool set_avx2_enabled(bool enabled) {
  if (enabled && !cpu_supports_avx2()) return false;
  avx2_flag().store(enabled, std::memory_order_relaxed);
  return true;
}

}  // namespace cpu
}  // namespace pagedllm
