// The CUDA surface a kernel file's device code needs, on the CPU: the qualifiers, thread and block indices, uint4 and
// float4, bf16 and fp16, the conversion and _rn intrinsics, typed warp shuffles and __syncthreads as barriers, integer
// and float atomicAdd, dynamic shared memory, cuda_device_helpers.cuh's helpers themselves, and launch(), which runs a
// grid block after block with a fiber per CUDA thread. Include it, then the kernels' .cuh, in a program that checks
// them (one translation unit per program).
// Fibers run in turn on one OS thread and switch only where a kernel waits for others, so a run is deterministic and
// fast. Every other block runs its threads in reverse, so a missing barrier shows when the value read is not yet
// written in one of the orders (shared memory starts as NaN bytes); what it cannot show is the GPU's memory model
// (reordered or cached writes between barriers).
#pragma once
#undef _FORTIFY_SOURCE  // its longjmp check refuses jumps between stacks
#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static  // one block runs at a time, so a function's statics are its block's shared memory
// A launch's dynamic shared memory: one buffer, sized by launch(), handed to the block that runs.
inline std::vector<unsigned char> dynamic_shared_memory;
#define PAGEDLLM_DYNAMIC_SHARED(type, name) type* const name = reinterpret_cast<type*>(dynamic_shared_memory.data())

struct uint4 {
  uint32_t x, y, z, w;
};
struct float4 {
  float x, y, z, w;
};
inline uint4 make_uint4(uint32_t x, uint32_t y, uint32_t z, uint32_t w) { return {x, y, z, w}; }
template <typename V>
V __ldg(const V* p) {
  return *p;
}
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};
inline Dim3 threadIdx, blockIdx, blockDim, gridDim;

// The conversion and rounding intrinsics. The _rn arithmetic is plain C++ arithmetic: programs build with -std=c++17,
// whose -ffp-contract=off keeps every product and sum rounded on its own, as the intrinsics promise.
template <typename To, typename From>
To bit_cast_to(From from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}
inline float __uint_as_float(uint32_t bits) { return bit_cast_to<float>(bits); }
inline float __int_as_float(int32_t bits) { return bit_cast_to<float>(bits); }
inline uint32_t __float_as_uint(float x) { return bit_cast_to<uint32_t>(x); }
inline int32_t __float_as_int(float x) { return bit_cast_to<int32_t>(x); }
struct __nv_bfloat16 {
  uint16_t bits;
};
struct __half {
  uint16_t bits;
};
inline float __bfloat162float(__nv_bfloat16 x) { return __uint_as_float(uint32_t(x.bits) << 16); }
inline __nv_bfloat16 __float2bfloat16_rn(float x) {  // round to nearest even; NaN stays a (quiet) NaN
  const uint32_t bits = __float_as_uint(x);
  if (std::isnan(x)) return {uint16_t((bits >> 16) | 0x40)};
  return {uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16)};
}
inline float __half2float(__half x) { return float(bit_cast_to<_Float16>(x.bits)); }
inline __half __float2half_rn(float x) { return {bit_cast_to<uint16_t>(static_cast<_Float16>(x))}; }  // nearest even
inline __half __ushort_as_half(unsigned short bits) { return {bits}; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }

// The block's threads are fibers on one OS thread, switched only where a kernel waits for others: a barrier is a
// counter and a generation, and a thread that must wait yields until the generation moves on. A thread that returns
// leaves its barriers (as on the GPU, an exited thread no longer holds __syncthreads back).
struct Barrier {
  int size, arrived = 0, generation = 0;
};
inline long barrier_arrivals;  // the scheduler's progress check: no arrival and no exit in a whole pass is a deadlock
void yield_to_scheduler();
inline void arrive_and_wait(Barrier& barrier) {
  const int generation = barrier.generation;
  ++barrier_arrivals;
  if (++barrier.arrived == barrier.size) {
    barrier.arrived = 0;
    ++barrier.generation;
    return;
  }
  while (barrier.generation == generation) yield_to_scheduler();
}
inline void leave(Barrier& barrier) {
  if (--barrier.size > 0 && barrier.arrived == barrier.size) {
    barrier.arrived = 0;
    ++barrier.generation;
  }
}
struct WarpLanes {
  Barrier sync{32};
  alignas(8) unsigned char value[32][8];
  bool exited[32] = {};
};
inline WarpLanes* this_warp;
inline Barrier* this_block;

// Every lane posts its value, all meet, each reads its source lane's, all meet again before the slots are reused.
// A source lane that has returned reads as NaN bytes (undefined on the GPU), so a shuffle from one shows.
template <typename V, typename SourceLane>
V warp_shuffle(V value, SourceLane source_lane) {
  static_assert(sizeof(V) <= 8);
  const int lane = threadIdx.x & 31, source = source_lane(lane);
  std::memcpy(this_warp->value[lane], &value, sizeof(V));
  arrive_and_wait(this_warp->sync);
  V other;
  if (this_warp->exited[source]) std::memset(&other, 0xff, sizeof(V));
  else std::memcpy(&other, this_warp->value[source], sizeof(V));
  arrive_and_wait(this_warp->sync);
  return other;
}
template <typename V>
V __shfl_xor_sync(unsigned, V value, int mask) {
  return warp_shuffle(value, [&](int lane) { return (lane ^ mask) & 31; });
}
template <typename V>
V __shfl_sync(unsigned, V value, int source) {
  return warp_shuffle(value, [&](int) { return source & 31; });
}
template <typename V>
V __shfl_down_sync(unsigned, V value, unsigned delta) {
  return warp_shuffle(value, [&](int lane) { return lane + int(delta) < 32 ? lane + int(delta) : lane; });
}
inline void __syncwarp(unsigned = 0xffffffffu) { arrive_and_wait(this_warp->sync); }
inline void __syncthreads() { arrive_and_wait(*this_block); }
// Fibers switch only at barriers, so a read-modify-write is already atomic.
template <typename V>
V atomicAdd(V* address, V value) {
  const V old = *address;
  *address = old + value;
  return old;
}

namespace pagedllm::cuda {
using std::max;
using std::min;
}  // namespace pagedllm::cuda
#include "../cuda_device_helpers.cuh"

// The fibers: each CUDA thread of a block runs on its own stack, entered once per launch through makecontext; after
// that, switches are _setjmp / _longjmp (no signal mask, so no system call: swapcontext's made a run minutes long). A
// fiber runs the kernel once per block: done, it waits at the scheduler until the next block resumes it.
struct Fiber {
  ucontext_t entry;
  jmp_buf resume;
  static constexpr size_t kStackBytes = 64 << 10;
  std::unique_ptr<char[]> stack{new char[kStackBytes]};  // not zeroed: only the pages a thread uses are touched
  bool has_context = false, started = false, done = false;
};
inline jmp_buf scheduler;
inline Fiber* running;
inline void yield_to_scheduler() {
  if (!_setjmp(running->resume)) _longjmp(scheduler, 1);
}

// Runs `kernel` over the grid, block after block, `threads` fibers per block resumed in turn until all return;
// `shared_bytes` of dynamic shared memory (NaN bytes at each block's start, so a read of an unwritten float shows). A pass in
// which no thread arrives at a barrier or returns is a deadlock (a barrier some threads never reach): it aborts.
template <typename Kernel>
void launch(Dim3 grid, int threads, const Kernel& kernel, size_t shared_bytes = 0) {
  gridDim = grid;
  blockDim = {unsigned(threads), 1, 1};
  dynamic_shared_memory.resize(shared_bytes);
  std::vector<WarpLanes> warps((threads + 31) / 32);
  Barrier block{threads};
  this_block = &block;
  // Their stacks are kept from launch to launch; a deque, as a ucontext_t points into itself and must never move.
  static std::deque<Fiber> fibers;
  if (fibers.size() < size_t(threads)) fibers.resize(threads);
  static const Kernel* body;
  body = &kernel;
  for (int t = 0; t < threads; ++t) {
    Fiber& fiber = fibers[t];
    if (!fiber.has_context) getcontext(&fiber.entry);
    fiber.has_context = true;
    fiber.started = false;
    fiber.entry.uc_stack = {fiber.stack.get(), 0, Fiber::kStackBytes};
    fiber.entry.uc_link = nullptr;  // a fiber never returns: it waits at the scheduler for the next block
    makecontext(&fiber.entry, +[] {
      for (;;) {
        (*body)();
        running->done = true;
        yield_to_scheduler();
      }
    }, 0);
  }
  ucontext_t unused;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = {x, y, z};
        std::fill(dynamic_shared_memory.begin(), dynamic_shared_memory.end(), 0xff);
        block = Barrier{threads};
        for (size_t w = 0; w < warps.size(); ++w) {
          warps[w].sync = Barrier{std::min(32, threads - int(w) * 32)};
          std::fill(std::begin(warps[w].exited), std::end(warps[w].exited), false);
        }
        for (int t = 0; t < threads; ++t) fibers[t].done = false;
        // Every other block runs its threads last to first: a read of another thread's write with no barrier between
        // them then finds the value unwritten in one of the two orders.
        const bool descending = (x + y + z) % 2 == 1;
        for (int live = threads; live > 0;) {
          const long arrivals = barrier_arrivals;
          const int was_live = live;
          live = 0;
          for (int k = 0; k < threads; ++k) {
            const int t = descending ? threads - 1 - k : k;
            Fiber& fiber = fibers[t];
            if (fiber.done) continue;
            running = &fiber;
            threadIdx = {unsigned(t), 0, 0};
            this_warp = &warps[t / 32];
            if (!_setjmp(scheduler)) {
              if (fiber.started) _longjmp(fiber.resume, 1);
              fiber.started = true;
              swapcontext(&unused, &fiber.entry);
            }
            if (fiber.done) {
              this_warp->exited[t & 31] = true;
              leave(this_warp->sync);
              leave(block);
            } else {
              ++live;
            }
          }
          if (live > 0 && live == was_live && barrier_arrivals == arrivals) {
            std::fprintf(stderr, "deadlock: %d threads of block (%u, %u, %u) wait at a barrier the rest never reach\n", live,
                         x, y, z);
            std::abort();
          }
        }
      }
}
