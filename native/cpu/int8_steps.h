// The int8 dot-product instructions of the packed prefill kernels (quant_packed_blocks.h, quant_packed_supers.h), as
// the including file is built: VNNI's vpdpbusd / vpdpwssd where it is compiled with -mavxvnni (AVX-VNNI, VEX) or
// -mavx512vnni -mavx512bw (the EVEX form), else none (AVX2: maddubs then madd); and the vector widths the kernels
// take (Ymm in every build, Zmm in the AVX512-VNNI one). The kernels read kVnni and these names only; the files that
// build them are quant_packed_avx2.cpp and quant_packed_*_vnni.cpp.
#pragma once
#include <immintrin.h>

#include <cstdint>

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

// A vector width for the panels: kLanes int32 / fp32 lanes (one output column each in the 32-value panel; 8 per
// column in the K-quant one), with the handful of steps the kernels take. Every fp32 step is per lane, so a lane's
// result does not depend on the width: the Zmm build's outputs are the Ymm builds' bit for bit.
struct Ymm {
  using Int = __m256i;
  using Float = __m256;
  static constexpr int kLanes = 8;
  static Int zero() { return _mm256_setzero_si256(); }
  static Int load(const Int* p) { return _mm256_load_si256(p); }
  static Int broadcast(int32_t x) { return _mm256_set1_epi32(x); }
  // A 256-bit vector in every 256-bit half.
  static Int broadcast_half(const __m256i* p) { return _mm256_load_si256(p); }
  static __m256i half(Int v, int) { return v; }
  static Int sub(Int a, Int b) { return _mm256_sub_epi32(a, b); }
  static Int add16(Int a, Int b) { return _mm256_add_epi16(a, b); }
  static Int maddubs(Int u8, Int s8) { return _mm256_maddubs_epi16(u8, s8); }
  static Int sign8(Int a, Int signs) { return _mm256_sign_epi8(a, signs); }  // no 512-bit form
  static Int dot_quads(Int acc, Int u8, Int s8) { return avx2::dot_quads(acc, u8, s8); }
  static Int dot_pairs16(Int acc, Int a, Int b) { return avx2::dot_pairs16(acc, a, b); }
  static Float fzero() { return _mm256_setzero_ps(); }
  static Float fbroadcast(float x) { return _mm256_set1_ps(x); }
  static Float loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, Float v) { _mm256_storeu_ps(p, v); }
  static Float to_float(Int v) { return _mm256_cvtepi32_ps(v); }
  static Float add(Float a, Float b) { return _mm256_add_ps(a, b); }
  static Float mul(Float a, Float b) { return _mm256_mul_ps(a, b); }
  static Float fmadd(Float a, Float b, Float c) { return _mm256_fmadd_ps(a, b, c); }
};

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
struct Zmm {
  using Int = __m512i;
  using Float = __m512;
  static constexpr int kLanes = 16;
  static Int zero() { return _mm512_setzero_si512(); }
  static Int load(const Int* p) { return _mm512_load_si512(p); }
  static Int broadcast(int32_t x) { return _mm512_set1_epi32(x); }
  static Int broadcast_half(const __m256i* p) { return _mm512_broadcast_i64x4(_mm256_load_si256(p)); }
  static __m256i half(Int v, int h) { return h ? _mm512_extracti64x4_epi64(v, 1) : _mm512_castsi512_si256(v); }
  static Int sub(Int a, Int b) { return _mm512_sub_epi32(a, b); }
  static Int add16(Int a, Int b) { return _mm512_add_epi16(a, b); }
  static Int maddubs(Int u8, Int s8) { return _mm512_maddubs_epi16(u8, s8); }
  static Int dot_quads(Int acc, Int u8, Int s8) { return _mm512_dpbusd_epi32(acc, u8, s8); }
  static Int dot_pairs16(Int acc, Int a, Int b) { return _mm512_dpwssd_epi32(acc, a, b); }
  static Float fzero() { return _mm512_setzero_ps(); }
  static Float fbroadcast(float x) { return _mm512_set1_ps(x); }
  static Float loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, Float v) { _mm512_storeu_ps(p, v); }
  static Float to_float(Int v) { return _mm512_cvtepi32_ps(v); }
  static Float add(Float a, Float b) { return _mm512_add_ps(a, b); }
  static Float mul(Float a, Float b) { return _mm512_mul_ps(a, b); }
  static Float fmadd(Float a, Float b, Float c) { return _mm512_fmadd_ps(a, b, c); }
};
#endif

// Where a packer stores 256-bit half h of a panel vector.
template <typename Int>
inline __m256i* half_of(Int* vector, int h) { return reinterpret_cast<__m256i*>(vector) + h; }

// Lane j: the 8 chains' lane j added as horizontal_sum adds a vector's 8 lanes, so a kernel that keeps one output per
// lane in 8 vectors (one per chain) gets the sums a kernel with 8 chains in one vector's lanes gets.
template <typename V>
inline typename V::Float sums_by_lane(const typename V::Float v[8]) {
  const auto s0 = V::add(v[0], v[4]), s1 = V::add(v[1], v[5]), s2 = V::add(v[2], v[6]), s3 = V::add(v[3], v[7]);
  return V::add(V::add(s0, s2), V::add(s1, s3));
}

}  // namespace

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
