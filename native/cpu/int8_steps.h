// The int8 dot-product instructions of the packed prefill kernels (quant_packed_blocks.h, quant_packed_supers.h), as
// the including file is built: VNNI's vpdpbusd / vpdpwssd where it is compiled with -mavxvnni (AVX-VNNI, VEX) or
// -mavx512vnni -mavx512vl (the EVEX form, on 256-bit vectors), else none (AVX2: maddubs then madd). The kernels read
// kVnni and these names only; the files that build them are quant_packed_avx2.cpp and quant_packed_*_vnni.cpp.
#pragma once
#include <immintrin.h>

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
constexpr bool kVnni = true;
// acc + per int32 lane the sum of 4 products u8 x s8 (VNNI: no int16 step, no saturation).
inline __m256i dot_quads(__m256i acc, __m256i u8, __m256i s8) { return _mm256_dpbusd_epi32(acc, u8, s8); }
// acc + per int32 lane the sum of 2 products s16 x s16 (= acc + madd(a, b)).
inline __m256i dot_pairs16(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_epi32(acc, a, b); }
#elif defined(__AVXVNNI__)
constexpr bool kVnni = true;
inline __m256i dot_quads(__m256i acc, __m256i u8, __m256i s8) { return _mm256_dpbusd_avx_epi32(acc, u8, s8); }
inline __m256i dot_pairs16(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_avx_epi32(acc, a, b); }
#else
constexpr bool kVnni = false;
inline __m256i dot_pairs16(__m256i acc, __m256i a, __m256i b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
// Through an int16 step that saturates where a pair of products passes 32767: callers check their ranges cannot
// (quads_per_madd in quant_packed_blocks.h).
inline __m256i dot_quads(__m256i acc, __m256i u8, __m256i s8) {
  return dot_pairs16(acc, _mm256_maddubs_epi16(u8, s8), _mm256_set1_epi16(1));
}
#endif

}  // namespace

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
