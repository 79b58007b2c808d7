// Run-time instruction-set detection: the addon runs on any x86-64 CPU and uses AVX2 (and VNNI, AVX-512) only where
// present.
#include <atomic>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

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

// AVX-512 F + VL, and the OS saving the opmask and all 32 zmm registers on a context switch (XCR0 bits 1, 2, 5, 6, 7),
// checked here rather than trusting each compiler's __builtin_cpu_supports to look at XCR0.
bool detect_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  if (!detect_avx2() || !__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512vl")) return false;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return false;
  unsigned xcr0_low, xcr0_high;
  __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  constexpr unsigned kZmmState = 0xE6;  // SSE, AVX (ymm), opmask, ZMM_Hi256, Hi16_ZMM
  return (xcr0_low & kZmmState) == kZmmState;
#else
  return false;
#endif
}

bool cpu_has(VnniKind kind) {
#if defined(__x86_64__) || defined(__i386__)
  if (!detect_avx2()) return false;
  if (kind == VnniKind::kAvxVnni) return __builtin_cpu_supports("avxvnni");
  if (kind == VnniKind::kAvx512Vnni) {
    return detect_avx512() && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
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

FloatPanelWidth detect_float_panel_width() { return detect_avx512() ? FloatPanelWidth::kAvx512 : FloatPanelWidth::kAvx2; }

std::atomic<FloatPanelWidth>& float_panel_choice() {
  static std::atomic<FloatPanelWidth> choice{detect_float_panel_width()};
  return choice;
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

FloatPanelWidth cpu_float_panel_width() {
  static const FloatPanelWidth width = detect_float_panel_width();
  return width;
}

const char* float_panel_width_name(FloatPanelWidth width) { return width == FloatPanelWidth::kAvx512 ? "avx512" : "avx2"; }

FloatPanelWidth float_panel_width_in_use() {
  return avx2_enabled() ? float_panel_choice().load(std::memory_order_relaxed) : FloatPanelWidth::kAvx2;
}

bool set_float_panel_width(FloatPanelWidth width) {
  if (width == FloatPanelWidth::kAvx512 && cpu_float_panel_width() != FloatPanelWidth::kAvx512) return false;
  float_panel_choice().store(width, std::memory_order_relaxed);
  return true;
}

std::string cpu_kernels_label() {
  if (!avx2_enabled()) return "portable";
  std::string label = "AVX2";
  if (float_panel_width_in_use() == FloatPanelWidth::kAvx512) label += ", prefill avx512";
  if (vnni_in_use() != VnniKind::kNone) label += std::string(", quantized prefill ") + vnni_kind_label(vnni_in_use());
  return label;
}

}  // namespace cpu
}  // namespace pagedllm
