// Runs head_norm_kernels.cuh's kernel (Qwen3's per-head q/k RMSNorm) on the CPU (cuda_emulation.h) against float64, as
// kernel_checks.cu's check_head_norm: head_dim 128 (four floats a lane) and 12 (lanes with nothing), 5 q heads and 3 k
// heads (a block of both), each with its own weights; and 6 + 3 heads, whose last block has one head and three warps
// that must not touch v. v must keep its exact bits.
// build: c++ -std=c++17 -O2 -Inative/include native/cuda/emulation/head_norm.cpp   usage: head_norm [seed]
#include <cstring>

#include "cuda_emulation.h"
#include "emulation_checks.h"

#include "../head_norm_kernels.cuh"

using namespace pagedllm::cuda;

int main(int argc, char** argv) {
  EmulationChecks checks("head_rms_norm", argc, argv);
  struct Shape {
    int head_dim, heads, kv_heads;
  };
  for (const Shape shape : {Shape{128, 5, 3}, Shape{12, 5, 3}, Shape{64, 6, 3}}) {
    const int tokens = 6, head_dim = shape.head_dim, heads = shape.heads, kv_heads = shape.kv_heads, width = (heads + 2 * kv_heads) * head_dim;
    const float eps = 1e-6f;
    const auto input = checks.random_floats(size_t(tokens) * width, 2.f);
    const auto q_weight = checks.random_floats(head_dim, 1.f), k_weight = checks.random_floats(head_dim, 1.f);
    std::vector<float> qkv = input;
    launch({unsigned(tokens), unsigned((heads + kv_heads + kHeadsPerBlock - 1) / kHeadsPerBlock), 1}, 32 * kHeadsPerBlock,
           [&] { head_rms_norm_kernel(qkv.data(), width, heads, kv_heads, head_dim, q_weight.data(), k_weight.data(), eps); });
    std::vector<double> ref(input.begin(), input.end());
    for (int t = 0; t < tokens; ++t)
      for (int h = 0; h < heads + kv_heads; ++h) {
        const size_t at = size_t(t) * width + size_t(h) * head_dim;
        double sum = 0;
        for (int i = 0; i < head_dim; ++i) sum += ref[at + i] * ref[at + i];
        const double inv = 1 / std::sqrt(sum / head_dim + eps);
        for (int i = 0; i < head_dim; ++i) ref[at + i] *= inv * (h < heads ? q_weight : k_weight)[i];
      }
    const std::string name = "head_dim " + std::to_string(head_dim) + ", " + std::to_string(heads) + " q and " +
                             std::to_string(kv_heads) + " k heads";
    checks.report(name, qkv, ref, 1e-5);
    bool v_kept = true;
    for (int t = 0; t < tokens; ++t) {
      const size_t v = size_t(t) * width + size_t(heads + kv_heads) * head_dim;
      v_kept = v_kept && std::memcmp(&qkv[v], &input[v], size_t(kv_heads) * head_dim * sizeof(float)) == 0;
    }
    checks.expect(name + ": v untouched", v_kept);
  }
  return checks.finish();
}
