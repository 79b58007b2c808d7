// Runs decode_attention.cuh's kernels on the CPU (cuda_emulation.h), so their logic is checked on machines with no GPU:
// bf16 K/V in a shuffled paged pool, every output against float64 on the same rounded inputs. Checks the logic
// (indexing, masks, softmax merges, partitions, the reduce), not speed.
// build: g++ -std=c++17 -O2 -Wno-unknown-pragmas -Inative/include native/cuda/emulation/decode_attention.cpp
// usage: decode_attention [seed]   (exit 1 on any failed case; test/cuda-emulation.test.ts builds and runs it)
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>

#include "cuda_emulation.h"
#include "emulation_checks.h"

#include "../decode_attention.cuh"

using namespace pagedllm::cuda;
using pagedllm::first_visible_position;
using bf16 = __nv_bfloat16;

double bf16_value(bf16 v) { return __bfloat162float(v); }

struct Case {
  int head_dim, num_heads, num_kv_heads;
  std::vector<int> contexts;  // one decode row per sequence, at its last token
  float softcap = 0.f;
  int window = 0;
  bool alibi = false;
  bool row_list = false;  // launch a subset of the rows by index, as the backend's split does
  // Planned as a decode graph step: for the end of its key's 256-token band (pagedllm/decode_partitions.h), so that
  // partitions past every row's context are launched too.
  bool graph_band = false;
};

// One case: every launched row and head against float64; prints the plan and the worst relative L2 error.
bool run_case(const Case& c, std::mt19937& rng) {
  const int hd = c.head_dim, kv_heads = c.num_kv_heads, num_seqs = int(c.contexts.size());
  std::vector<int> unread(num_seqs, 0);
  for (int s = 0; s < num_seqs; ++s) unread[s] = first_visible_position(c.contexts[s] - 1, c.window) / PagedPool<bf16>::block_size;
  const PagedPool<bf16> pool(c.contexts, unread, kv_heads, hd, rng, from_float<bf16>);
  std::normal_distribution<float> normal;

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
  const int planned_kv_len = c.graph_band ? pagedllm::decode_graph_key(launched, max_kv_len).covered_tokens() : max_kv_len;
  const DecodeAttentionPlan plan = plan_decode_attention(launched, c.num_heads, kv_heads, hd, planned_kv_len);
  std::vector<float> workspace(size_t(launched) * c.num_heads * plan.partitions * (2 + hd), NAN);  // unwritten partials show
  const PartialLayout partial = partial_layout(workspace.data(), launched, c.num_heads, plan.partitions);
  std::vector<bf16> out(size_t(num_seqs) * c.num_heads * hd, bf16{0x7fc0});
  const double scale = 1 / std::sqrt(double(hd));
  const int32_t* row_list = c.row_list ? rows.data() : nullptr;

  auto run = [&](auto kernel) {
    launch({unsigned(launched), unsigned(c.num_heads / plan.heads_per_block), unsigned(plan.partitions)}, kDecodeWarps * 32, [&] {
      kernel(qkv.data(), width, c.num_heads, pool.values.data(), pool.block_size, kv_heads, hd, plan.lanes_per_token,
             int64_t(pool.block_stride), int64_t(pool.key_offset), int64_t(pool.value_offset), float(scale), c.softcap, c.window,
             c.alibi ? slopes.data() : nullptr, row_seq.data(), row_kv_len.data(), pool.tables.data(), pool.max_blocks, row_list,
             plan.partition_tokens, partial, out.data());
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
      const std::vector<double> ref = attention_reference(
          &qkv[size_t(r) * width + h * hd], hd, first, kv_len, scale, c.softcap, c.alibi ? double(slopes[h]) : 0.0,
          [&](int t, int d) { return bf16_value(pool.values[pool.at(s, kvh, t) + pool.key_offset + d]); },
          [&](int t, int d) { return bf16_value(pool.values[pool.at(s, kvh, t) + pool.value_offset + d]); });
      double error = 0, norm = 0;
      for (int d = 0; d < hd; ++d) {
        const double got = bf16_value(out[(size_t(r) * c.num_heads + h) * hd + d]);
        error += (got - ref[d]) * (got - ref[d]);
        norm += ref[d] * ref[d];
      }
      const double relative = std::sqrt(error / std::max(norm, 1e-30));
      worst = std::isnan(relative) ? INFINITY : std::max(worst, relative);
    }
  }
  const bool ok = worst <= 8e-3;  // one bf16 rounding of the output, as kernel_checks.cu's bound
  std::printf("%s hd%d heads %d/%d rows %d max ctx %d%s%s%s%s%s: %d heads/block, %d lanes/token, %d x %d-token partitions: "
              "worst rel L2 %.2e\n",
              ok ? "ok  " : "FAIL", hd, c.num_heads, kv_heads, launched, max_kv_len, c.softcap > 0 ? " softcap" : "",
              c.window > 0 ? (" window " + std::to_string(c.window)).c_str() : "", c.alibi ? " alibi" : "",
              c.row_list ? " row list" : "", c.graph_band ? " graph band" : "", plan.heads_per_block, plan.lanes_per_token, plan.partitions,
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
      // A graph step at 65 tokens: 4 x 64-token partitions planned for its band, the last 2 empty in every row.
      {64, 8, 2, {30, 65, 12, 64, 50, 1, 40, 20}, 0.f, 0, false, false, true},
      {128, 8, 2, {65, 200, 9, 130}, 0.f, 8, false, false, true},  // and a window of 8: partitions before it skipped too
  };
  int failed = 0;
  for (const Case& c : cases) failed += run_case(c, rng) ? 0 : 1;
  std::printf("%d of %zu cases failed\n", failed, cases.size());
  return failed ? 1 : 0;
}
