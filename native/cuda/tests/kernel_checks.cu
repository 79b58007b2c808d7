// Checks each CUDA kernel against a float64 host reference: relative L2 error under a stated bound per dtype,
// outputs poisoned with NaN first so unwritten elements fail, inputs fresh random values for every call.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <sstream>
#include <type_traits>
#include <vector>

#include "cuda_common.cuh"
#include "cuda_memory.h"
#include "cuda_ops.h"
#include "gemm.h"
#include "shared_checks.h"
#include "kernel_checks.h"
#include "moe_ops.h"
#include "pagedllm/moe_plan.h"
#include "pagedllm/sliding_window.h"
#include "layernorm_family_ops.h"

namespace pagedllm {

namespace {

using namespace pagedllm::cuda;

template <typename T>
T host_from_float(float value);
template <>
__half host_from_float<__half>(float value) { return __float2half_rn(value); }
template <>
__nv_bfloat16 host_from_float<__nv_bfloat16>(float value) { return __float2bfloat16_rn(value); }
float host_float(float value) { return value; }
double host_float(double value) { return value; }
float host_float(__half value) { return __half2float(value); }
float host_float(__nv_bfloat16 value) { return __bfloat162float(value); }

template <typename T>
const char* dtype_name();
template <>
const char* dtype_name<__half>() { return "f16"; }
template <>
const char* dtype_name<__nv_bfloat16>() { return "bf16"; }
template <typename T>
double storage_bound();  // relative error of one rounding to T, with margin
template <>
double storage_bound<__half>() { return 2e-3; }
template <>
double storage_bound<__nv_bfloat16>() { return 8e-3; }
constexpr double kFloat32Bound = 1e-4;  // fp32 accumulation over inputs already rounded to T

// A device copy of a host vector; `poisoned` makes an output buffer all NaN bytes.
template <typename E>
struct DeviceArray {
  DeviceMemory memory;
  size_t count;
  explicit DeviceArray(const std::vector<E>& host) : memory(std::max<size_t>(1, host.size()) * sizeof(E)), count(host.size()) {
    PAGEDLLM_CUDA_CHECK(cudaMemcpy(memory.data(), host.data(), host.size() * sizeof(E), cudaMemcpyHostToDevice));
  }
  static DeviceArray poisoned(size_t count) {
    DeviceArray array{std::vector<E>(count)};
    PAGEDLLM_CUDA_CHECK(cudaMemset(array.memory.data(), 0xff, std::max<size_t>(1, count) * sizeof(E)));
    return array;
  }
  E* get() const { return memory.as<E>(); }
  std::vector<E> read() const {
    PAGEDLLM_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<E> host(count);
    PAGEDLLM_CUDA_CHECK(cudaMemcpy(host.data(), memory.data(), count * sizeof(E), cudaMemcpyDeviceToHost));
    return host;
  }
};

class Checker {
 public:
  explicit Checker(uint32_t seed) : rng_(seed) {}

  template <typename T>
  std::vector<T> random_rounded(size_t count, float scale, std::vector<double>* as_double) {
    std::normal_distribution<float> normal(0.f, scale);
    std::vector<T> values(count);
    as_double->resize(count);
    for (size_t i = 0; i < count; ++i) {
      values[i] = host_from_float<T>(normal(rng_));
      (*as_double)[i] = host_float(values[i]);
    }
    return values;
  }
  std::vector<float> random_floats(size_t count, float scale) {
    std::normal_distribution<float> normal(0.f, scale);
    std::vector<float> values(count);
    for (float& v : values) v = normal(rng_);
    return values;
  }
  int uniform(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }
  std::mt19937& rng() { return rng_; }

  template <typename E>
  void report(const char* kernel, const char* dtype, const std::string& name, const std::vector<E>& out,
              const std::vector<double>& ref, double bound) {
    double diff = 0, norm = 0;
    bool finite = out.size() == ref.size();
    for (size_t i = 0; i < ref.size() && finite; ++i) {
      const double value = host_float(out[i]);
      if (!std::isfinite(value)) finite = false;
      diff += (value - ref[i]) * (value - ref[i]);
      norm += ref[i] * ref[i];
    }
    const double rel = finite ? std::sqrt(diff / std::max(norm, 1e-30)) : INFINITY;
    if (!results_.empty()) json_ << ",";
    json_ << "{\"kernel\":\"" << kernel << "\",\"dtype\":\"" << dtype << "\",\"case\":\"" << name
          << "\",\"relError\":" << (finite ? rel : -1) << ",\"bound\":" << bound
          << ",\"pass\":" << (finite && rel <= bound ? "true" : "false") << "}";
    results_.push_back(rel);
  }
  std::string json() const { return "[" + json_.str() + "]"; }

 private:
  std::mt19937 rng_;
  std::ostringstream json_;
  std::vector<double> results_;
};

double rms_normalize(const double* x, int hidden, double eps, const std::vector<double>& weight, std::vector<double>* out,
                     size_t out_at) {
  double sum = 0;
  for (int i = 0; i < hidden; ++i) sum += x[i] * x[i];
  const double inv = 1 / std::sqrt(sum / hidden + eps);
  for (int i = 0; i < hidden; ++i) (*out)[out_at + i] = x[i] * inv * weight[i];
  return inv;
}

template <typename T>
void check_norms(Checker& c) {
  const int rows = 7, hidden = 1000;
  const float eps = 1e-5f;
  // fp32 weights, as the backend keeps them (Gemma's 1 + weight formed at load).
  const auto weight = c.random_floats(hidden, 1.f);
  const std::vector<double> weight_ref(weight.begin(), weight.end());
  const auto x = c.random_floats(size_t(rows) * hidden, 2.f);
  const auto delta = c.random_floats(size_t(rows) * hidden, 1.f);
  const std::vector<int32_t> gather = {5, 0, 3};
  // rms_norm with a row gather
  {
    DeviceArray<float> x_dev(x);
    DeviceArray<float> w_dev(weight);
    DeviceArray<int32_t> idx(gather);
    auto out = DeviceArray<T>::poisoned(gather.size() * hidden);
    rms_norm(x_dev.get(), idx.get(), int(gather.size()), hidden, w_dev.get(), eps, out.get(), nullptr);
    std::vector<double> ref(out.count);
    for (size_t r = 0; r < gather.size(); ++r) {
      std::vector<double> row(x.begin() + gather[r] * hidden, x.begin() + (gather[r] + 1) * hidden);
      rms_normalize(row.data(), hidden, eps, weight_ref, &ref, r * hidden);
    }
    c.report("rms_norm", dtype_name<T>(), "gather 3 of 7 rows, hidden 1000", out.read(), ref, storage_bound<T>());
  }
  // fused residual add + norm: both the updated residual and the normalized output
  {
    DeviceArray<float> residual(x), delta_dev(delta);
    DeviceArray<float> w_dev(weight);
    auto out = DeviceArray<T>::poisoned(size_t(rows) * hidden);
    fused_add_rms_norm(residual.get(), delta_dev.get(), nullptr, rows, hidden, w_dev.get(), eps, out.get(), nullptr);
    std::vector<double> sum(x.size()), ref(x.size());
    for (size_t i = 0; i < x.size(); ++i) sum[i] = double(x[i]) + delta[i];
    for (int r = 0; r < rows; ++r) rms_normalize(sum.data() + size_t(r) * hidden, hidden, eps, weight_ref, &ref, size_t(r) * hidden);
    c.report("fused_add_rms_norm", dtype_name<T>(), "normalized output", out.read(), ref, storage_bound<T>());
    c.report("fused_add_rms_norm", "f32", "residual written back", residual.read(), sum, 1e-6);
  }
  // gathered final norm, a row listed twice: outputs of the sums, residual left as it was
  {
    const std::vector<int32_t> rows_twice = {6, 2, 6};
    DeviceArray<float> residual(x), delta_dev(delta);
    DeviceArray<float> w_dev(weight);
    DeviceArray<int32_t> idx(rows_twice);
    auto out = DeviceArray<T>::poisoned(rows_twice.size() * hidden);
    fused_add_rms_norm(residual.get(), delta_dev.get(), idx.get(), int(rows_twice.size()), hidden, w_dev.get(), eps, out.get(),
                       nullptr);
    std::vector<double> ref(out.count), unchanged(x.begin(), x.end());
    for (size_t r = 0; r < rows_twice.size(); ++r) {
      std::vector<double> row(hidden);
      for (int i = 0; i < hidden; ++i) row[i] = double(x[rows_twice[r] * hidden + i]) + delta[rows_twice[r] * hidden + i];
      rms_normalize(row.data(), hidden, eps, weight_ref, &ref, r * hidden);
    }
    c.report("fused_add_rms_norm", dtype_name<T>(), "gather with a repeated row", out.read(), ref, storage_bound<T>());
    c.report("fused_add_rms_norm", "f32", "gathered: residual not written", residual.read(), unchanged, 0.0);
  }
  // fp32 out (Gemma 2's sandwich norm of a sublayer output), every row
  {
    DeviceArray<float> x_dev(x), w_dev(weight);
    auto out = DeviceArray<float>::poisoned(x.size());
    rms_norm(x_dev.get(), nullptr, rows, hidden, w_dev.get(), eps, out.get(), nullptr);
    std::vector<double> ref(x.size());
    for (int r = 0; r < rows; ++r) {
      std::vector<double> row(x.begin() + size_t(r) * hidden, x.begin() + size_t(r + 1) * hidden);
      rms_normalize(row.data(), hidden, eps, weight_ref, &ref, size_t(r) * hidden);
    }
    c.report("rms_norm", "f32", "fp32 out (sandwich norm), 7 rows", out.read(), ref, 1e-5);
  }
}

// Runs rotary_embedding with the model's frequencies and holds it to a float64 rotation whose frequency i is
// `reference_freq(i)`, recomputed independently: each head's first rotary_dim values (all when 0) turn, pairs
// (i, i + rotated / 2); the rest of each head and v stay as they were.
void check_rotary_case(Checker& c, const ModelConfig& model, const std::vector<int32_t>& positions,
                       const std::function<double(int)>& reference_freq, const std::string& name) {
  const std::vector<float> inv_freq = rope_inv_freq(model);
  const int tokens = int(positions.size()), width = (model.num_heads + 2 * model.num_kv_heads) * model.head_dim;
  const int half = (model.rotary_dim > 0 ? model.rotary_dim : model.head_dim) / 2;
  const auto qkv = c.random_floats(size_t(tokens) * width, 1.f);
  DeviceArray<float> qkv_dev(qkv), freq_dev(inv_freq);
  DeviceArray<int32_t> pos_dev(positions);
  rotary_embedding(qkv_dev.get(), width, pos_dev.get(), tokens, model.num_heads, model.num_kv_heads, model.head_dim,
                   freq_dev.get(), nullptr, 1.f, model.rotary_dim);
  std::vector<double> ref(qkv.begin(), qkv.end());
  for (int t = 0; t < tokens; ++t)
    for (int h = 0; h < model.num_heads + model.num_kv_heads; ++h)
      for (int i = 0; i < half; ++i) {
        const double angle = positions[t] * double(float(reference_freq(i)));
        const size_t at = size_t(t) * width + h * model.head_dim + i;
        ref[at] = qkv[at] * std::cos(angle) - qkv[at + half] * std::sin(angle);
        ref[at + half] = qkv[at + half] * std::cos(angle) + qkv[at] * std::sin(angle);
      }
  c.report("rotary_embedding", "f32", name, qkv_dev.read(), ref, 1e-5);
}

void check_rotary(Checker& c) {
  check_rotary_case(c, llama3_rope_config(), {0, 1, 17, 4095, 30000}, llama3_frequency_reference, "llama3 scaling, positions up to 30000, v untouched");
  // Phi-3's partial rotary: the first 24 of 40 values of each head turn, frequencies over them (theta^(-2i / 24)).
  ModelConfig partial;
  partial.head_dim = 40;
  partial.rotary_dim = 24;
  partial.num_heads = 3;
  partial.num_kv_heads = 1;
  partial.rope_theta = 10000.f;
  check_rotary_case(c, partial, {0, 3, 500, 4000}, [](int i) { return std::pow(10000.0, -2.0 * i / 24); },
                    "partial: 24 of head_dim 40, the rest and v untouched");
}

// An in-place op on fresh floats of the given scale against its per-value float64 reference.
void check_in_place(Checker& c, const char* kernel, const std::string& name, size_t count, float scale, double bound,
                    const std::function<void(float*, size_t)>& run, const std::function<double(float)>& reference) {
  const auto x = c.random_floats(count, scale);
  DeviceArray<float> x_dev(x);
  run(x_dev.get(), x.size());
  std::vector<double> ref(x.size());
  for (size_t i = 0; i < x.size(); ++i) ref[i] = reference(x[i]);
  c.report(kernel, "f32", name, x_dev.read(), ref, bound);
}

// Gemma 2's final logit soft-capping: cap * tanh(x / cap) over values well past the cap.
void check_softcap(Checker& c) {
  const float cap = 12.5f;
  check_in_place(c, "softcap_values", "cap 12.5, 5000 values of scale 30", 5000, 30.f, 1e-6,
                 [&](float* x, size_t n) { softcap_values(x, n, cap, nullptr); }, [&](float v) { return cap * std::tanh(double(v) / cap); });
}

// Granite's residual_multiplier and 1 / logits_scaling: one fp32 product per value, as the CPU rounds it.
void check_scale_values(Checker& c) {
  const float factor = 0.22f;
  check_in_place(c, "scale_values", "factor 0.22, 70000 values", 70000, 5.f, 0.0,
                 [&](float* x, size_t n) { scale_values(x, n, factor, nullptr); }, [&](float v) { return double(v * factor); });
}

// Qwen3's q/k norm on fp32 QKV rows: each q and k head normalised with its own weights, v untouched; head_dim 128
// (four floats a lane) and 12 (lanes with nothing), 5 q heads and 3 k heads (a partial block of 4 heads).
void check_head_norm(Checker& c) {
  for (const int head_dim : {128, 12}) {
    const int tokens = 6, heads = 5, kv_heads = 3, width = (heads + 2 * kv_heads) * head_dim;
    const float eps = 1e-6f;
    const auto qkv = c.random_floats(size_t(tokens) * width, 2.f);
    const auto q_weight = c.random_floats(head_dim, 1.f), k_weight = c.random_floats(head_dim, 1.f);
    DeviceArray<float> qkv_dev(qkv), q_dev(q_weight), k_dev(k_weight);
    head_rms_norm(qkv_dev.get(), width, tokens, heads, kv_heads, head_dim, q_dev.get(), k_dev.get(), eps, nullptr);
    std::vector<double> ref(qkv.begin(), qkv.end());
    const std::vector<double> q_ref(q_weight.begin(), q_weight.end()), k_ref(k_weight.begin(), k_weight.end());
    for (int t = 0; t < tokens; ++t)
      for (int h = 0; h < heads + kv_heads; ++h) {
        const size_t at = size_t(t) * width + size_t(h) * head_dim;
        rms_normalize(ref.data() + at, head_dim, eps, h < heads ? q_ref : k_ref, &ref, at);
      }
    c.report("head_rms_norm", "f32", "q and k heads, head_dim " + std::to_string(head_dim) + ", v untouched", qkv_dev.read(), ref, 1e-5);
  }
}

template <typename T>
void check_activation_and_embedding(Checker& c) {
  const int tokens = 9, vocab = 50, hidden = 96;
  // Each activation of the gated MLP against its float64 form (gelu_pytorch_tanh: 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3)))).
  const struct {
    Activation act;
    const char* name;
    double (*reference)(double);
  } activations[] = {
      {Activation::Silu, "silu_and_mul", [](double g) { return g / (1 + std::exp(-g)); }},
      {Activation::GeluTanh, "gelu_tanh_and_mul", [](double g) {
         return 0.5 * g * (1 + std::tanh(std::sqrt(2 / 3.14159265358979323846) * (g + 0.044715 * g * g * g)));
       }},
      {Activation::Relu, "relu_and_mul", [](double g) { return g > 0 ? g : 0.0; }},
      {Activation::GeluErf, "gelu_erf_and_mul", [](double g) { return 0.5 * g * (1 + std::erf(g / std::sqrt(2.0))); }},
  };
  for (const int inter : {700, 701}) {  // a multiple of 4 takes float4 loads, others go element by element
    for (const auto& a : activations) {
      const auto gate_up = c.random_floats(size_t(tokens) * 2 * inter, 2.f);
      DeviceArray<float> gu_dev(gate_up);
      auto out = DeviceArray<T>::poisoned(size_t(tokens) * inter);
      gated_and_mul(a.act, gu_dev.get(), tokens, inter, out.get(), nullptr);
      std::vector<double> ref(out.count);
      for (int t = 0; t < tokens; ++t)
        for (int i = 0; i < inter; ++i) {
          const double g = gate_up[size_t(t) * 2 * inter + i], u = gate_up[size_t(t) * 2 * inter + inter + i];
          ref[size_t(t) * inter + i] = a.reference(g) * u;
        }
      c.report(a.name, dtype_name<T>(), "gated_and_mul, 9 tokens, intermediate " + std::to_string(inter), out.read(), ref,
               storage_bound<T>());
    }
  }

  std::vector<double> table_ref;
  const auto table = c.random_rounded<T>(size_t(vocab) * hidden, 1.f, &table_ref);
  std::vector<int32_t> ids(tokens);
  for (int& id : ids) id = c.uniform(0, vocab - 1);
  DeviceArray<T> table_dev(table);
  DeviceArray<int32_t> ids_dev(ids);
  auto embedded = DeviceArray<float>::poisoned(size_t(tokens) * hidden);
  embedding_lookup(table_dev.get(), ids_dev.get(), tokens, hidden, embedded.get(), nullptr);
  std::vector<double> emb_ref(embedded.count);
  for (int t = 0; t < tokens; ++t)
    for (int i = 0; i < hidden; ++i) emb_ref[size_t(t) * hidden + i] = table_ref[size_t(ids[t]) * hidden + i];
  c.report("embedding", dtype_name<T>(), "exact gather", embedded.read(), emb_ref, 0.0);
  const float scale = std::sqrt(float(hidden));  // Gemma's sqrt(hidden), applied in fp32
  embedding_lookup(table_dev.get(), ids_dev.get(), tokens, hidden, embedded.get(), nullptr, scale);
  for (double& value : emb_ref) value = double(float(value) * scale);
  c.report("embedding", dtype_name<T>(), "gather x sqrt(hidden) (Gemma)", embedded.read(), emb_ref, 0.0);
}

// LayerNorm (x - mean) / sqrt(var + eps) * weight + bias of one row, in float64.
void layer_normalize(const double* x, int dim, double eps, const std::vector<float>* weight, const std::vector<float>* bias, double* out) {
  double mean = 0, var = 0;
  for (int i = 0; i < dim; ++i) mean += x[i];
  mean /= dim;
  for (int i = 0; i < dim; ++i) var += (x[i] - mean) * (x[i] - mean);
  const double inv = 1 / std::sqrt(var / dim + eps);
  for (int i = 0; i < dim; ++i) out[i] = (x[i] - mean) * inv * (weight ? (*weight)[i] : 1.0) + (bias ? (*bias)[i] : 0.0);
}

// The LayerNorm family's kernels (layernorm_family_kernels.cu): LayerNorm with bias (fp32 in place, T out, gathered rows,
// no weights), q/k head LayerNorms, the plain MLP's activations, residual adds, learned positions, clip, fp32 -> T rows.
template <typename T>
void check_layernorm_family(Checker& c) {
  const int rows = 6, dim = 1000;
  const double eps = 1e-5;
  // Rows with a large mean: a variance summed naively in fp32 would lose digits.
  auto x = c.random_floats(size_t(rows) * dim, 2.f);
  for (float& v : x) v += 30.f;
  const auto weight = c.random_floats(dim, 1.f), bias = c.random_floats(dim, 1.f);
  DeviceArray<float> weight_dev(weight), bias_dev(bias);
  std::vector<double> x_ref(x.begin(), x.end()), ref(x.size());
  for (int r = 0; r < rows; ++r) layer_normalize(x_ref.data() + size_t(r) * dim, dim, eps, &weight, &bias, ref.data() + size_t(r) * dim);
  auto out = DeviceArray<T>::poisoned(x.size());
  DeviceArray<float> x_dev(x);
  layer_norm(x_dev.get(), nullptr, rows, dim, weight_dev.get(), bias_dev.get(), float(eps), nullptr, out.get(), nullptr);
  c.report("layer_norm", dtype_name<T>(), "6 rows of 1000, mean 30", out.read(), ref, storage_bound<T>());
  layer_norm<T>(x_dev.get(), nullptr, rows, dim, weight_dev.get(), bias_dev.get(), float(eps), x_dev.get(), nullptr, nullptr);
  c.report("layer_norm", "f32", "in place (BLOOM's embedding norm, OPT-350m's post-norms)", x_dev.read(), ref, 1e-5);
  const std::vector<int32_t> wanted = {4, 0, 4};  // the final norm's gather, a row listed twice
  DeviceArray<int32_t> wanted_dev(wanted);
  DeviceArray<float> x2_dev(x);
  auto gathered = DeviceArray<T>::poisoned(wanted.size() * dim);
  layer_norm(x2_dev.get(), wanted_dev.get(), int(wanted.size()), dim, nullptr, nullptr, float(eps), nullptr, gathered.get(), nullptr);
  std::vector<double> gathered_ref(wanted.size() * dim);
  for (size_t i = 0; i < wanted.size(); ++i)
    layer_normalize(x_ref.data() + size_t(wanted[i]) * dim, dim, eps, nullptr, nullptr, gathered_ref.data() + i * dim);
  c.report("layer_norm", dtype_name<T>(), "gathered rows 4, 0, 4; no weight or bias (OPT's no-affine norms)", gathered.read(), gathered_ref, storage_bound<T>());

  // Each plain-MLP activation against its float64 definition (gelu_new's tanh form, erf gelu, relu, silu).
  const int count = 5000;
  const auto pre = c.random_floats(count, 3.f);
  DeviceArray<float> pre_dev(pre);
  const std::pair<Activation, const char*> acts[] = {{Activation::GeluTanh, "gelu tanh"}, {Activation::GeluErf, "gelu erf"}, {Activation::Relu, "relu"}, {Activation::Silu, "silu"}};
  for (const auto& [act, name] : acts) {
    auto activated = DeviceArray<T>::poisoned(count);
    plain_activation(pre_dev.get(), count, act, activated.get(), nullptr);
    std::vector<double> act_ref(count);
    for (int i = 0; i < count; ++i) act_ref[i] = plain_activation_reference(act, pre[i]);
    c.report("plain_activation", dtype_name<T>(), std::string(name) + ", 5000 values of scale 3", activated.read(), act_ref, storage_bound<T>());
  }

  if (!std::is_same_v<T, __nv_bfloat16>) return;  // the fp32-only kernels below once
  // Residual adds: x + a, and the parallel block's (b + a) + x.
  const auto a = c.random_floats(count, 1.f), b = c.random_floats(count, 1.f), residual = c.random_floats(count, 1.f);
  DeviceArray<float> a_dev(a), b_dev(b), serial_dev(residual), parallel_dev(residual);
  residual_add(serial_dev.get(), a_dev.get(), nullptr, count, nullptr);
  residual_add(parallel_dev.get(), a_dev.get(), b_dev.get(), count, nullptr);
  std::vector<double> serial_ref(count), parallel_ref(count);
  for (int i = 0; i < count; ++i) {
    serial_ref[i] = double(residual[i] + a[i]);
    parallel_ref[i] = double((b[i] + a[i]) + residual[i]);  // the CPU's fp32 order
  }
  c.report("residual_add", "f32", "x + a", serial_dev.read(), serial_ref, 0.0);
  c.report("residual_add", "f32", "(mlp + attention) + x", parallel_dev.read(), parallel_ref, 0.0);
  // Learned positions at OPT's offset 2, clip_qkv at 1.5, fp32 rows to the GEMM input dtype with a gather.
  const int hidden = 96, table_rows = 40, tokens = 5;
  const auto table = c.random_floats(size_t(table_rows) * hidden, 1.f), stream = c.random_floats(size_t(tokens) * hidden, 1.f);
  const std::vector<int32_t> positions = {0, 37, 5, 5, 12};
  DeviceArray<float> table_dev(table), stream_dev(stream);
  DeviceArray<int32_t> positions_dev(positions);
  add_position_rows(stream_dev.get(), table_dev.get(), positions_dev.get(), 2, tokens, hidden, nullptr);
  std::vector<double> positioned(stream.size());
  for (int t = 0; t < tokens; ++t)
    for (int i = 0; i < hidden; ++i) positioned[size_t(t) * hidden + i] = double(stream[size_t(t) * hidden + i] + table[size_t(positions[t] + 2) * hidden + i]);
  c.report("add_position_rows", "f32", "OPT's offset 2", stream_dev.read(), positioned, 0.0);
  DeviceArray<float> clipped_dev(pre);
  clamp_values(clipped_dev.get(), count, 1.5f, nullptr);
  std::vector<double> clipped(count);
  for (int i = 0; i < count; ++i) clipped[i] = std::clamp(double(pre[i]), -1.5, 1.5);
  c.report("clamp_values", "f32", "MPT's clip_qkv 1.5", clipped_dev.read(), clipped, 0.0);

  // q/k head LayerNorms in place: Phi's one shared [head_dim] weight and bias, StableLM's per-head weights without bias; v untouched.
  for (const bool shared : {true, false}) {
    const int head_dim = 40, heads = 4, kv_heads = 2, width = (heads + 2 * kv_heads) * head_dim, n = 3;
    const auto qkv = c.random_floats(size_t(n) * width, 2.f);
    const int sets = shared ? 1 : heads;
    const auto q_w = c.random_floats(size_t(sets) * head_dim, 1.f), q_b = c.random_floats(head_dim, 1.f);
    const auto k_w = c.random_floats(size_t(shared ? 1 : kv_heads) * head_dim, 1.f), k_b = c.random_floats(head_dim, 1.f);
    DeviceArray<float> qkv_dev(qkv), q_w_dev(q_w), q_b_dev(q_b), k_w_dev(k_w), k_b_dev(k_b);
    head_layer_norm(qkv_dev.get(), width, n, heads, kv_heads, head_dim, shared, q_w_dev.get(), shared ? q_b_dev.get() : nullptr, k_w_dev.get(),
                    shared ? k_b_dev.get() : nullptr, float(eps), nullptr);
    std::vector<double> head_ref(qkv.begin(), qkv.end());
    for (int t = 0; t < n; ++t)
      for (int h = 0; h < heads + kv_heads; ++h) {
        const bool is_q = h < heads;
        const int own = is_q ? h : h - heads;
        std::vector<float> w(head_dim), bias_values(head_dim, 0.f);
        std::copy_n((is_q ? q_w : k_w).begin() + (shared ? 0 : own * head_dim), head_dim, w.begin());
        if (shared) bias_values = is_q ? q_b : k_b;
        double* at = head_ref.data() + size_t(t) * width + size_t(h) * head_dim;
        const std::vector<double> in(at, at + head_dim);
        layer_normalize(in.data(), head_dim, eps, &w, &bias_values, at);
      }
    c.report("head_layer_norm", "f32", shared ? "Phi: shared weight and bias, v untouched" : "StableLM: per-head weights, v untouched", qkv_dev.read(),
             head_ref, 1e-5);
  }
}

// Each GEMM this machine can run (WMMA always; cuBLAS when a library loads), against float64, and twice on the same
// inputs: the second run must give the same bits (split-K reduces in a fixed order, no atomics).
template <typename T>
void check_linear(Checker& c, int num_sms) {
  struct Shape {
    int M, N, K;
    bool bias;
  };
  std::vector<std::string> modes = {"wmma", "auto"};  // auto: the GEMV kernel for 1-4 rows (K % 8 == 0)
  GemmSetting cublas_setting;
  cublas_setting.mode = "cublas";
  if (choose_gemm_library(cublas_setting).cublas) modes.push_back("cublas");
  for (const std::string& mode : modes) {
    GemmSetting setting = cublas_setting;
    setting.mode = mode;
    const Gemm gemm(setting, num_sms, nullptr);
    const std::string kernel = "linear " + mode;
    // Decode-like (split-K), prefill-like, and ragged sizes that take the scalar tile loads.
    for (const Shape& s : {Shape{1, 4096, 4096, false}, Shape{64, 1024, 512, true}, Shape{100, 333, 200, true},
                           Shape{3, 77, 37, false}, Shape{7, 2048, 4096, true}, Shape{2, 333, 200, true},
                           Shape{4, 1001, 1032, true}, Shape{3, 8, 14336, false}}) {
      std::vector<double> x_ref, w_ref;
      const auto x = c.random_rounded<T>(size_t(s.M) * s.K, 1.f, &x_ref);
      const auto w = c.random_rounded<T>(size_t(s.N) * s.K, 0.05f, &w_ref);
      const auto bias = c.random_floats(s.N, 1.f);
      DeviceArray<T> x_dev(x), w_dev(w);
      DeviceArray<float> bias_dev(bias);
      auto workspace = DeviceArray<float>::poisoned(std::max<size_t>(1, gemm.workspace_floats(s.M, s.N, s.K)));
      auto y = DeviceArray<float>::poisoned(size_t(s.M) * s.N);
      const float* bias_ptr = s.bias ? bias_dev.get() : nullptr;
      gemm.linear(x_dev.get(), w_dev.get(), bias_ptr, s.M, s.N, s.K, y.get(), workspace.get());
      const std::vector<float> first = y.read();
      std::vector<double> ref(y.count);
      for (int m = 0; m < s.M; ++m)
        for (int n = 0; n < s.N; ++n) {
          double sum = s.bias ? bias[n] : 0;
          for (int k = 0; k < s.K; ++k) sum += x_ref[size_t(m) * s.K + k] * w_ref[size_t(n) * s.K + k];
          ref[size_t(m) * s.N + n] = sum;
        }
      const std::string name = "M" + std::to_string(s.M) + " N" + std::to_string(s.N) + " K" + std::to_string(s.K) +
                               (s.bias ? " +bias" : "");
      c.report(kernel.c_str(), dtype_name<T>(), name, first, ref, kFloat32Bound);
      PAGEDLLM_CUDA_CHECK(cudaMemset(y.get(), 0xff, y.count * sizeof(float)));
      gemm.linear(x_dev.get(), w_dev.get(), bias_ptr, s.M, s.N, s.K, y.get(), workspace.get());
      c.report(kernel.c_str(), dtype_name<T>(), name + " rerun bits", y.read(), std::vector<double>(first.begin(), first.end()),
               0.0);
    }
  }
}

// reshape_and_cache, copy_blocks and paged attention share one scattered pool: sequences get shuffled blocks,
// so a kernel that ignores the block table reads the wrong tokens. With a sliding window, the leading blocks behind
// each chunk's first row's window are "released": they point at a block of NaNs, so any read of one fails the check.
template <typename T>
void check_cache_and_attention(Checker& c, int head_dim, int num_heads, int num_kv_heads, const std::vector<int>& contexts,
                               const std::vector<int>& query_lens, double scale_override = 0, float softcap = 0.f,
                               int window = 0, const std::vector<float>& alibi_slopes = {}) {
  const int layers = 2, layer = 1, block_size = 16;
  const KvLayout layout{layers, block_size, num_kv_heads, head_dim};
  const int num_seqs = int(contexts.size());
  int max_blocks = 0, total_blocks = 0;
  for (int ctx : contexts) {
    max_blocks = std::max(max_blocks, ceil_div(ctx, block_size));
    total_blocks += ceil_div(ctx, block_size);
  }
  const int num_blocks = total_blocks + 4;
  std::vector<int> order(num_blocks);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), c.rng());
  std::vector<int32_t> block_tables(size_t(num_seqs) * max_blocks, -1);
  int next = 0;
  for (int s = 0; s < num_seqs; ++s)
    for (int b = 0; b < ceil_div(contexts[s], block_size); ++b) block_tables[size_t(s) * max_blocks + b] = order[next++];

  // Cached history as random T values written straight into the pool, in fp64 for the reference.
  std::vector<double> pool_ref;
  const auto pool_host = c.random_rounded<T>(size_t(num_blocks) * layout.block_stride(), 1.f, &pool_ref);
  DeviceArray<T> pool(pool_host);

  // New tokens: the last query_lens[s] tokens of each context; written by reshape_and_cache.
  const int q_width = num_heads * head_dim, kv_width = num_kv_heads * head_dim, width = q_width + 2 * kv_width;
  std::vector<int32_t> query_start(num_seqs + 1, 0), slots, row_seq, row_kv_len;
  for (int s = 0; s < num_seqs; ++s) {
    query_start[s + 1] = query_start[s] + query_lens[s];
    for (int j = 0; j < query_lens[s]; ++j) {
      const int token = contexts[s] - query_lens[s] + j;
      slots.push_back(block_tables[size_t(s) * max_blocks + token / block_size] * block_size + token % block_size);
      row_seq.push_back(s);
      row_kv_len.push_back(token + 1);
    }
  }
  const int rows = int(slots.size());
  const auto qkv = c.random_floats(size_t(rows) * width, 1.f);
  DeviceArray<float> qkv_dev(qkv);
  DeviceArray<int32_t> slot_dev(slots), seq_dev(row_seq), len_dev(row_kv_len);
  reshape_and_cache(qkv_dev.get(), width, q_width, q_width + kv_width, slot_dev.get(), rows, pool.get(), layout, layer, nullptr);
  for (int r = 0; r < rows; ++r) {
    const size_t base = size_t(slots[r] / block_size) * layout.block_stride() + size_t(slots[r] % block_size) * kv_width;
    for (int i = 0; i < kv_width; ++i) {
      pool_ref[base + layout.key_offset(layer) + i] = host_float(host_from_float<T>(qkv[size_t(r) * width + q_width + i]));
      pool_ref[base + layout.value_offset(layer) + i] =
          host_float(host_from_float<T>(qkv[size_t(r) * width + q_width + kv_width + i]));
    }
  }
  const std::string shape = "hd" + std::to_string(head_dim) + " heads " + std::to_string(num_heads) + "/" +
                            std::to_string(num_kv_heads) + " max ctx " + std::to_string(*std::max_element(contexts.begin(), contexts.end())) +
                            (softcap > 0.f ? " softcap " + std::to_string(softcap) + ", scale " + std::to_string(scale_override) : "") +
                            (window > 0 ? " window " + std::to_string(window) : "") + (alibi_slopes.empty() ? "" : " alibi");
  c.report("reshape_and_cache", dtype_name<T>(), shape + " (whole pool)", pool.read(), pool_ref, 0.0);
  // The released blocks (the engine's -1 entries) point at a spare block filled with NaN; restored before copy_blocks.
  const int released_block = order[num_blocks - 3];
  if (window > 0) {
    for (int s = 0; s < num_seqs; ++s)
      for (int b = 0; b < unread_leading_blocks(contexts[s] - query_lens[s], window, block_size); ++b)
        block_tables[size_t(s) * max_blocks + b] = released_block;
    const std::vector<T> nans(layout.block_stride(), host_from_float<T>(NAN));
    PAGEDLLM_CUDA_CHECK(cudaMemcpy(pool.get() + size_t(released_block) * layout.block_stride(), nans.data(),
                                   nans.size() * sizeof(T), cudaMemcpyHostToDevice));
  }

  DeviceArray<int32_t> table_dev(block_tables);
  const int max_kv_len = *std::max_element(contexts.begin(), contexts.end());
  AttentionRows attention_rows{rows, max_kv_len, seq_dev.get(), len_dev.get(), table_dev.get(), max_blocks};
  attention_rows.softcap = softcap;
  attention_rows.window = window;
  DeviceArray<float> slopes_dev(alibi_slopes);
  if (!alibi_slopes.empty()) attention_rows.alibi_slopes = slopes_dev.get();
  DeviceMemory workspace(std::max<size_t>(1, paged_attention_workspace_bytes(rows, num_heads, head_dim, max_kv_len)));
  auto out = DeviceArray<T>::poisoned(size_t(rows) * q_width);
  const double scale = scale_override > 0 ? scale_override : 1 / std::sqrt(double(head_dim));
  const bool tiles_only = attention_tiles_only(head_dim);  // the per-row kernel cannot read such heads: split only
  if (!tiles_only)
    paged_attention(qkv_dev.get(), width, num_heads, pool.get(), layout, layer, float(scale), attention_rows,
                    workspace.as<float>(), out.get(), nullptr);
  std::vector<double> ref(out.count, 0.0);
  for (int r = 0; r < rows; ++r) {
    const int s = row_seq[r];
    for (int h = 0; h < num_heads; ++h) {
      const int kvh = h / (num_heads / num_kv_heads);
      // The row sees tokens [first, row_kv_len): its last `window` ones with a window.
      const int first = first_visible_position(row_kv_len[r] - 1, window);
      std::vector<double> logits(row_kv_len[r], 0.0);
      double max_logit = -INFINITY;
      for (int t = first; t < row_kv_len[r]; ++t) {
        const size_t base = size_t(block_tables[size_t(s) * max_blocks + t / block_size]) * layout.block_stride() +
                            size_t(t % block_size) * kv_width + size_t(kvh) * head_dim;
        double dot = 0;
        for (int d = 0; d < head_dim; ++d)
          dot += double(qkv[size_t(r) * width + h * head_dim + d]) * pool_ref[base + layout.key_offset(layer) + d];
        logits[t] = dot * scale;
        if (softcap > 0.f) logits[t] = softcap * std::tanh(logits[t] / softcap);  // Gemma 2
        if (!alibi_slopes.empty()) logits[t] += double(alibi_slopes[h]) * (t - (row_kv_len[r] - 1));  // BLOOM, MPT
        max_logit = std::max(max_logit, logits[t]);
      }
      double total = 0;
      for (int t = first; t < row_kv_len[r]; ++t) total += (logits[t] = std::exp(logits[t] - max_logit));
      for (int t = first; t < row_kv_len[r]; ++t) {
        const size_t base = size_t(block_tables[size_t(s) * max_blocks + t / block_size]) * layout.block_stride() +
                            size_t(t % block_size) * kv_width + size_t(kvh) * head_dim;
        for (int d = 0; d < head_dim; ++d)
          ref[size_t(r) * q_width + h * head_dim + d] += logits[t] / total * pool_ref[base + layout.value_offset(layer) + d];
      }
    }
  }
  if (!tiles_only) c.report("paged_attention", dtype_name<T>(), shape, out.read(), ref, storage_bound<T>());

  // The backend's way: decode rows by index through the per-row kernel (workspace for them only), prefill chunks
  // through the tiled kernel; same reference.
  const std::vector<int32_t> context_lens(contexts.begin(), contexts.end());
  const AttentionSplit split = split_attention_rows(query_start.data(), context_lens.data(), num_seqs, tiles_only);
  DeviceArray<int32_t> decode_dev(split.decode_rows), tiles_dev(split.prefill_tiles);
  AttentionRows split_rows = attention_rows;
  split_rows.split = true;
  split_rows.decode_rows = decode_dev.get();
  split_rows.num_decode_rows = int(split.decode_rows.size());
  split_rows.max_decode_kv_len = split.max_decode_kv_len;
  split_rows.prefill_tiles = tiles_dev.get();
  split_rows.num_prefill_tiles = int(split.prefill_tiles.size() / 2);
  DeviceMemory split_workspace(std::max<size_t>(
      1, paged_attention_workspace_bytes(split_rows.num_decode_rows, num_heads, head_dim, split.max_decode_kv_len)));
  auto split_out = DeviceArray<T>::poisoned(size_t(rows) * q_width);
  paged_attention(qkv_dev.get(), width, num_heads, pool.get(), layout, layer, float(scale), split_rows,
                  split_workspace.as<float>(), split_out.get(), nullptr);
  c.report("attention tiled+decode", dtype_name<T>(), shape, split_out.read(), ref, storage_bound<T>());

  if (window > 0)
    PAGEDLLM_CUDA_CHECK(cudaMemcpy(pool.get() + size_t(released_block) * layout.block_stride(),
                                   pool_host.data() + size_t(released_block) * layout.block_stride(),
                                   layout.block_stride() * sizeof(T), cudaMemcpyHostToDevice));
  // copy_blocks: copy two blocks (all layers) onto two others; the rest of the pool must stay as it was.
  const std::vector<int32_t> pairs = {order[0], order[num_blocks - 1], order[1], order[num_blocks - 2]};
  DeviceArray<int32_t> pairs_dev(pairs);
  copy_blocks(pool.get(), pairs_dev.get(), 2, layout, nullptr);
  for (int p = 0; p < 2; ++p)
    std::copy_n(pool_ref.begin() + size_t(pairs[2 * p]) * layout.block_stride(), layout.block_stride(),
                pool_ref.begin() + size_t(pairs[2 * p + 1]) * layout.block_stride());
  c.report("copy_blocks", dtype_name<T>(), shape + " (whole pool)", pool.read(), pool_ref, 0.0);
}

void check_logits_stats(Checker& c) {
  const int rows = 3, vocab = 32000, top_k = 8;
  auto logits = c.random_floats(size_t(rows) * vocab, 3.f);
  logits[5] = logits[77] = 40.f;  // a tie at the top of row 0: the lower id must come first
  DeviceArray<float> logits_dev(logits);
  auto row_max = DeviceArray<float>::poisoned(rows);
  auto row_lse = DeviceArray<float>::poisoned(rows);
  auto top_values = DeviceArray<float>::poisoned(size_t(rows) * top_k);
  auto argmax = DeviceArray<int32_t>(std::vector<int32_t>(rows, -7));
  auto top_ids = DeviceArray<int32_t>(std::vector<int32_t>(size_t(rows) * top_k, -7));
  logits_row_stats(logits_dev.get(), rows, vocab, top_k, row_max.get(), argmax.get(), row_lse.get(), top_values.get(),
                   top_ids.get(), nullptr);
  std::vector<double> max_ref(rows), lse_ref(rows), values_ref, ids_ref, argmax_ref(rows);
  for (int r = 0; r < rows; ++r) {
    const float* row = logits.data() + size_t(r) * vocab;
    std::vector<int> ids(vocab);
    std::iota(ids.begin(), ids.end(), 0);
    std::stable_sort(ids.begin(), ids.end(), [row](int a, int b) { return row[a] > row[b]; });
    max_ref[r] = row[ids[0]];
    argmax_ref[r] = ids[0];
    double sum = 0;
    for (int i = 0; i < vocab; ++i) sum += std::exp(double(row[i]) - max_ref[r]);
    lse_ref[r] = max_ref[r] + std::log(sum);
    for (int j = 0; j < top_k; ++j) {
      values_ref.push_back(row[ids[j]]);
      ids_ref.push_back(ids[j]);
    }
  }
  auto as_floats = [](const std::vector<int32_t>& v) { return std::vector<float>(v.begin(), v.end()); };
  c.report("logits_row_stats", "f32", "row max", row_max.read(), max_ref, 0.0);
  c.report("logits_row_stats", "f32", "argmax (ties: lowest id)", as_floats(argmax.read()), argmax_ref, 0.0);
  c.report("logits_row_stats", "f32", "log-sum-exp", row_lse.read(), lse_ref, 1e-5);
  c.report("logits_row_stats", "f32", "top-8 values", top_values.read(), values_ref, 0.0);
  c.report("logits_row_stats", "f32", "top-8 ids", as_floats(top_ids.read()), ids_ref, 0.0);
}

// MoE routing (moe_kernels.cu): the fp32 router GEMM, then softmax top-k against float64, with ties (equal
// probabilities go to the lower expert first, as native/cpu/moe.cpp's moe_route), renormalised and not.
void check_moe_routing(Checker& c) {
  const int rows = 40, hidden = 300, experts = 8, top_k = 3, outputs = experts + 1;  // + a shared expert's gate row
  const auto x = c.random_floats(size_t(rows) * hidden, 1.f), w = c.random_floats(size_t(outputs) * hidden, 0.1f);
  DeviceArray<float> x_dev(x), w_dev(w);
  auto logits_dev = DeviceArray<float>::poisoned(size_t(rows) * outputs);
  moe_router_logits(x_dev.get(), rows, hidden, w_dev.get(), outputs, logits_dev.get(), nullptr);
  std::vector<double> logits_ref(logits_dev.count);
  for (int r = 0; r < rows; ++r)
    for (int e = 0; e < outputs; ++e) {
      double sum = 0;
      for (int h = 0; h < hidden; ++h) sum += double(x[size_t(r) * hidden + h]) * w[size_t(e) * hidden + h];
      logits_ref[size_t(r) * outputs + e] = sum;
    }
  c.report("moe_router_logits", "f32", "40 rows, hidden 300, 8 experts + shared gate", logits_dev.read(), logits_ref, 1e-5);

  // Routing on logits chosen here: row 0 all equal (experts 0, 1, 2), row 1 a tie at the top (2 before 5), row 2 a tie
  // for the last place (3 before 6), row 3 exactly equal weights after the first; the rest random.
  auto logits = c.random_floats(size_t(rows) * outputs, 2.f);
  for (int e = 0; e < outputs; ++e) logits[e] = 0.5f;
  logits[outputs + 2] = logits[outputs + 5] = 9.f;
  for (int e = 0; e < experts; ++e) logits[2 * outputs + e] = -1.f;
  logits[2 * outputs + 1] = 4.f, logits[2 * outputs + 4] = 3.f, logits[2 * outputs + 3] = logits[2 * outputs + 6] = 2.f;
  for (int e = 0; e < experts; ++e) logits[3 * outputs + e] = e == 7 ? 1.f : -3.f;
  DeviceArray<float> routed_logits(logits);
  for (const bool renormalize : {false, true}) {
    auto experts_dev = DeviceArray<int32_t>(std::vector<int32_t>(size_t(rows) * top_k, -7));
    auto weights_dev = DeviceArray<float>::poisoned(size_t(rows) * top_k);
    moe_route(routed_logits.get(), outputs, rows, experts, top_k, renormalize, experts_dev.get(), weights_dev.get(), nullptr);
    const auto ref = softmax_top_k_reference(logits.data(), outputs, rows, experts, top_k, renormalize);
    const auto ids = experts_dev.read();
    const std::string name = renormalize ? "top-3 of 8, renormalised" : "top-3 of 8";
    c.report("moe_route", "f32", name + ": experts (ties: lower index first)", std::vector<float>(ids.begin(), ids.end()), ref.experts, 0.0);
    c.report("moe_route", "f32", name + ": weights", weights_dev.read(), ref.weights, 1e-5);
  }
}

// PhiMoE's sparsemixer (sparsemixer_kernels.cu) against float64 (shared_checks.h's sparsemixer_reference). The crafted
// rows of craft_sparsemixer_rows (all equal, a tie at the top, masks under both picks, a negative top), the rest random;
// logits with the stride of a wider router.
void check_sparsemixer(Checker& c) {
  const int rows = 37, experts = 6, stride = 7;
  const double jitter_eps = 0.25;  // threshold 0.5
  auto logits = c.random_floats(size_t(rows) * stride, 2.f);
  craft_sparsemixer_rows(logits, stride);
  DeviceArray<float> logits_dev(logits);
  auto experts_dev = DeviceArray<int32_t>(std::vector<int32_t>(size_t(rows) * 2, -7));
  auto weights_dev = DeviceArray<float>::poisoned(size_t(rows) * 2);
  sparsemixer_route(logits_dev.get(), stride, rows, experts, jitter_eps, experts_dev.get(), weights_dev.get(), nullptr);
  const auto ref = sparsemixer_reference(logits.data(), stride, rows, experts, jitter_eps);
  const auto ids = experts_dev.read();
  c.report("sparsemixer_route", "f32", "6 experts, jitter 0.25: experts (ties: lower index first)", std::vector<float>(ids.begin(), ids.end()), ref.experts, 0.0);
  c.report("sparsemixer_route", "f32", "6 experts, jitter 0.25: masked-softmax weights", weights_dev.read(), ref.weights, 1e-5);
}

// The device counting sort against pagedllm/moe_plan.h's host order (over two 2048-slot chunks), the gather of each
// expert's rows, and the weighted combine in rank order with a gated, an ungated and no shared expert.
template <typename T>
void check_moe_dispatch(Checker& c) {
  const int rows = 900, top_k = 3, experts = 6, hidden = 72, slots = rows * top_k;
  const std::vector<int32_t> chosen = random_distinct_picks(c.rng(), rows, experts, top_k);
  std::vector<int32_t> sorted_ref(slots), positions_ref(slots), counts_ref(experts);
  moe_sort_slots(chosen.data(), slots, experts, sorted_ref.data(), positions_ref.data(), counts_ref.data());
  DeviceArray<int32_t> chosen_dev(chosen);
  auto chunk_counts = DeviceArray<int32_t>::poisoned(size_t(moe_sort_chunks(slots)) * experts);
  auto counts = DeviceArray<int32_t>::poisoned(experts), offsets = DeviceArray<int32_t>::poisoned(experts);
  auto sorted = DeviceArray<int32_t>::poisoned(slots), positions = DeviceArray<int32_t>::poisoned(slots);
  moe_sort_slots(chosen_dev.get(), slots, experts, chunk_counts.get(), counts.get(), offsets.get(), sorted.get(), positions.get(), nullptr);
  auto as_doubles = [](const std::vector<int32_t>& v) { return std::vector<double>(v.begin(), v.end()); };
  auto as_floats = [](const std::vector<int32_t>& v) { return std::vector<float>(v.begin(), v.end()); };
  c.report("moe_sort_slots", "i32", "2700 slots of 6 experts: sorted slots", as_floats(sorted.read()), as_doubles(sorted_ref), 0.0);
  c.report("moe_sort_slots", "i32", "slot positions", as_floats(positions.read()), as_doubles(positions_ref), 0.0);
  c.report("moe_sort_slots", "i32", "counts", as_floats(counts.read()), as_doubles(counts_ref), 0.0);

  std::vector<double> x_ref;
  const auto x = c.random_rounded<T>(size_t(rows) * hidden, 1.f, &x_ref);
  DeviceArray<T> x_dev(x);
  auto gathered = DeviceArray<T>::poisoned(size_t(slots) * hidden);
  moe_gather_rows(x_dev.get(), hidden, sorted.get(), slots, top_k, gathered.get(), nullptr);
  std::vector<double> gathered_ref(gathered.count);
  for (int i = 0; i < slots; ++i)
    std::copy_n(x_ref.begin() + size_t(sorted_ref[i] / top_k) * hidden, hidden, gathered_ref.begin() + size_t(i) * hidden);
  c.report("moe_gather_rows", dtype_name<T>(), "each expert's rows in sorted order", gathered.read(), gathered_ref, 0.0);

  const auto expert_out = c.random_floats(size_t(slots) * hidden, 1.f), weights = c.random_floats(slots, 0.5f);
  const auto shared_out = c.random_floats(size_t(rows) * hidden, 1.f), gate_logits = c.random_floats(size_t(rows) * 2, 2.f);
  DeviceArray<float> expert_dev(expert_out), weights_dev(weights), shared_dev(shared_out), gate_dev(gate_logits);
  for (const int shared_kind : {0, 1, 2}) {  // none, gated (stride 2: the router's extra column), ungated
    auto out = DeviceArray<float>::poisoned(size_t(rows) * hidden);
    moe_combine(expert_dev.get(), positions.get(), weights_dev.get(), rows, top_k, hidden, shared_kind ? shared_dev.get() : nullptr,
                shared_kind == 1 ? gate_dev.get() + 1 : nullptr, 2, out.get(), nullptr);
    const auto ref = moe_combine_reference(expert_out, positions_ref, weights, rows, top_k, hidden, shared_kind ? &shared_out : nullptr,
                                           shared_kind == 1 ? &gate_logits : nullptr);
    const char* names[] = {"top-3 in rank order", "+ shared expert under its sigmoid gate", "+ ungated shared expert"};
    c.report("moe_combine", "f32", names[shared_kind], out.read(), ref, 1e-6);
  }
}

// OLMo2's residual add with no norm after it: the fp32 sum in the residual and, rounded once, in the GEMM input; with no
// delta (layer 0) the residual itself. Exact against the host's float sums.
template <typename T>
void check_add_to_residual(Checker& c) {
  const size_t count = 3 * 4096 + 5;
  const auto residual = c.random_floats(count, 2.f), delta = c.random_floats(count, 0.5f);
  DeviceArray<float> residual_dev(residual), delta_dev(delta);
  auto out = DeviceArray<T>::poisoned(count);
  add_to_residual(residual_dev.get(), delta_dev.get(), count, out.get(), nullptr);
  std::vector<double> sums(count), rounded(count);
  for (size_t i = 0; i < count; ++i) {
    const float sum = residual[i] + delta[i];
    sums[i] = sum;
    rounded[i] = host_float(host_from_float<T>(sum));
  }
  c.report("add_to_residual", dtype_name<T>(), "residual += delta", residual_dev.read(), sums, 0.0);
  c.report("add_to_residual", dtype_name<T>(), "out = residual rounded once", out.read(), rounded, 0.0);
  add_to_residual(residual_dev.get(), static_cast<const float*>(nullptr), count, out.get(), nullptr);
  for (size_t i = 0; i < count; ++i) rounded[i] = host_float(host_from_float<T>(float(sums[i])));
  c.report("add_to_residual", dtype_name<T>(), "no delta: out = residual rounded", out.read(), rounded, 0.0);
}

// Prompt ranking (prompt_ranking_kernels.cu) against native/cpu/prompt_logprobs.cpp's definitions in float64: ties,
// NaN in a row and as the token, rows of -inf and +inf, a top-N past the values that are not NaN, top-N 0 and 64. The
// entries sit after two rows of the step's own (never read) and are ranked in two launches, as two LM-head chunks.
void check_prompt_ranking(Checker& c) {
  const int vocab = 4096, own = 2, entries = 9;
  const float inf = INFINITY, nan = NAN;
  std::vector<float> logits = c.random_floats(size_t(own + entries) * vocab, 3.f);
  const auto row = [&](int e) { return logits.data() + size_t(own + e) * vocab; };
  std::fill(logits.begin(), logits.begin() + size_t(own) * vocab, nan);
  std::vector<int32_t> tokens(entries), top_ns = {0, 8, 10, 3, 8, 4, 64, 2, 3};
  for (int e = 0; e < entries; ++e) tokens[e] = c.uniform(0, vocab - 1);
  for (const int id : {3, 90, 1000, 2047, 4000}) row(1)[id] = 7.f;  // five tied near the top: top 8 lists them by id
  row(1)[tokens[1] = 500] = row(1)[17] = row(1)[3001] = 6.f;          // the token tied with two others
  for (const int id : {0, 1, 256, 777, 4095}) row(2)[id] = nan;       // NaN where a thread's first value is
  row(3)[tokens[3]] = nan;                                           // the token NaN: rank 1, logprob NaN
  std::fill(row(4), row(4) + vocab, -inf);                           // 3 values above -inf, top 8 past them
  row(4)[10] = 1.f, row(4)[20] = 2.f, row(4)[30] = 1.f, tokens[4] = 4000;
  row(5)[9] = row(5)[99] = inf;                                      // +inf: the log-sum-exp is +inf
  std::fill(row(7), row(7) + vocab, -inf);
  std::fill(row(8), row(8) + vocab, nan);
  int stride = 1;
  for (const int n : top_ns) stride = std::max(stride, n + 1);
  DeviceArray<float> logits_dev(logits);
  std::vector<int32_t> inputs(tokens);
  inputs.insert(inputs.end(), top_ns.begin(), top_ns.end());
  DeviceArray<int32_t> inputs_dev(inputs);
  auto logprobs = DeviceArray<double>::poisoned(entries);
  auto top_logprobs = DeviceArray<double>::poisoned(size_t(entries) * stride);
  auto ranks = DeviceArray<int32_t>(std::vector<int32_t>(entries, -7));
  auto counts = DeviceArray<int32_t>(std::vector<int32_t>(entries, -7));
  auto top_ids = DeviceArray<int32_t>(std::vector<int32_t>(size_t(entries) * stride, -7));
  const PromptRanksView out{logprobs.get(), ranks.get(), counts.get(), top_ids.get(), top_logprobs.get()};
  const int split = 4;  // entries [0, 4) in the first chunk (after the own rows), the rest at the start of the next
  rank_prompt_rows(logits_dev.get(), vocab, 0, split, own, inputs_dev.get(), inputs_dev.get() + entries, stride, out, nullptr);
  rank_prompt_rows(logits_dev.get() + size_t(own + split) * vocab, vocab, split, entries - split, 0, inputs_dev.get(),
                   inputs_dev.get() + entries, stride, out, nullptr);
  const std::vector<double> got_logprobs = logprobs.read(), got_top_logprobs = top_logprobs.read();
  const std::vector<int32_t> got_ranks = ranks.read(), got_counts = counts.read(), got_ids = top_ids.read();
  // Finite values compared numerically; a non-finite one must be the same NaN / inf (each disagreement counts 1).
  std::vector<double> finite_got, finite_ref, rank_got, rank_ref, ids_got, ids_ref;
  std::vector<double> nonfinite_mismatches;
  const auto compare = [&](double got, double ref) {
    if (std::isfinite(ref) && std::isfinite(got)) {
      finite_got.push_back(got);
      finite_ref.push_back(ref);
    } else {
      nonfinite_mismatches.push_back(std::isnan(ref) ? !std::isnan(got) : got != ref);
    }
  };
  for (int e = 0; e < entries; ++e) {
    const float* r = row(e);
    double max = -inf;
    bool has_nan = false;
    std::vector<int> ids;
    for (int i = 0; i < vocab; ++i) {
      if (std::isnan(r[i])) {
        has_nan = true;
        continue;
      }
      max = std::max(max, double(r[i]));
      ids.push_back(i);
    }
    double sum = 0;
    if (std::isfinite(max))
      for (int i = 0; i < vocab; ++i) sum += std::exp(double(r[i]) - max);
    const double lse = has_nan ? double(nan) : !std::isfinite(max) ? max : max + std::log(sum);
    const float value = r[tokens[e]];
    int at_least = 0;
    for (int i = 0; i < vocab; ++i) at_least += r[i] >= value;
    rank_ref.push_back(std::max(at_least, 1));
    rank_got.push_back(got_ranks[e]);
    compare(got_logprobs[e], double(value) - lse);
    std::stable_sort(ids.begin(), ids.end(), [r](int a, int b) { return r[a] > r[b]; });
    ids.resize(std::min<size_t>(ids.size(), top_ns[e]));
    if (std::find(ids.begin(), ids.end(), tokens[e]) == ids.end()) ids.push_back(tokens[e]);
    rank_ref.push_back(double(ids.size()));  // the top count
    rank_got.push_back(got_counts[e]);
    for (size_t j = 0; j < ids.size(); ++j) {
      ids_ref.push_back(ids[j]);
      ids_got.push_back(got_ids[size_t(e) * stride + j]);
      compare(got_top_logprobs[size_t(e) * stride + j], double(r[ids[j]]) - lse);
    }
  }
  c.report("rank_prompt_rows", "f32", "ranks and top counts", rank_got, rank_ref, 0.0);
  c.report("rank_prompt_rows", "f32", "top ids (ties: lowest id; NaN never)", ids_got, ids_ref, 0.0);
  c.report("rank_prompt_rows", "f32", "finite logprobs and top logprobs", finite_got, finite_ref, 1e-6);
  c.report("rank_prompt_rows", "f32", "NaN / inf logprobs as the CPU's rules", nonfinite_mismatches,
           std::vector<double>(nonfinite_mismatches.size(), 0.0), 0.0);
}

template <typename T>
void check_dtype(Checker& c, int num_sms) {
  check_norms<T>(c);
  check_activation_and_embedding<T>(c);
  check_moe_dispatch<T>(c);
  check_add_to_residual<T>(c);
  check_linear<T>(c, num_sms);
  // decode rows (one query each) with a context past one partition, plus a causal prefill chunk; GQA and MHA
  check_cache_and_attention<T>(c, 128, 8, 2, {1, 37, 700, 1500}, {1, 1, 1, 5});
  check_cache_and_attention<T>(c, 64, 4, 4, {20, 300}, {20, 3});
  check_cache_and_attention<T>(c, 32, 8, 4, {33, 2100}, {33, 1});  // the tiny test model's head shape
  check_cache_and_attention<T>(c, 256, 4, 2, {40, 90, 600}, {40, 17, 1});  // head_dim 256: over 48 KiB of tile memory
  check_cache_and_attention<T>(c, 80, 16, 2, {5, 300, 1030}, {1, 1, 7});  // 10 of 16 lanes read a token; 8 heads/block
  check_cache_and_attention<T>(c, 16, 6, 2, {3, 260}, {3, 1});  // GQA group 3: one head per block; 2 lanes per token
  // Gemma 2: query_pre_attn_scalar 24 (not head_dim 32) and a soft cap low enough to bend scores of this size
  check_cache_and_attention<T>(c, 32, 4, 2, {30, 700}, {30, 1}, 1 / std::sqrt(24.0), 0.5f);
  // head_dim 12 (not a multiple of 8): decode rows become one-row tiles of the tiled kernel
  check_cache_and_attention<T>(c, 12, 4, 2, {1, 45, 300}, {1, 45, 1});
  // Sliding windows (pagedllm/sliding_window.h). 100: decode rows at 700 start at token 600, mid-block and
  // mid-partition, and the 5-row chunk at 1500 has 87 released blocks; 7: a 45-row chunk from token 0 (each row's
  // window moves inside one tile) and a 40-row chunk after 260 cached tokens; 300: a decode row at 2100 skips
  // whole partitions and starts mid-partition; Gemma 2's soft cap with a window of 16; head_dim 12 (tiles only).
  check_cache_and_attention<T>(c, 128, 8, 2, {1, 37, 700, 1500}, {1, 1, 1, 5}, 0, 0.f, 100);
  check_cache_and_attention<T>(c, 64, 4, 4, {45, 300}, {45, 40}, 0, 0.f, 7);
  check_cache_and_attention<T>(c, 32, 8, 4, {33, 2100}, {33, 1}, 0, 0.f, 300);
  check_cache_and_attention<T>(c, 32, 4, 2, {30, 700}, {30, 1}, 1 / std::sqrt(24.0), 0.5f, 16);
  check_cache_and_attention<T>(c, 12, 4, 2, {1, 45, 300}, {1, 45, 1}, 0, 0.f, 20);
  // ALiBi (BLOOM, MPT): slopes 2^-1 .. 2^-8, decode rows past one partition and a causal prefill chunk; per-row and tiled
  check_cache_and_attention<T>(c, 64, 8, 8, {1, 37, 700, 40}, {1, 1, 1, 40}, 0, 0.f, 0, {0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f, 0.015625f, 0.0078125f, 0.00390625f});
  // Many decode rows (decode_attention.cuh's plan): 512-token partitions and a reduce (rows x 256-token partitions >=
  // 256), one 512-token partition, one 256-token partition (no reduce), group 8 at head_dim 256 (4 heads per block).
  std::vector<int> many(96), long_rows(130), short_rows(40);
  for (int& ctx : many) ctx = 300 + int(c.rng()() % 801);
  for (int& ctx : long_rows) ctx = 257 + int(c.rng()() % 256);
  for (int& ctx : short_rows) ctx = 1 + int(c.rng()() % 256);
  check_cache_and_attention<T>(c, 64, 2, 1, many, std::vector<int>(many.size(), 1));
  check_cache_and_attention<T>(c, 128, 32, 8, long_rows, std::vector<int>(long_rows.size(), 1));
  check_cache_and_attention<T>(c, 128, 8, 2, short_rows, std::vector<int>(short_rows.size(), 1), 0, 0.f, 100);
  check_cache_and_attention<T>(c, 256, 16, 2, {70, 513}, {1, 1});
  check_layernorm_family<T>(c);
}

}  // namespace

std::string run_cuda_kernel_checks(uint32_t seed) {
  std::string why;
  if (!cuda_device_available(&why)) throw std::runtime_error("no CUDA device: " + why);
  cudaDeviceProp prop{};
  PAGEDLLM_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  Checker checker(seed);
  check_dtype<__nv_bfloat16>(checker, prop.multiProcessorCount);
  check_dtype<__half>(checker, prop.multiProcessorCount);
  check_rotary(checker);
  check_softcap(checker);
  check_scale_values(checker);
  check_head_norm(checker);
  check_moe_routing(checker);
  check_sparsemixer(checker);
  check_logits_stats(checker);
  check_prompt_ranking(checker);
  PAGEDLLM_CUDA_CHECK(cudaDeviceSynchronize());
  return checker.json();
}

}  // namespace pagedllm
