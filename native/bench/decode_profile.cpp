// Per-op timing of one batch-1 decode step (the CPU backend's op sequence on random weights of the bench preset's
// shape), to see where a step's time goes: bytes streamed by the GEMVs against fixed costs between them.
// Build and run: scripts/decode-profile.sh [format] [threads] [context] [steps] (not part of the addon); also
// `sweep FORMAT THREADS K` (GEMV rate against matrix size) and `pool THREADS` (hand-off cost, start/stop check).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels.h"

using namespace pagedllm;
using namespace pagedllm::cpu;

namespace {

struct Shape {
  int hidden = 512, inter = 1536, layers = 8, heads = 8, kv_heads = 4, vocab = 32000;
};

WeightFormat parse_format(const std::string& name) {
  if (name == "f32") return WeightFormat::F32;
  if (name == "f16") return WeightFormat::F16;
  if (name == "bf16") return WeightFormat::BF16;
  if (name == "q8_0") return WeightFormat::Q8_0;
  if (name == "q4_0") return WeightFormat::Q4_0;
  if (name == "q4_k") return WeightFormat::Q4_K;
  if (name == "q6_k") return WeightFormat::Q6_K;
  std::fprintf(stderr, "unknown format %s\n", name.c_str());
  std::exit(2);
}

void random_matrix(WeightMatrix& w, WeightFormat format, int rows, int cols, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
  std::vector<float> values(static_cast<size_t>(rows) * cols);
  for (float& v : values) v = dist(rng);
  w.resize(format, rows, cols);
  w.store_rows(0, rows, values.data());
}

struct Layer {
  WeightMatrix qkv, o, gate_up, down;
  std::vector<float> norm1, norm2;
};

enum Op { kNorm, kQkv, kRope, kCache, kAttention, kOProj, kNorm2, kGateUp, kSilu, kDown, kFinalNorm, kLmHead, kNumOps };
const char* kOpNames[kNumOps] = {"input norm", "qkv_proj", "rotary q+k", "reshape_and_cache", "paged_attention",
                                 "o_proj", "post-attn norm", "gate_up_proj", "silu_and_mul", "down_proj",
                                 "final norm", "lm_head"};

double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// GEMV time against matrix size: copies of [rows x cols] adding up to ~96 MB (so each call reads from memory, as in a
// step), rows swept; a straight line through (bytes, us) gives the fixed cost per call and the streaming rate.
int sweep(WeightFormat format, int threads, int cols) {
  ThreadPool pool(threads);
  std::mt19937 rng(2);
  std::vector<float> x(cols, 0.5f), y(32768);
  std::printf("%8s %10s %10s %10s %8s\n", "rows", "KB", "median us", "best us", "GB/s");
  for (int rows : {128, 256, 512, 1024, 2048, 4096, 8192, 32000}) {
    const int copies = std::max(2, static_cast<int>(96e6 / (static_cast<double>(rows) * cols * 2)));
    std::vector<WeightMatrix> mats(copies);
    for (WeightMatrix& w : mats) random_matrix(w, format, rows, cols, rng);
    std::vector<double> times;
    for (int rep = 0; rep < 60; ++rep) {
      for (WeightMatrix& w : mats) {
        const double start = now_us();
        linear(pool, x.data(), 1, w, nullptr, y.data());
        times.push_back(now_us() - start);
      }
    }
    std::sort(times.begin(), times.end());
    const double m = times[times.size() / 2];
    std::printf("%8d %10.0f %10.1f %10.1f %8.1f\n", rows, mats[0].bytes() / 1e3, m, times[0], mats[0].bytes() / m / 1e3);
  }
  return 0;
}

// The pool's hand-off: parallel_for over one task per thread, each task ~1 us of work, back to back and with gaps
// that let the workers fall asleep (checks every task ran once; a lost wake-up would hang here).
int pool_check(int threads) {
  ThreadPool pool(threads);
  std::vector<int> hits(pool.size());
  auto work = [&](int task) {
    volatile double sink = 0;
    for (int i = 0; i < 300; ++i) sink = sink + i * 0.5;
    ++hits[task];
  };
  for (int gap_us : {0, 50, 150, 400}) {
    std::vector<double> times;
    for (int i = 0; i < (gap_us ? 3000 : 30000); ++i) {
      if (gap_us) std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
      const double start = now_us();
      pool.parallel_for(pool.size(), work);
      times.push_back(now_us() - start);
    }
    std::sort(times.begin(), times.end());
    std::printf("gap %3d us: parallel_for median %.2f us, p90 %.2f us\n", gap_us, times[times.size() / 2], times[times.size() * 9 / 10]);
  }
  for (int h : hits) {
    if (h != hits[0]) return std::printf("task counts differ\n"), 1;
  }
  // Pools started and stopped while workers spin, sleep or are being woken.
  for (int i = 0; i < 300; ++i) {
    ThreadPool short_lived(threads + i % 3);
    if (i % 2) std::this_thread::sleep_for(std::chrono::microseconds(i % 7 * 40));
    short_lived.parallel_for(5, [](int) {});
  }
  std::printf("pool start/stop cycles done\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "pool") return pool_check(argc > 2 ? std::atoi(argv[2]) : 2);
  if (argc > 1 && std::string(argv[1]) == "sweep") {
    return sweep(parse_format(argc > 2 ? argv[2] : "f16"), argc > 3 ? std::atoi(argv[3]) : 2, argc > 4 ? std::atoi(argv[4]) : 512);
  }
  const WeightFormat format = parse_format(argc > 1 ? argv[1] : "f16");
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int context = argc > 3 ? std::atoi(argv[3]) : 64;
  const int steps = argc > 4 ? std::atoi(argv[4]) : 400;
  const Shape s;
  const int head_dim = s.hidden / s.heads, q_width = s.heads * head_dim, kv_width = s.kv_heads * head_dim;
  const int qkv_width = q_width + 2 * kv_width;
  std::mt19937 rng(1);
  std::vector<Layer> layers(s.layers);
  size_t layer_bytes[kNumOps] = {};
  for (Layer& l : layers) {
    random_matrix(l.qkv, format, qkv_width, s.hidden, rng);
    random_matrix(l.o, format, s.hidden, q_width, rng);
    random_matrix(l.gate_up, format, 2 * s.inter, s.hidden, rng);
    random_matrix(l.down, format, s.hidden, s.inter, rng);
    l.norm1.assign(s.hidden, 1.f);
    l.norm2.assign(s.hidden, 1.f);
    layer_bytes[kQkv] += l.qkv.bytes(), layer_bytes[kOProj] += l.o.bytes();
    layer_bytes[kGateUp] += l.gate_up.bytes(), layer_bytes[kDown] += l.down.bytes();
  }
  WeightMatrix lm_head;
  random_matrix(lm_head, format, s.vocab, s.hidden, rng);
  layer_bytes[kLmHead] = lm_head.bytes();
  size_t total_bytes = 0;
  for (size_t b : layer_bytes) total_bytes += b;

  const KvLayout layout{16, s.kv_heads, head_dim};
  const int blocks = (context + 15) / 16 + 1;
  std::vector<HugeBuffer> k_cache, v_cache;
  for (int l = 0; l < s.layers; ++l) {
    k_cache.emplace_back(layout.block_floats() * blocks * 4);
    v_cache.emplace_back(layout.block_floats() * blocks * 4);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    for (size_t i = 0; i < layout.block_floats() * blocks; ++i) {
      static_cast<float*>(k_cache.back().data())[i] = dist(rng);
      static_cast<float*>(v_cache.back().data())[i] = dist(rng);
    }
  }
  std::vector<int32_t> block_table(blocks);
  for (int i = 0; i < blocks; ++i) block_table[i] = i;
  const int32_t position = context - 1, slot = position, query_start[2] = {0, 1};
  const AttentionBatch attention_batch{1, query_start, &position, block_table.data(), blocks};
  ModelConfig config;
  config.head_dim = head_dim;
  const std::vector<double> inv_freq = rope_inv_freq(config);

  std::vector<float> residual(s.hidden, 0.1f), hidden(s.hidden), qkv(qkv_width), attn(q_width), gate_up(2 * s.inter),
      activated(s.inter), cos_sin(head_dim), logits(s.vocab);
  ThreadPool pool(threads);
  std::vector<std::vector<double>> op_times(kNumOps);
  std::vector<double> step_times;
  for (int step = 0; step < steps; ++step) {
    double t[kNumOps] = {};
    double mark = now_us();
    const double step_start = mark;
    auto lap = [&](Op op) {
      const double current = now_us();
      t[op] += current - mark;
      mark = current;
    };
    std::fill(residual.begin(), residual.end(), 0.1f);
    rope_cos_sin(&position, 1, inv_freq, cos_sin.data());
    for (int li = 0; li < s.layers; ++li) {
      Layer& l = layers[li];
      if (li == 0) rms_norm(pool, residual.data(), l.norm1.data(), hidden.data(), 1, s.hidden, 1e-5f);
      else fused_add_rms_norm(pool, hidden.data(), residual.data(), l.norm1.data(), 1, s.hidden, 1e-5f);
      lap(kNorm);
      linear(pool, hidden.data(), 1, l.qkv, nullptr, qkv.data());
      lap(kQkv);
      rotary(pool, qkv.data(), 1, qkv_width, s.heads, head_dim, cos_sin.data());
      rotary(pool, qkv.data() + q_width, 1, qkv_width, s.kv_heads, head_dim, cos_sin.data());
      lap(kRope);
      reshape_and_cache(qkv.data() + q_width, qkv.data() + q_width + kv_width, qkv_width,
                        static_cast<float*>(k_cache[li].data()), static_cast<float*>(v_cache[li].data()), &slot, 1, layout);
      lap(kCache);
      paged_attention(pool, qkv.data(), qkv_width, static_cast<float*>(k_cache[li].data()),
                      static_cast<float*>(v_cache[li].data()), attention_batch, s.heads, layout,
                      1.f / std::sqrt(static_cast<float>(head_dim)), attn.data());
      lap(kAttention);
      linear(pool, attn.data(), 1, l.o, nullptr, hidden.data());
      lap(kOProj);
      fused_add_rms_norm(pool, hidden.data(), residual.data(), l.norm2.data(), 1, s.hidden, 1e-5f);
      lap(kNorm2);
      linear(pool, hidden.data(), 1, l.gate_up, nullptr, gate_up.data());
      lap(kGateUp);
      silu_and_mul(pool, gate_up.data(), activated.data(), 1, s.inter);
      lap(kSilu);
      linear(pool, activated.data(), 1, l.down, nullptr, hidden.data());
      lap(kDown);
    }
    fused_add_rms_norm(pool, hidden.data(), residual.data(), layers[0].norm1.data(), 1, s.hidden, 1e-5f);
    lap(kFinalNorm);
    linear(pool, hidden.data(), 1, lm_head, nullptr, logits.data());
    lap(kLmHead);
    if (step >= steps / 10) {  // the first tenth warms up
      for (int op = 0; op < kNumOps; ++op) op_times[op].push_back(t[op]);
      step_times.push_back(mark - step_start);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double step_median = median(step_times);
  const double step_best = *std::min_element(step_times.begin(), step_times.end());
  std::printf("format %s, %d threads, context %d, %zu steps timed; weights streamed %.1f MB\n", argv[1] ? argv[1] : "f16",
              pool.size(), context, step_times.size(), total_bytes / 1e6);
  std::printf("%-18s %10s %8s %10s\n", "op (all layers)", "median us", "share", "GB/s");
  double sum_of_medians = 0;
  for (int op = 0; op < kNumOps; ++op) {
    const double m = median(op_times[op]);
    sum_of_medians += m;
    std::printf("%-18s %10.1f %7.1f%% %10s\n", kOpNames[op], m, 100 * m / step_median,
                layer_bytes[op] ? std::to_string(layer_bytes[op] / m / 1e3).substr(0, 5).c_str() : "-");
  }
  std::printf("step: median %.1f us (%.1f GB/s), best %.1f us (%.1f GB/s); sum of op medians %.1f us\n", step_median,
              total_bytes / step_median / 1e3, step_best, total_bytes / step_best / 1e3, sum_of_medians);
  // Attention alone, its K/V in cache: what the kernel costs without the step's memory traffic.
  std::vector<double> alone;
  for (int round = 0; round < 20; ++round) {
    const double start = now_us();
    for (int i = 0; i < 100; ++i) {
      paged_attention(pool, qkv.data(), qkv_width, static_cast<float*>(k_cache[0].data()),
                      static_cast<float*>(v_cache[0].data()), attention_batch, s.heads, layout,
                      1.f / std::sqrt(static_cast<float>(head_dim)), attn.data());
    }
    alone.push_back((now_us() - start) / 100);
  }
  std::printf("paged_attention of one layer alone (K/V in cache): median %.1f us, best %.1f us\n", median(alone),
              *std::min_element(alone.begin(), alone.end()));
  // And with its K/V evicted first (a 64 MB read in between), as in a step, where the weights stream through the caches.
  std::vector<float> evict(16 << 20, 1.f);
  alone.clear();
  for (int round = 0; round < 60; ++round) {
    volatile float sink = 0;
    for (size_t i = 0; i < evict.size(); i += 16) sink = sink + evict[i];
    const double start = now_us();
    paged_attention(pool, qkv.data(), qkv_width, static_cast<float*>(k_cache[0].data()),
                    static_cast<float*>(v_cache[0].data()), attention_batch, s.heads, layout,
                    1.f / std::sqrt(static_cast<float>(head_dim)), attn.data());
    alone.push_back(now_us() - start);
  }
  std::printf("paged_attention of one layer alone (K/V from memory): median %.1f us, best %.1f us\n", median(alone),
              *std::min_element(alone.begin(), alone.end()));
  double best_read = 0;
  for (int i = 0; i < 5; ++i) best_read = std::max(best_read, measure_read_bandwidth(pool, 256 << 20, 3));
  std::printf("read ceiling (%d threads, best of 5): %.1f GB/s; step median at %.0f%%, best at %.0f%%\n", pool.size(),
              best_read / 1e9, 100 * total_bytes / step_median / 1e3 / (best_read / 1e9),
              100 * total_bytes / step_best / 1e3 / (best_read / 1e9));
  return 0;
}
