// Runs decode_attention.cuh's kernels on the CPU, so their logic is checked on machines with no GPU: a fiber per CUDA
// thread of a block, a barrier for __syncthreads and another per warp for each shuffle, blocks one after another. bf16 K/V in a shuffled paged pool; every output against float64 on the same rounded inputs. Checks the
// logic (indexing, masks, softmax merges, partitions, the reduce), not speed or the GPU's memory model.
// usage: decode_attention [seed]   (exit 1 on any failed case; test/cuda-decode-emulation.test.ts builds and runs it)
#undef _FORTIFY_SOURCE  // its longjmp check refuses jumps between stacks
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <ucontext.h>
#include <csetjmp>
#include <vector>

// --- The CUDA surface the kernels use ------------------------------------------------------------------------------
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
Dim3 threadIdx, blockIdx;
Dim3 blockDim, gridDim;

// The block's threads are fibers on one OS thread, switched only where a kernel waits for others: a barrier is a
// counter and a generation, and a thread that must wait yields until the generation moves on.
struct Barrier {
  int size, arrived = 0, generation = 0;
};
void yield_to_scheduler();
void arrive_and_wait(Barrier& barrier) {
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
WarpLanes* this_warp;
Barrier* this_block;

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
__nv_bfloat16 from_float<__nv_bfloat16>(float x) {  // round to nearest even (no NaNs here)
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return {uint16_t(bits >> 16)};
}
}  // namespace pagedllm::cuda

#include "../decode_attention.cuh"

using namespace pagedllm::cuda;
using pagedllm::first_visible_position;
using bf16 = __nv_bfloat16;

// The fibers: each CUDA thread of a block runs on its own stack, entered once through makecontext; after that, switches
// are _setjmp / _longjmp (no signal mask, so no system call: swapcontext's made a run minutes long).
struct Fiber {
  ucontext_t entry;
  jmp_buf resume;
  std::vector<char> stack = std::vector<char>(64 << 10);
  bool started = false, done = false;
};
jmp_buf scheduler;
Fiber* running;
void yield_to_scheduler() {
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

double bf16_value(bf16 v) { return bits_to_float(uint32_t(v.bits) << 16); }

struct Case {
  int head_dim, num_heads, num_kv_heads;
  std::vector<int> contexts;  // one decode row per sequence, at its last token
  float softcap = 0.f;
  int window = 0;
  bool alibi = false;
  bool row_list = false;  // launch a subset of the rows by index, as the backend's split does
};

// One case: returns the worst relative L2 error over (row, head) and whether the plan was as `expect_partitions`.
bool run_case(const Case& c, std::mt19937& rng) {
  const int block_size = 16, layers = 2, layer = 1, hd = c.head_dim, kv_heads = c.num_kv_heads;
  const size_t block_elems = size_t(block_size) * kv_heads * hd, block_stride = 2 * layers * block_elems;
  const size_t key_offset = 2 * layer * block_elems, value_offset = key_offset + block_elems;
  const int num_seqs = int(c.contexts.size());
  int max_blocks = 0, total_blocks = 0;
  for (int ctx : c.contexts) {
    max_blocks = std::max(max_blocks, decode_ceil_div(ctx, block_size));
    total_blocks += decode_ceil_div(ctx, block_size);
  }
  std::vector<int32_t> order(total_blocks + 1);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const int32_t released = order.back();  // blocks behind a window point here: NaNs, so any read of one shows
  std::vector<int32_t> tables(size_t(num_seqs) * max_blocks, -1);
  int next = 0;
  for (int s = 0; s < num_seqs; ++s)
    for (int b = 0; b < decode_ceil_div(c.contexts[s], block_size); ++b) tables[size_t(s) * max_blocks + b] = order[next++];
  std::normal_distribution<float> normal;
  std::vector<bf16> pool((total_blocks + 1) * block_stride);
  for (auto& v : pool) v = from_float<bf16>(normal(rng));
  for (size_t i = 0; i < block_stride; ++i) pool[size_t(released) * block_stride + i] = {0x7fc0};
  if (c.window > 0)
    for (int s = 0; s < num_seqs; ++s)
      for (int b = 0; b < first_visible_position(c.contexts[s] - 1, c.window) / block_size; ++b)
        tables[size_t(s) * max_blocks + b] = released;

  const int width = (c.num_heads + 2 * kv_heads) * hd;
  std::vector<float> qkv(size_t(num_seqs) * width);
  for (float& v : qkv) v = normal(rng);
  std::vector<float> slopes(c.num_heads);
  for (int h = 0; h < c.num_heads; ++h) slopes[h] = std::pow(2.f, -float(h + 1) / 2);
  std::vector<int32_t> row_seq(num_seqs), row_kv_len(c.contexts.begin(), c.contexts.end()), rows;
  std::iota(row_seq.begin(), row_seq.end(), 0);
  for (int r = 0; r < num_seqs; ++r)
    if (!c.row_list || r % 3 != 1) rows.push_back(r);  // every row, or two thirds of them by index
  const int launched = int(rows.size());
  int max_kv_len = 0;
  for (int r : rows) max_kv_len = std::max(max_kv_len, row_kv_len[r]);
  const DecodeAttentionPlan plan = plan_decode_attention(launched, c.num_heads, kv_heads, hd, max_kv_len);
  std::vector<float> workspace(size_t(launched) * c.num_heads * plan.partitions * (2 + hd), NAN);  // unwritten partials show
  const PartialLayout partial = partial_layout(workspace.data(), launched, c.num_heads, plan.partitions);
  std::vector<bf16> out(size_t(num_seqs) * c.num_heads * hd, bf16{0x7fc0});
  const double scale = 1 / std::sqrt(double(hd));
  const int32_t* row_list = c.row_list ? rows.data() : nullptr;

  auto run = [&](auto kernel) {
    launch({unsigned(launched), unsigned(c.num_heads / plan.heads_per_block), unsigned(plan.partitions)}, kDecodeWarps * 32, [&] {
      kernel(qkv.data(), width, c.num_heads, pool.data(), block_size, kv_heads, hd, plan.lanes_per_token, int64_t(block_stride),
             int64_t(key_offset), int64_t(value_offset), float(scale), c.softcap, c.window, c.alibi ? slopes.data() : nullptr,
             row_seq.data(), row_kv_len.data(), tables.data(), max_blocks, row_list, plan.partition_tokens, partial, out.data());
    });
  };
  switch (plan.heads_per_block) {  // as attention_kernels.cu
    case 8: run(paged_attention_kernel<bf16, 8, 2>); break;
    case 4: run(paged_attention_kernel<bf16, 4, 3>); break;
    case 2: run(paged_attention_kernel<bf16, 2, 4>); break;
    default: run(paged_attention_kernel<bf16, 1, 4>); break;
  }
  if (plan.partitions > 1)
    launch({unsigned(launched), unsigned(c.num_heads), 1}, 128, [&] {
      paged_attention_reduce_kernel<bf16>(c.num_heads, hd, plan.partitions, plan.partition_tokens, c.window,
                                          row_kv_len.data(), row_list, partial, out.data());
    });

  double worst = 0;
  for (int r : rows) {
    const int s = row_seq[r], kv_len = row_kv_len[r], first = first_visible_position(kv_len - 1, c.window);
    for (int h = 0; h < c.num_heads; ++h) {
      const int kvh = h / (c.num_heads / kv_heads);
      auto at = [&](int t) {
        return size_t(tables[size_t(s) * max_blocks + t / block_size]) * block_stride + size_t(t % block_size) * kv_heads * hd +
               size_t(kvh) * hd;
      };
      std::vector<double> logits(kv_len, -INFINITY);
      double max_logit = -INFINITY;
      for (int t = first; t < kv_len; ++t) {
        double dot = 0;
        for (int d = 0; d < hd; ++d) dot += double(qkv[size_t(r) * width + h * hd + d]) * bf16_value(pool[at(t) + key_offset + d]);
        logits[t] = dot * scale;
        if (c.softcap > 0.f) logits[t] = c.softcap * std::tanh(logits[t] / c.softcap);
        if (c.alibi) logits[t] += double(slopes[h]) * (t - (kv_len - 1));
        max_logit = std::max(max_logit, logits[t]);
      }
      double total = 0, error = 0, norm = 0;
      for (int t = first; t < kv_len; ++t) total += (logits[t] = std::exp(logits[t] - max_logit));
      for (int d = 0; d < hd; ++d) {
        double ref = 0;
        for (int t = first; t < kv_len; ++t) ref += logits[t] / total * bf16_value(pool[at(t) + value_offset + d]);
        const double got = bf16_value(out[(size_t(r) * c.num_heads + h) * hd + d]);
        error += (got - ref) * (got - ref);
        norm += ref * ref;
      }
      const double relative = std::sqrt(error / std::max(norm, 1e-30));
      worst = std::isnan(relative) ? INFINITY : std::max(worst, relative);
    }
  }
  const bool ok = worst <= 8e-3;  // one bf16 rounding of the output, as kernel_checks.cu's bound
  std::printf("%s hd%d heads %d/%d rows %d max ctx %d%s%s%s%s: %d heads/block, %d lanes/token, %d x %d-token partitions: "
              "worst rel L2 %.2e\n",
              ok ? "ok  " : "FAIL", hd, c.num_heads, kv_heads, launched, max_kv_len, c.softcap > 0 ? " softcap" : "",
              c.window > 0 ? (" window " + std::to_string(c.window)).c_str() : "", c.alibi ? " alibi" : "",
              c.row_list ? " row list" : "", plan.heads_per_block, plan.lanes_per_token, plan.partitions,
              plan.partition_tokens, worst);
  return ok;
}

int main(int argc, char** argv) {
  const unsigned seed = argc > 1 ? unsigned(std::strtoul(argv[1], nullptr, 10)) : std::random_device{}();
  std::printf("decode attention on the CPU, seed %u\n", seed);
  std::mt19937 rng(seed);
  std::vector<int> many(96);  // 96 rows to 1100 tokens: a big grid, so 512-token partitions and a reduce
  for (int& ctx : many) ctx = 300 + int(rng() % 801);
  std::vector<int> short_rows(40), long_rows(130);  // one partition each: 256 tokens uncut, 512 for a big grid
  for (int& ctx : short_rows) ctx = 1 + int(rng() % 256);
  for (int& ctx : long_rows) ctx = 257 + int(rng() % 256);
  const std::vector<Case> cases = {
      {128, 8, 2, {1, 37, 700, 1500}},            // GQA group 4 (Llama 3), cut partitions, the reduce
      {64, 4, 4, {20, 300}},                       // no GQA: a head per block
      {32, 8, 4, {33, 2100}},                      // the tiny test model's head shape
      {256, 4, 2, {40, 90, 600}},                  // head_dim 256: 32 lanes per token
      {80, 16, 2, {5, 300, 1030}},                 // 10 of 16 lanes read a token; 8 heads per block
      {256, 16, 2, {70, 513}},                     // group 8 at head_dim 256: cut to 4 heads per block (the merge)
      {16, 6, 2, {3, 260}},                        // group 3: one head per block; 2 lanes per token
      {32, 4, 2, {30, 700}, 0.5f},                 // soft-cap
      {128, 8, 2, {1, 37, 700, 1500}, 0.f, 100},   // sliding window: released blocks are NaN
      {64, 8, 8, {1, 37, 700, 40}, 0.f, 0, true},  // ALiBi
      {64, 2, 1, many},                            // big grid
      {64, 2, 1, many, 0.f, 300, false, true},     // big grid, window, a row list
      {128, 8, 2, short_rows},                     // one partition: the blocks write the output, no reduce
      {32, 2, 1, long_rows, 0.f, 0, true},         // one 512-token partition
  };
  int failed = 0;
  for (const Case& c : cases) failed += run_case(c, rng) ? 0 : 1;
  std::printf("%d of %zu cases failed\n", failed, cases.size());
  return failed ? 1 : 0;
}
