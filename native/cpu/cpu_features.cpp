// Run-time instruction-set detection: the addon runs on any x86-64 CPU and uses AVX2 (and VNNI) only where present.
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

bool cpu_has(VnniKind kind) {
#if defined(__x86_64__) || defined(__i386__)
  if (!detect_avx2()) return false;
  if (kind == VnniKind::kAvxVnni) return __builtin_cpu_supports("avxvnni");
  if (kind == VnniKind::kAvx512Vnni) {
    return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
  }
#endif
  return kind == VnniKind::kNone;
}

// AVX512-VNNI first: its build runs on 512-bit vectors, measured faster than AVX-VNNI's 256-bit ones on Zen 5
// (docs/PERFORMANCE.md, "512-bit int8 panels").
VnniKind detect_vnni() {
  for (VnniKind kind : {VnniKind::kAvx512Vnni, VnniKind::kAvxVnni})
    if (cpu_has(kind)) return kind;
  return VnniKind::kNone;
}

std::atomic<VnniKind>& vnni_choice() {
  static std::atomic<VnniKind> choice{detect_vnni()};
  return choice;
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

VnniKind cpu_vnni_kind() {
  static const VnniKind kind = detect_vnni();
  return kind;
}

const char* vnni_kind_name(VnniKind kind) {
  switch (kind) {
    case VnniKind::kAvxVnni: return "avx-vnni";
    case VnniKind::kAvx512Vnni: return "avx512-vnni";
    default: return "none";
  }
}

const char* vnni_kind_label(VnniKind kind) {
  switch (kind) {
    case VnniKind::kAvxVnni: return "avx-vnni (ymm)";
    case VnniKind::kAvx512Vnni: return "avx512-vnni (zmm)";
    default: return "AVX2 maddubs (ymm)";
  }
}

VnniKind vnni_in_use() { return avx2_enabled() ? vnni_choice().load(std::memory_order_relaxed) : VnniKind::kNone; }

bool set_vnni_kind(VnniKind kind) {
  if (!cpu_has(kind)) return false;
  vnni_choice().store(kind, std::memory_order_relaxed);
  return true;
}

const char* cpu_kernels_label() {
  if (!avx2_enabled()) return "portable";
  switch (vnni_in_use()) {
    case VnniKind::kAvxVnni: return "AVX2, quantized prefill avx-vnni (ymm)";
    case VnniKind::kAvx512Vnni: return "AVX2, quantized prefill avx512-vnni (zmm)";
    default: return "AVX2";
  }
}

}  // namespace cpu
}  // namespace pagedllm
