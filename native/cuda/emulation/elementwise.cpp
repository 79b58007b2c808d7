// Runs the element-wise kernels on the CPU (cuda_emulation.h) as kernel_checks.cu checks them on a GPU: the gated MLP's
// five activations (activation_kernels.cuh) against float64, at a width that takes the float4 path and one that does
// not; the logit soft-cap (softcap_kernels.cuh) against float64; Granite's scale and OLMo2's residual add
// (rms_variant_kernels.cuh) exact against the host's fp32 arithmetic. bf16 and fp16 outputs; each grid-stride kernel
// also on a grid of 2 blocks, so every thread loops.
// build: c++ -std=c++17 -O2 -Inative/include native/cuda/emulation/elementwise.cpp   usage: elementwise [seed]
#include "cuda_emulation.h"
#include "emulation_checks.h"

#include "../activation_kernels.cuh"
#include "../rms_variant_kernels.cuh"
#include "../softcap_kernels.cuh"

using namespace pagedllm::cuda;

// The launchers' grid for `count` values, 256 threads a block; or `blocks` when given.
unsigned grid_for(size_t count, unsigned blocks) { return blocks ? blocks : unsigned(std::min<size_t>(4096, (count + 255) / 256)); }

template <typename T, typename Act>
void check_activation(EmulationChecks& checks, const char* name, double (*reference)(double), const char* dtype,
                      float (*to)(T), double bound) {
  for (const int inter : {701, 700}) {  // 701: element by element; 700 (a multiple of 4): float4 loads
    const int tokens = 9;
    const auto gate_up = checks.random_floats(size_t(tokens) * 2 * inter, 2.f);
    auto out = poisoned<T>(size_t(tokens) * inter);
    launch({unsigned(tokens), unsigned((inter + 4 * kSiluThreads - 1) / (4 * kSiluThreads)), 1}, kSiluThreads,
           [&] { gated_and_mul_kernel<T, Act>(gate_up.data(), inter, out.data()); });
    std::vector<double> ref(out.size());
    for (int t = 0; t < tokens; ++t)
      for (int i = 0; i < inter; ++i)
        ref[size_t(t) * inter + i] = reference(gate_up[size_t(t) * 2 * inter + i]) * gate_up[size_t(t) * 2 * inter + inter + i];
    checks.report(std::string(name) + " (" + dtype + "), 9 tokens, intermediate " + std::to_string(inter), out, ref, bound,
                  [&](T v) { return double(to(v)); });
  }
}

template <typename T>
void check_dtype(EmulationChecks& checks, const char* dtype, float (*to)(T), double bound) {
  check_activation<T, SiluMul>(checks, "silu_and_mul", [](double g) { return g / (1 + std::exp(-g)); }, dtype, to, bound);
  check_activation<T, GeluTanhMul>(checks, "gelu_tanh_and_mul", [](double g) {
    return 0.5 * g * (1 + std::tanh(std::sqrt(2 / 3.14159265358979323846) * (g + 0.044715 * g * g * g)));
  }, dtype, to, bound);
  check_activation<T, ReluMul>(checks, "relu_and_mul", [](double g) { return g > 0 ? g : 0.0; }, dtype, to, bound);
  check_activation<T, Relu2Mul>(checks, "relu2_and_mul", [](double g) { return g > 0 ? g * g : 0.0; }, dtype, to, bound);
  check_activation<T, GeluErfMul>(checks, "gelu_erf_and_mul", [](double g) { return 0.5 * g * (1 + std::erf(g / std::sqrt(2.0))); },
                                  dtype, to, bound);

  // OLMo2's residual add: the fp32 sum in the residual and, rounded once, in the output; with no delta the residual.
  for (const unsigned blocks : {0u, 2u}) {
    const size_t count = 3 * 4096 + 5;
    const auto start = checks.random_floats(count, 2.f), delta = checks.random_floats(count, 0.5f);
    std::vector<float> residual = start;
    auto out = poisoned<T>(count);
    launch({grid_for(count, blocks), 1, 1}, 256, [&] { add_to_residual_kernel<T>(residual.data(), delta.data(), count, out.data()); });
    std::vector<double> sums(count), rounded(count);
    for (size_t i = 0; i < count; ++i) {
      const float sum = start[i] + delta[i];
      sums[i] = sum;
      rounded[i] = to(from_float<T>(sum));
    }
    const std::string grid = blocks ? ", 2 blocks" : "";
    checks.report(std::string("add_to_residual (") + dtype + "): residual += delta" + grid, residual, sums, 0.0);
    checks.report(std::string("add_to_residual (") + dtype + "): out = residual rounded once" + grid, out, rounded, 0.0,
                  [&](T v) { return double(to(v)); });
    out = poisoned<T>(count);
    launch({grid_for(count, blocks), 1, 1}, 256, [&] { add_to_residual_kernel<T>(residual.data(), nullptr, count, out.data()); });
    checks.report(std::string("add_to_residual (") + dtype + "): no delta, out = residual rounded" + grid, out, rounded, 0.0,
                  [&](T v) { return double(to(v)); });
  }
}

int main(int argc, char** argv) {
  EmulationChecks checks("element-wise kernels", argc, argv);
  check_dtype<__nv_bfloat16>(checks, "bf16", __bfloat162float, 8e-3);  // kernel_checks.cu's storage bounds
  check_dtype<__half>(checks, "f16", __half2float, 2e-3);
  for (const unsigned blocks : {0u, 2u}) {
    const std::string grid = blocks ? ", 2 blocks" : "";
    const float cap = 12.5f;  // Gemma 2's final logit soft-cap over values well past it
    const auto logits = checks.random_floats(5000, 30.f);
    std::vector<float> capped = logits;
    launch({grid_for(capped.size(), blocks), 1, 1}, 256, [&] { softcap_kernel(capped.data(), capped.size(), cap); });
    std::vector<double> ref(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) ref[i] = cap * std::tanh(double(logits[i]) / cap);
    checks.report("softcap_values: cap 12.5, 5000 values of scale 30" + grid, capped, ref, 1e-6);

    const float factor = 0.22f;  // Granite's multipliers: one fp32 product per value
    const auto x = checks.random_floats(70000, 5.f);
    std::vector<float> scaled = x;
    launch({grid_for(scaled.size(), blocks), 1, 1}, 256, [&] { scale_kernel(scaled.data(), scaled.size(), factor); });
    ref.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) ref[i] = double(x[i] * factor);
    checks.report("scale_values: factor 0.22, 70000 values" + grid, scaled, ref, 0.0);
  }
  return checks.finish();
}
