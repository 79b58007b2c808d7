// The FMA loop for the peak-FLOP/s ceiling: 12 independent accumulator chains hide the 4-cycle FMA latency
// at 2 FMAs per cycle, the most a Zen 3 / Skylake core can issue.
#include <immintrin.h>

#include "kernels_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

float fma_chains(long iterations) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 mul = _mm256_set1_ps(0.999999f);
  const __m256 add = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iterations; ++it) {
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
    // Keeps the compiler from collapsing iterations while costing nothing at run time.
    __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]), "+x"(acc[4]), "+x"(acc[5]),
                     "+x"(acc[6]), "+x"(acc[7]), "+x"(acc[8]), "+x"(acc[9]), "+x"(acc[10]), "+x"(acc[11]));
  }
  __m256 total = acc[0];
  for (int i = 1; i < 12; ++i) total = _mm256_add_ps(total, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, total);
  return lanes[0] + lanes[7];
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
