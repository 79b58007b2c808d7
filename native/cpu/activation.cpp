// Gated MLP activations over rows laid out [gate | up] (the fused gate/up projection's output): SwiGLU silu(gate) * up,
// GeGLU gelu_tanh(gate) * up, and act(gate) * up for the other activations a config may name (gelu's erf form, relu).
#include <algorithm>
#include <cmath>

#include "kernels_avx2.h"
#include "row_parallel.h"
#include "scalar_activations.h"

namespace pagedllm {
namespace cpu {

namespace {
// gelu's tanh form 0.5 x (1 + tanh(u)) equals x * sigmoid(2u): one exp, no cancellation in 1 + tanh(u) for negative x.
constexpr float kGeluTwiceSqrt2OverPi = 2.f * 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

template <typename RowsFn, typename ElementFn>
void gated_rows(ThreadPool& pool, const float* gate_up, float* out, int num_rows, int dim, RowsFn vector_rows, ElementFn element) {
  const bool vector = avx2_enabled();
  for_row_ranges(pool, num_rows, static_cast<size_t>(dim) * 8, [&](int begin, int end) {
    if (vector) {
      vector_rows(gate_up, out, begin, end, dim);
      return;
    }
    for (int r = begin; r < end; ++r) {
      const float* gate = gate_up + static_cast<size_t>(r) * 2 * dim;
      const float* up = gate + dim;
      float* out_row = out + static_cast<size_t>(r) * dim;
      for (int i = 0; i < dim; ++i) out_row[i] = element(gate[i]) * up[i];
    }
  });
}
}  // namespace

void silu_and_mul(ThreadPool& pool, const float* gate_up, float* out, int num_rows, int dim) {
  gated_rows(pool, gate_up, out, num_rows, dim, avx2::silu_and_mul_rows, [](float g) { return g / (1.f + std::exp(-g)); });
}

float gelu_tanh(float x) { return x / (1.f + std::exp(-kGeluTwiceSqrt2OverPi * (x + kGeluCubic * x * x * x))); }

void gelu_tanh_and_mul(ThreadPool& pool, const float* gate_up, float* out, int num_rows, int dim) {
  gated_rows(pool, gate_up, out, num_rows, dim, avx2::gelu_tanh_and_mul_rows, [](float g) { return gelu_tanh(g); });
}

float activate(float x, Activation act) {
  switch (act) {
    case Activation::Relu: return x > 0.f ? x : 0.f;
    case Activation::Relu2: return x > 0.f ? x * x : 0.f;
    case Activation::GeluErf: return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f));
    case Activation::GeluTanh: return gelu_tanh(x);
    case Activation::Silu: return x / (1.f + std::exp(-x));
    case Activation::Xielu: break;  // needs its layer's scalars: xielu()
  }
  return x;
}

void gated_and_mul(ThreadPool& pool, Activation act, const float* gate_up, float* out, int num_rows, int dim) {
  if (act == Activation::GeluTanh) return gelu_tanh_and_mul(pool, gate_up, out, num_rows, dim);
  if (act == Activation::Silu) return silu_and_mul(pool, gate_up, out, num_rows, dim);
  // Rare in gated MLPs (a Llama-family config naming gelu or relu): the portable loop, on every build.
  for_row_ranges(pool, num_rows, static_cast<size_t>(dim) * 8, [&](int begin, int end) {
    for (int r = begin; r < end; ++r) {
      const float* gate = gate_up + static_cast<size_t>(r) * 2 * dim;
      const float* up = gate + dim;
      float* out_row = out + static_cast<size_t>(r) * dim;
      for (int i = 0; i < dim; ++i) out_row[i] = activate(gate[i], act) * up[i];
    }
  });
}


XieluParams xielu_params(float stored_alpha_p, float stored_alpha_n, float beta, float eps) {
  return {softplus(stored_alpha_p), beta + softplus(stored_alpha_n), beta, eps};
}

void xielu(ThreadPool& pool, float* x, int num_rows, int dim, const XieluParams& p) {
  for_row_ranges(pool, num_rows, static_cast<size_t>(dim) * 8, [&](int begin, int end) {
    for (size_t i = static_cast<size_t>(begin) * dim; i < static_cast<size_t>(end) * dim; ++i) {
      const float v = x[i];
      x[i] = v > 0.f ? p.alpha_p * v * v + p.beta * v : (std::expm1(std::min(v, p.eps)) - v) * p.alpha_n + p.beta * v;
    }
  });
}

void int8_fake_quant_rows(ThreadPool& pool, float* x, int num_rows, int dim) {
  for_row_ranges(pool, num_rows, static_cast<size_t>(dim) * 4, [&](int begin, int end) {
    for (int r = begin; r < end; ++r) {
      float* row = x + static_cast<size_t>(r) * dim;
      float absmax = 0.f;
      for (int i = 0; i < dim; ++i) absmax = std::max(absmax, std::fabs(row[i]));
      const float scale = 127.f / std::max(absmax, 1e-5f);
      for (int i = 0; i < dim; ++i) row[i] = std::clamp(std::nearbyint(row[i] * scale), -128.f, 127.f) / scale;
    }
  });
}

void ternarize_weights(std::vector<float>& weights) {
  double sum = 0.0;
  for (float w : weights) sum += std::fabs(w);
  const float mean = weights.empty() ? 0.f : static_cast<float>(sum / static_cast<double>(weights.size()));
  const float scale = 1.f / std::max(mean, 1e-5f);
  for (float& w : weights) w = std::clamp(std::nearbyint(w * scale), -1.f, 1.f) / scale;
}

void clamped_swiglu_and_mul(ThreadPool& pool, const float* gate_up, float* out, int num_rows, int dim) {
  constexpr float kLimit = 7.f, kAlpha = 1.702f;
  for_row_ranges(pool, num_rows, static_cast<size_t>(dim) * 8, [&](int begin, int end) {
    for (int r = begin; r < end; ++r) {
      const float* gate = gate_up + static_cast<size_t>(r) * 2 * dim;
      const float* up = gate + dim;
      float* out_row = out + static_cast<size_t>(r) * dim;
      for (int i = 0; i < dim; ++i) {
        const float g = std::min(gate[i], kLimit), u = std::clamp(up[i], -kLimit, kLimit);
        const float glu = g * (1.f / (1.f + std::exp(-(g * kAlpha))));
        out_row[i] = (u + 1.f) * glu;
      }
    }
  });
}

}  // namespace cpu
}  // namespace pagedllm
