// Runs pos_encoding_kernels.cuh on the CPU (cuda_emulation.h): the frequencies under each rope scaling (rope_frequency,
// as rope_inv_freq rounds them to fp32) and the rotary kernel against a float64 rotation whose frequencies are written
// here independently, as kernel_checks.cu's check_rotary: llama3 scaling at positions to 30000 and Phi-3's partial
// rotary (24 of 40 values turn); beyond it, yarn / longrope's per-frequency divisors with their attention factor on cos
// and sin, linear scaling, and 40 heads of 128 (more pairs than the 1024 threads of a block). Each head's values past
// rotary_dim, and all of v, must keep their exact bits.
// build: c++ -std=c++17 -O2 -Inative/include native/cuda/emulation/pos_encoding.cpp   usage: pos_encoding [seed]
#include <cstring>
#include <functional>

#include "cuda_emulation.h"
#include "emulation_checks.h"
#include "../tests/shared_checks.h"

#include "../pos_encoding_kernels.cuh"

using namespace pagedllm::cuda;
using pagedllm::ModelConfig;
using pagedllm::RopeScaling;


void check_rotary(EmulationChecks& checks, const ModelConfig& model, const std::vector<int32_t>& positions,
                  float attention_factor, const std::function<double(int)>& reference_freq, const std::string& name) {
  const int rotated = model.rotary_dim > 0 ? model.rotary_dim : model.head_dim, half = rotated / 2;
  std::vector<float> inv_freq(half);
  for (int i = 0; i < half; ++i) inv_freq[i] = float(rope_frequency(model, i));
  const int tokens = int(positions.size()), heads = model.num_heads + model.num_kv_heads;
  const int width = (model.num_heads + 2 * model.num_kv_heads) * model.head_dim;
  const auto input = checks.random_floats(size_t(tokens) * width, 1.f);
  std::vector<float> qkv = input;
  const int threads = rotary_threads(model.num_heads, model.num_kv_heads, rotated);
  launch({unsigned(tokens), 1, 1}, threads, [&] {
    rotary_kernel(qkv.data(), width, positions.data(), model.num_heads, model.num_kv_heads, model.head_dim, rotated,
                  inv_freq.data(), attention_factor);
  }, rotated * sizeof(float));
  std::vector<double> ref(input.begin(), input.end());
  std::vector<bool> turns(input.size(), false);
  for (int t = 0; t < tokens; ++t)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < half; ++i) {
        const double angle = positions[t] * double(float(reference_freq(i)));
        const size_t at = size_t(t) * width + size_t(h) * model.head_dim + i;
        ref[at] = attention_factor * (input[at] * std::cos(angle) - input[at + half] * std::sin(angle));
        ref[at + half] = attention_factor * (input[at + half] * std::cos(angle) + input[at] * std::sin(angle));
        turns[at] = turns[at + half] = true;
      }
  checks.report(name + " (" + std::to_string(threads) + " threads)", qkv, ref, 1e-5);
  bool kept = true;
  for (size_t i = 0; i < input.size(); ++i) kept = kept && (turns[i] || std::memcmp(&qkv[i], &input[i], sizeof(float)) == 0);
  checks.expect(name + ": the values that do not turn keep their bits", kept);
}

int main(int argc, char** argv) {
  EmulationChecks checks("rotary embedding", argc, argv);
  const ModelConfig llama3 = llama3_rope_config();
  check_rotary(checks, llama3, {0, 1, 17, 4095, 30000}, 1.f, llama3_frequency_reference, "llama3 scaling, positions up to 30000");

  ModelConfig partial;  // Phi-3: the first 24 of 40 values of each head turn, frequencies over them (theta^(-2i / 24))
  partial.head_dim = 40;
  partial.rotary_dim = 24;
  partial.num_heads = 3;
  partial.num_kv_heads = 1;
  partial.rope_theta = 10000.f;
  check_rotary(checks, partial, {0, 3, 500, 4000}, 1.f, [](int i) { return std::pow(10000.0, -2.0 * i / 24); },
               "partial rotary: 24 of head_dim 40");

  ModelConfig divisors;  // yarn / longrope: a divisor per frequency, cos and sin times the attention factor
  divisors.head_dim = 64;
  divisors.num_heads = 8;
  divisors.num_kv_heads = 2;
  divisors.rope_theta = 10000.f;
  divisors.rope_scaling = RopeScaling::Divisors;
  for (int i = 0; i < 32; ++i) divisors.rope_divisors.push_back(1 + std::abs(checks.random_floats(1, 16.f)[0]));
  const std::vector<double> divisor = divisors.rope_divisors;
  check_rotary(checks, divisors, {0, 7, 2000, 65000}, 1.1f,
               [&](int i) { return std::pow(10000.0, -2.0 * i / 64) / divisor[i]; },
               "per-frequency divisors, attention factor 1.1");

  ModelConfig linear;
  linear.head_dim = 32;
  linear.num_heads = 2;
  linear.num_kv_heads = 1;
  linear.rope_scaling = RopeScaling::Linear;
  linear.rope_factor = 4.f;
  check_rotary(checks, linear, {5, 100, 16000}, 1.f, [](int i) { return std::pow(10000.0, -2.0 * i / 32) / 4; },
               "linear scaling by 4");

  ModelConfig wide;  // 40 heads x 64 pairs: each thread turns several pairs
  wide.head_dim = 128;
  wide.num_heads = 32;
  wide.num_kv_heads = 8;
  check_rotary(checks, wide, {1, 9000}, 1.f, [](int i) { return std::pow(10000.0, -2.0 * i / 128); },
               "32 + 8 heads of 128, no scaling");
  return checks.finish();
}
