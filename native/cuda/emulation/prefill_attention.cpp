// Runs prefill_attention_kernels.cuh's tiled kernel on the CPU (cuda_emulation.h) against float64, on the prefill
// cases of kernel_checks.cu's check_cache_and_attention: causal chunks cut into 16-row tiles by the backend's own split
// (pagedllm/attention_split.h) over a shuffled paged pool, GQA and MHA, head_dim 256 (the widest rows) and 12 (all
// rows tiles), Gemma 2's scale and soft-cap, sliding windows (released blocks hold NaN, so any read of one shows) and
// ALiBi; bf16 and fp16 pools. Outputs start as NaN; rows the kernel does not own (decode rows) are not compared.
// build: c++ -std=c++17 -O2 -Inative/include native/cuda/emulation/prefill_attention.cpp   usage: prefill_attention [seed]
#include <numeric>

#include "cuda_emulation.h"
#include "emulation_checks.h"

#include "../prefill_attention_kernels.cuh"

using namespace pagedllm::cuda;
using pagedllm::first_visible_position;
using pagedllm::unread_leading_blocks;

struct Case {
  int head_dim, num_heads, num_kv_heads;
  std::vector<int> contexts, query_lens;  // each sequence's last query_lens[s] tokens are its rows
  double scale = 0;                        // 0: 1 / sqrt(head_dim)
  float softcap = 0.f;
  int window = 0;
  bool alibi = false;
};

template <typename T>
void run_case(EmulationChecks& checks, const Case& c, const char* dtype, T (*from)(float), float (*to)(T), double bound) {
  const int hd = c.head_dim, kv_heads = c.num_kv_heads, num_seqs = int(c.contexts.size());
  std::vector<int> unread(num_seqs, 0);
  for (int s = 0; s < num_seqs; ++s)
    if (c.window > 0) unread[s] = unread_leading_blocks(c.contexts[s] - c.query_lens[s], c.window, PagedPool<T>::block_size);
  const PagedPool<T> pool(c.contexts, unread, kv_heads, hd, checks.rng(), from);

  std::vector<int32_t> query_start(num_seqs + 1, 0), row_seq, row_kv_len;
  for (int s = 0; s < num_seqs; ++s) {
    query_start[s + 1] = query_start[s] + c.query_lens[s];
    for (int j = 0; j < c.query_lens[s]; ++j) {
      row_seq.push_back(s);
      row_kv_len.push_back(c.contexts[s] - c.query_lens[s] + j + 1);
    }
  }
  const int rows = int(row_seq.size()), q_width = c.num_heads * hd, width = q_width + 2 * kv_heads * hd;
  const auto qkv = checks.random_floats(size_t(rows) * width, 1.f);
  std::vector<float> slopes(c.num_heads);
  for (int h = 0; h < c.num_heads; ++h) slopes[h] = std::pow(2.f, -float(h + 1));
  const std::vector<int32_t> context_lens(c.contexts.begin(), c.contexts.end());
  const auto split = pagedllm::split_attention_rows(query_start.data(), context_lens.data(), num_seqs, pagedllm::attention_tiles_only(hd));
  const int tiles = int(split.prefill_tiles.size() / 2);
  const double scale = c.scale > 0 ? c.scale : 1 / std::sqrt(double(hd));
  auto out = poisoned<T>(size_t(rows) * q_width);
  launch({unsigned(tiles), unsigned(c.num_heads), 1}, kWarps * 32, [&] {
    prefill_attention_kernel<T>(qkv.data(), width, c.num_heads, pool.values.data(), pool.block_size, kv_heads, hd,
                                int64_t(pool.block_stride), int64_t(pool.key_offset), int64_t(pool.value_offset), float(scale),
                                c.softcap, c.window, c.alibi ? slopes.data() : nullptr, row_seq.data(), row_kv_len.data(),
                                pool.tables.data(), pool.max_blocks,
                                split.prefill_tiles.data(), out.data());
  }, prefill_shared_bytes(hd, sizeof(T)));

  std::vector<T> got;
  std::vector<double> ref;
  for (int tile = 0; tile < tiles; ++tile)
    for (int r = split.prefill_tiles[2 * tile]; r < split.prefill_tiles[2 * tile] + split.prefill_tiles[2 * tile + 1]; ++r)
      for (int h = 0; h < c.num_heads; ++h) {
        const int s = row_seq[r], kvh = h / (c.num_heads / kv_heads), kv_len = row_kv_len[r];
        const int first = first_visible_position(kv_len - 1, c.window);
        const std::vector<double> head = attention_reference(
            &qkv[size_t(r) * width + h * hd], hd, first, kv_len, scale, c.softcap, c.alibi ? double(slopes[h]) : 0.0,
            [&](int t, int d) { return double(to(pool.values[pool.at(s, kvh, t) + pool.key_offset + d])); },
            [&](int t, int d) { return double(to(pool.values[pool.at(s, kvh, t) + pool.value_offset + d])); });
        for (int d = 0; d < hd; ++d) {
          ref.push_back(head[d]);
          got.push_back(out[(size_t(r) * c.num_heads + h) * hd + d]);
        }
      }
  int max_ctx = 0;
  for (int ctx : c.contexts) max_ctx = std::max(max_ctx, ctx);
  const std::string name = std::string(dtype) + " hd" + std::to_string(hd) + " heads " + std::to_string(c.num_heads) + "/" +
                           std::to_string(kv_heads) + " max ctx " + std::to_string(max_ctx) + ", " + std::to_string(tiles) +
                           " tiles" + (c.softcap > 0 ? " softcap" : "") +
                           (c.window > 0 ? " window " + std::to_string(c.window) : "") + (c.alibi ? " alibi" : "");
  checks.report(name, got, ref, bound, [&](T v) { return double(to(v)); });
}

int main(int argc, char** argv) {
  EmulationChecks checks("prefill attention", argc, argv);
  const double gemma2_scale = 1 / std::sqrt(24.0);
  const std::vector<Case> cases = {
      {128, 8, 2, {1, 37, 700, 1500}, {1, 1, 1, 5}},                   // a 5-row chunk at 1500 tokens; GQA group 4
      {64, 4, 4, {20, 300}, {20, 3}},                                  // MHA, a chunk from token 0
      {32, 8, 4, {33, 2100}, {33, 1}},                                 // the tiny test model's head shape: 3 tiles
      {256, 4, 2, {40, 90, 600}, {40, 17, 1}},                         // head_dim 256: 8 dims a lane
      {80, 16, 2, {5, 300, 1030}, {1, 1, 7}},                          // 80: lanes past the head in the last pass
      {32, 4, 2, {30, 700}, {30, 1}, gemma2_scale, 0.5f},              // Gemma 2's scale and soft-cap
      {12, 4, 2, {1, 45, 300}, {1, 45, 1}},                            // head_dim 12: decode rows are one-row tiles
      {128, 8, 2, {1, 37, 700, 1500}, {1, 1, 1, 5}, 0, 0.f, 100},      // window: 87 released blocks before the chunk
      {64, 4, 4, {45, 300}, {45, 40}, 0, 0.f, 7},                      // window moving inside one tile; after 260 tokens
      {32, 4, 2, {30, 700}, {30, 1}, gemma2_scale, 0.5f, 16},          // soft-cap with a window
      {12, 4, 2, {1, 45, 300}, {1, 45, 1}, 0, 0.f, 20},                // window, tiles only
      {64, 8, 8, {1, 37, 700, 40}, {1, 1, 1, 40}, 0, 0.f, 0, true},    // ALiBi
  };
  for (const Case& c : cases)
    run_case<__nv_bfloat16>(checks, c, "bf16", __float2bfloat16_rn, __bfloat162float, 8e-3);  // kernel_checks.cu's bounds
  for (const int i : {1, 8, 11}) run_case<__half>(checks, cases[i], "f16", __float2half_rn, __half2float, 2e-3);
  return checks.finish();
}
