// One-value forms of the activations the recurrent layers (Gated DeltaNet, Mamba, Kimi Delta) apply element by element.
#pragma once

#include <cmath>

namespace pagedllm {
namespace cpu {

// torch's softplus (beta 1, threshold 20): log1p(exp(x)), x itself past 20.
inline float softplus(float x) { return x > 20.f ? x : std::log1p(std::exp(x)); }
inline float silu(float x) { return x / (1.f + std::exp(-x)); }

}  // namespace cpu
}  // namespace pagedllm
