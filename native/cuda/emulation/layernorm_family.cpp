// Runs layernorm_family_kernels.cuh on the CPU (cuda_emulation.h) as kernel_checks.cu's check_layernorm_family does on a
// GPU: LayerNorm with bias over rows of mean 30 (T out, fp32 in place, gathered rows with no weights) against float64,
// the plain MLP's activations against float64, the residual adds, learned positions at OPT's offset 2, clip_qkv and the
// fp32 -> T row copy exact against the host's fp32 arithmetic, and the q/k head LayerNorms (Phi's shared weight and bias,
// StableLM's per-head weights) with v untouched. bf16 and fp16; the fp32-only kernels once.
// build: c++ -std=c++17 -O2 -Inative/include native/cuda/emulation/layernorm_family.cpp   usage: layernorm_family [seed]
#include <cstring>

#include "cuda_emulation.h"
#include "emulation_checks.h"
#include "../tests/shared_checks.h"

#include "../layernorm_family_kernels.cuh"

using namespace pagedllm::cuda;
using pagedllm::Activation;

// LayerNorm (x - mean) / sqrt(var + eps) * weight + bias of one row, in float64.
void layer_normalize(const double* x, int dim, double eps, const float* weight, const float* bias, double* out) {
  double mean = 0, var = 0;
  for (int i = 0; i < dim; ++i) mean += x[i];
  mean /= dim;
  for (int i = 0; i < dim; ++i) var += (x[i] - mean) * (x[i] - mean);
  const double inv = 1 / std::sqrt(var / dim + eps);
  for (int i = 0; i < dim; ++i) out[i] = (x[i] - mean) * inv * (weight ? weight[i] : 1.0) + (bias ? bias[i] : 0.0);
}

template <typename T>
void check_dtype(EmulationChecks& checks, const std::string& dtype, float (*to)(T), double bound) {
  const auto as_double = [&](T v) { return double(to(v)); };
  const int rows = 6, dim = 1000;
  const double eps = 1e-5;
  auto x = checks.random_floats(size_t(rows) * dim, 2.f);
  for (float& v : x) v += 30.f;  // a large mean: a variance summed naively in fp32 would lose digits
  const auto weight = checks.random_floats(dim, 1.f), bias = checks.random_floats(dim, 1.f);
  std::vector<double> x_ref(x.begin(), x.end()), ref(x.size());
  for (int r = 0; r < rows; ++r) layer_normalize(x_ref.data() + size_t(r) * dim, dim, eps, weight.data(), bias.data(), ref.data() + size_t(r) * dim);
  auto out = poisoned<T>(x.size());
  launch({rows, 1, 1}, row_threads(dim), [&] {
    layer_norm_kernel<T>(x.data(), nullptr, dim, weight.data(), bias.data(), float(eps), nullptr, out.data());
  });
  checks.report("layer_norm (" + dtype + "): 6 rows of 1000, mean 30", out, ref, bound, as_double);
  std::vector<float> in_place = x;
  launch({rows, 1, 1}, row_threads(dim), [&] {
    layer_norm_kernel<T>(in_place.data(), nullptr, dim, weight.data(), bias.data(), float(eps), in_place.data(), nullptr);
  });
  checks.report("layer_norm (f32 out, " + dtype + " kernel): in place", in_place, ref, 1e-5);
  const std::vector<int32_t> wanted = {4, 0, 4};  // the final norm's gather, a row listed twice
  auto gathered = poisoned<T>(wanted.size() * dim);
  launch({unsigned(wanted.size()), 1, 1}, row_threads(dim), [&] {
    layer_norm_kernel<T>(x.data(), wanted.data(), dim, nullptr, nullptr, float(eps), nullptr, gathered.data());
  });
  std::vector<double> gathered_ref(wanted.size() * dim);
  for (size_t i = 0; i < wanted.size(); ++i)
    layer_normalize(x_ref.data() + size_t(wanted[i]) * dim, dim, eps, nullptr, nullptr, gathered_ref.data() + i * dim);
  checks.report("layer_norm (" + dtype + "): gathered rows 4, 0, 4, no weight or bias", gathered, gathered_ref, bound, as_double);

  // Each plain-MLP activation against its float64 definition.
  const int count = 5000;
  const auto pre = checks.random_floats(count, 3.f);
  const std::pair<Activation, const char*> acts[] = {
      {Activation::GeluTanh, "gelu tanh"}, {Activation::GeluErf, "gelu erf"}, {Activation::Relu, "relu"}, {Activation::Silu, "silu"}};
  for (const auto& [act, name] : acts) {
    auto activated = poisoned<T>(count);
    launch({unsigned(element_blocks(count)), 1, 1}, kElementThreads, [&, act = act] {
      plain_activation_kernel<T>(pre.data(), count, act, activated.data());
    });
    std::vector<double> act_ref(count);
    for (int i = 0; i < count; ++i) act_ref[i] = plain_activation_reference(act, pre[i]);
    checks.report("plain_activation (" + dtype + "): " + name + ", 5000 values of scale 3", activated, act_ref, bound, as_double);
  }

  // fp32 rows to T, gathered (rows 2 and 5 of 6).
  const std::vector<int32_t> picked = {2, 5};
  auto copied = poisoned<T>(picked.size() * dim);
  launch({unsigned(picked.size()), 1, 1}, row_threads(dim), [&] { rows_to_kernel<T>(x.data(), picked.data(), dim, copied.data()); });
  std::vector<double> copied_ref(copied.size());
  for (size_t i = 0; i < picked.size(); ++i)
    for (int d = 0; d < dim; ++d) copied_ref[i * dim + d] = to(from_float<T>(x[size_t(picked[i]) * dim + d]));
  checks.report("rows_to (" + dtype + "): rows 2 and 5, rounded once", copied, copied_ref, 0.0, as_double);
}

void check_fp32_kernels(EmulationChecks& checks) {
  const int count = 5000;
  const unsigned blocks = unsigned(element_blocks(count));
  const auto a = checks.random_floats(count, 1.f), b = checks.random_floats(count, 1.f), residual = checks.random_floats(count, 1.f);
  std::vector<float> serial = residual, parallel = residual;
  launch({blocks, 1, 1}, kElementThreads, [&] { residual_add_kernel(serial.data(), a.data(), nullptr, count); });
  launch({blocks, 1, 1}, kElementThreads, [&] { residual_add_kernel(parallel.data(), a.data(), b.data(), count); });
  std::vector<double> serial_ref(count), parallel_ref(count);
  for (int i = 0; i < count; ++i) {
    serial_ref[i] = double(residual[i] + a[i]);
    parallel_ref[i] = double((b[i] + a[i]) + residual[i]);  // the CPU's fp32 order
  }
  checks.report("residual_add: x + a", serial, serial_ref, 0.0);
  checks.report("residual_add: (mlp + attention) + x", parallel, parallel_ref, 0.0);

  const int hidden = 96, table_rows = 40, tokens = 5;
  const auto table = checks.random_floats(size_t(table_rows) * hidden, 1.f), stream = checks.random_floats(size_t(tokens) * hidden, 1.f);
  const std::vector<int32_t> positions = {0, 37, 5, 5, 12};
  std::vector<float> positioned = stream;
  launch({tokens, 1, 1}, row_threads(hidden), [&] { add_position_rows_kernel(positioned.data(), table.data(), positions.data(), 2, hidden); });
  std::vector<double> positioned_ref(stream.size());
  for (int t = 0; t < tokens; ++t)
    for (int i = 0; i < hidden; ++i)
      positioned_ref[size_t(t) * hidden + i] = double(stream[size_t(t) * hidden + i] + table[size_t(positions[t] + 2) * hidden + i]);
  checks.report("add_position_rows: OPT's offset 2", positioned, positioned_ref, 0.0);

  const auto pre = checks.random_floats(count, 3.f);
  std::vector<float> clipped = pre;
  launch({blocks, 1, 1}, kElementThreads, [&] { clamp_kernel(clipped.data(), count, 1.5f); });
  std::vector<double> clipped_ref(count);
  for (int i = 0; i < count; ++i) clipped_ref[i] = std::clamp(double(pre[i]), -1.5, 1.5);
  checks.report("clamp_values: MPT's clip_qkv 1.5", clipped, clipped_ref, 0.0);

  // q/k head LayerNorms in place: Phi's one shared [head_dim] weight and bias, StableLM's per-head weights without bias.
  // 3 tokens x 6 heads = 18 warps: the last of 3 blocks has 2 working warps and 6 that return at once.
  const double eps = 1e-5;
  for (const bool shared : {true, false}) {
    const int head_dim = 40, heads = 4, kv_heads = 2, width = (heads + 2 * kv_heads) * head_dim, n = 3;
    const auto input = checks.random_floats(size_t(n) * width, 2.f);
    const int sets = shared ? 1 : heads;
    const auto q_w = checks.random_floats(size_t(sets) * head_dim, 1.f), q_b = checks.random_floats(head_dim, 1.f);
    const auto k_w = checks.random_floats(size_t(shared ? 1 : kv_heads) * head_dim, 1.f), k_b = checks.random_floats(head_dim, 1.f);
    std::vector<float> qkv = input;
    const int items = n * (heads + kv_heads);
    launch({unsigned((items + kHeadNormWarps - 1) / kHeadNormWarps), 1, 1}, kHeadNormWarps * 32, [&] {
      head_layer_norm_kernel(qkv.data(), width, n, heads, kv_heads, head_dim, shared, q_w.data(), shared ? q_b.data() : nullptr,
                             k_w.data(), shared ? k_b.data() : nullptr, float(eps));
    });
    std::vector<double> ref(input.begin(), input.end());
    for (int t = 0; t < n; ++t)
      for (int h = 0; h < heads + kv_heads; ++h) {
        const bool is_q = h < heads;
        const int own = is_q ? h : h - heads;
        const float* w = (is_q ? q_w : k_w).data() + (shared ? 0 : own * head_dim);
        const float* bias = shared ? (is_q ? q_b : k_b).data() : nullptr;
        double* at = ref.data() + size_t(t) * width + size_t(h) * head_dim;
        const std::vector<double> in(at, at + head_dim);
        layer_normalize(in.data(), head_dim, eps, w, bias, at);
      }
    const std::string name = shared ? "head_layer_norm: Phi's shared weight and bias" : "head_layer_norm: StableLM's per-head weights";
    checks.report(name, qkv, ref, 1e-5);
    bool v_kept = true;
    for (int t = 0; t < n; ++t) {
      const size_t v = size_t(t) * width + size_t(heads + kv_heads) * head_dim;
      v_kept = v_kept && std::memcmp(&qkv[v], &input[v], size_t(kv_heads) * head_dim * sizeof(float)) == 0;
    }
    checks.expect(name + ": v untouched", v_kept);
  }
}

int main(int argc, char** argv) {
  EmulationChecks checks("LayerNorm family", argc, argv);
  check_dtype<__nv_bfloat16>(checks, "bf16", __bfloat162float, 8e-3);  // kernel_checks.cu's storage bounds
  check_dtype<__half>(checks, "f16", __half2float, 2e-3);
  check_fp32_kernels(checks);
  return checks.finish();
}
