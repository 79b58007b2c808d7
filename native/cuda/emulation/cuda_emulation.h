// The CUDA surface a kernel file's device code needs, on the CPU: the qualifiers, thread and block indices, uint4 and
// bf16, warp shuffles and __syncthreads as barriers, and launch(), which runs a grid block after block with a fiber per
// CUDA thread. Include it, then the kernels' .cuh, in a program that checks them (one translation unit per program).
// Fibers run in turn on one OS thread and switch only where a kernel waits for others, so a run is deterministic and
// fast; what it cannot show is the GPU's memory model (a missing barrier between warps may go unseen).
#pragma once
#undef _FORTIFY_SOURCE  // its longjmp check refuses jumps between stacks
#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdint>
#include <cstring>
#include <vector>

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(threads)
#define __shared__ static  // one block runs at a time, so a function's statics are its block's shared memory

struct uint4 {
  uint32_t x, y, z, w;
};
inline uint4 make_uint4(uint32_t x, uint32_t y, uint32_t z, uint32_t w) { return {x, y, z, w}; }
inline uint4 __ldg(const uint4* p) { return *p; }
struct __nv_bfloat16 {
  uint16_t bits;
};
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};
inline Dim3 threadIdx, blockIdx, blockDim, gridDim;

// The block's threads are fibers on one OS thread, switched only where a kernel waits for others: a barrier is a
// counter and a generation, and a thread that must wait yields until the generation moves on.
struct Barrier {
  int size, arrived = 0, generation = 0;
};
void yield_to_scheduler();
inline void arrive_and_wait(Barrier& barrier) {
  const int generation = barrier.generation;
  if (++barrier.arrived == barrier.size) {
    barrier.arrived = 0;
    ++barrier.generation;
    return;
  }
  while (barrier.generation == generation) yield_to_scheduler();
}
struct WarpLanes {
  Barrier sync{32};
  float value[32];
};
inline WarpLanes* this_warp;
inline Barrier* this_block;

// Every lane posts its value, all meet, each reads its partner's, all meet again before the slots are reused.
inline float __shfl_xor_sync(unsigned, float value, int offset) {
  const int lane = threadIdx.x & 31;
  this_warp->value[lane] = value;
  arrive_and_wait(this_warp->sync);
  const float other = this_warp->value[lane ^ offset];
  arrive_and_wait(this_warp->sync);
  return other;
}
inline void __syncthreads() { arrive_and_wait(*this_block); }
inline float __expf(float x) { return std::exp(x); }

namespace pagedllm::cuda {
using std::max;
using std::min;
inline float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline void unpack8(const uint4& v, float (&f)[8], __nv_bfloat16) {
  const uint32_t words[4] = {v.x, v.y, v.z, v.w};
  for (int i = 0; i < 4; ++i) {
    f[2 * i] = bits_to_float(words[i] << 16);
    f[2 * i + 1] = bits_to_float(words[i] & 0xffff0000u);
  }
}
template <typename T>
T from_float(float x);
template <>
inline __nv_bfloat16 from_float<__nv_bfloat16>(float x) {  // round to nearest even (no NaNs here)
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return {uint16_t(bits >> 16)};
}
}  // namespace pagedllm::cuda

// The fibers: each CUDA thread of a block runs on its own stack, entered once through makecontext; after that, switches
// are _setjmp / _longjmp (no signal mask, so no system call: swapcontext's made a run minutes long).
struct Fiber {
  ucontext_t entry;
  jmp_buf resume;
  std::vector<char> stack = std::vector<char>(64 << 10);
  bool started = false, done = false;
};
inline jmp_buf scheduler;
inline Fiber* running;
inline void yield_to_scheduler() {
  if (!_setjmp(running->resume)) _longjmp(scheduler, 1);
}

// Runs `kernel` over the grid, block after block, `threads` fibers per block resumed in turn until all return.
template <typename Kernel>
void launch(Dim3 grid, int threads, const Kernel& kernel) {
  gridDim = grid;
  blockDim = {unsigned(threads), 1, 1};
  std::vector<WarpLanes> warps(threads / 32);
  Barrier block{threads};
  this_block = &block;
  std::vector<Fiber> fibers(threads);
  static const Kernel* body;
  body = &kernel;
  ucontext_t unused;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = {x, y, z};
        for (Fiber& fiber : fibers) {
          fiber.started = fiber.done = false;
          getcontext(&fiber.entry);
          fiber.entry.uc_stack = {fiber.stack.data(), 0, fiber.stack.size()};
          fiber.entry.uc_link = nullptr;  // a fiber never returns: it jumps back to the scheduler when done
          makecontext(&fiber.entry, +[] {
            (*body)();
            running->done = true;
            _longjmp(scheduler, 1);
          }, 0);
        }
        for (int live = threads; live > 0;) {
          live = 0;
          for (int t = 0; t < threads; ++t) {
            Fiber& fiber = fibers[t];
            if (fiber.done) continue;
            running = &fiber;
            threadIdx = {unsigned(t), 1, 1};
            this_warp = &warps[t / 32];
            if (!_setjmp(scheduler)) {
              if (fiber.started) _longjmp(fiber.resume, 1);
              fiber.started = true;
              swapcontext(&unused, &fiber.entry);
            }
            live += fiber.done ? 0 : 1;
          }
        }
      }
}

