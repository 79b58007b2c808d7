// What the emulation programs share: seeded random inputs, NaN-poisoned outputs (an unwritten element fails), and the
// report of one case as kernel_checks.cu makes it (relative L2 against float64 under a bound; any non-finite value
// fails), printed as an "ok" or "FAIL" line that test/cuda-emulation.test.ts reads.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <cstring>
#include <numeric>
#include <vector>

class EmulationChecks {
 public:
  EmulationChecks(const char* program, int argc, char** argv)
      : seed_(argc > 1 ? unsigned(std::strtoul(argv[1], nullptr, 10)) : std::random_device{}()), rng_(seed_) {
    std::printf("%s on the CPU, seed %u\n", program, seed_);
  }

  std::vector<float> random_floats(size_t count, float scale) {
    std::normal_distribution<float> normal(0.f, scale);
    std::vector<float> values(count);
    for (float& v : values) v = normal(rng_);
    return values;
  }
  std::mt19937& rng() { return rng_; }

  // `out` (converted by `as_double`) against `ref`: relative L2 at most `bound`, every value finite, sizes equal.
  template <typename E, typename AsDouble>
  bool report(const std::string& name, const std::vector<E>& out, const std::vector<double>& ref, double bound,
              AsDouble as_double) {
    double diff = 0, norm = 0;
    bool finite = out.size() == ref.size();
    for (size_t i = 0; i < ref.size() && finite; ++i) {
      const double value = as_double(out[i]);
      finite = std::isfinite(value);
      diff += (value - ref[i]) * (value - ref[i]);
      norm += ref[i] * ref[i];
    }
    const double rel = finite ? std::sqrt(diff / std::max(norm, 1e-30)) : INFINITY;
    const bool ok = rel <= bound;
    std::printf("%s %s: rel L2 %.2e (bound %.0e)\n", ok ? "ok  " : "FAIL", name.c_str(), rel, bound);
    failed_ += ok ? 0 : 1;
    ++cases_;
    return ok;
  }
  template <typename E>
  bool report(const std::string& name, const std::vector<E>& out, const std::vector<double>& ref, double bound) {
    return report(name, out, ref, bound, [](E v) { return double(v); });
  }

  // A case that holds or not (an exact property: ids, untouched values).
  bool expect(const std::string& name, bool ok) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", name.c_str());
    failed_ += ok ? 0 : 1;
    ++cases_;
    return ok;
  }

  // The program's exit status: 1 when any case failed.
  int finish() const {
    std::printf("%d of %d cases failed\n", failed_, cases_);
    return failed_ ? 1 : 0;
  }

 private:
  unsigned seed_;
  std::mt19937 rng_;
  int failed_ = 0, cases_ = 0;
};

// A buffer of `count` NaN bytes (0xff...): an element the kernel never writes fails its case.
template <typename E>
std::vector<E> poisoned(size_t count) {
  std::vector<E> values(count);
  std::memset(values.data(), 0xff, count * sizeof(E));
  return values;
}

// One query head's attention in float64 over its row's tokens [first, kv_len): `key(t, d)` and `value(t, d)` read the
// paged pool as doubles; scores scaled, soft-capped (cap > 0), then ALiBi's slope x (t - last) added, as the kernels.
template <typename Key, typename Value>
std::vector<double> attention_reference(const float* query, int head_dim, int first, int kv_len, double scale, float softcap,
                                        double alibi_slope, Key key, Value value) {
  std::vector<double> weights(kv_len, 0.0), out(head_dim, 0.0);
  double max_logit = -INFINITY, total = 0;
  for (int t = first; t < kv_len; ++t) {
    double dot = 0;
    for (int d = 0; d < head_dim; ++d) dot += double(query[d]) * key(t, d);
    weights[t] = dot * scale;
    if (softcap > 0.f) weights[t] = softcap * std::tanh(weights[t] / softcap);
    weights[t] += alibi_slope * (t - (kv_len - 1));
    max_logit = std::max(max_logit, weights[t]);
  }
  for (int t = first; t < kv_len; ++t) total += (weights[t] = std::exp(weights[t] - max_logit));
  for (int d = 0; d < head_dim; ++d)
    for (int t = first; t < kv_len; ++t) out[d] += weights[t] / total * value(t, d);
  return out;
}

// The paged KV cache both attention programs read, laid out as the backend's pool (block-major: for each of 2 layers K
// then V, [block_size, kv_heads, head_dim]; the kernels read layer 1): each sequence's blocks shuffled across the pool,
// values drawn from N(0, 1), and the `unread[s]` leading blocks of sequence s (behind its window) pointed at a spare
// block of NaNs, so a read of one fails its case.
template <typename T>
struct PagedPool {
  static constexpr int block_size = 16, layers = 2, layer = 1;
  int kv_heads, head_dim, max_blocks = 0;
  size_t block_elems, block_stride, key_offset, value_offset;
  std::vector<int32_t> tables;
  std::vector<T> values;

  PagedPool(const std::vector<int>& contexts, const std::vector<int>& unread, int kv_heads, int head_dim, std::mt19937& rng,
            T (*from)(float))
      : kv_heads(kv_heads), head_dim(head_dim), block_elems(size_t(block_size) * kv_heads * head_dim),
        block_stride(2 * layers * block_elems), key_offset(2 * layer * block_elems), value_offset(key_offset + block_elems) {
    int total_blocks = 0;
    for (int ctx : contexts) {
      max_blocks = std::max(max_blocks, blocks(ctx));
      total_blocks += blocks(ctx);
    }
    std::vector<int32_t> order(total_blocks + 1);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    const int32_t released = order.back();
    tables.assign(contexts.size() * max_blocks, -1);
    for (size_t s = 0, next = 0; s < contexts.size(); ++s)
      for (int b = 0; b < blocks(contexts[s]); ++b) tables[s * max_blocks + b] = b < unread[s] ? released : order[next++];
    std::normal_distribution<float> normal;
    values.resize((total_blocks + 1) * block_stride);
    for (size_t i = 0; i < values.size(); ++i) values[i] = from(i / block_stride == size_t(released) ? NAN : normal(rng));
  }
  // Where token t of sequence s keeps KV head `kv_head` (add key_offset or value_offset).
  size_t at(int s, int kv_head, int t) const {
    return size_t(tables[size_t(s) * max_blocks + t / block_size]) * block_stride + size_t(t % block_size) * kv_heads * head_dim +
           size_t(kv_head) * head_dim;
  }

 private:
  static int blocks(int tokens) { return (tokens + block_size - 1) / block_size; }
};
