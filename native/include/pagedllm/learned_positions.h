// The host check both backends make before reading learned position embeddings (GPT-2, GPT-BigCode; OPT at row p + 2):
// a position past the table is a clear error, never a read past it (on CUDA a kernel would fault). Plain C++, so the
// CPU build's tests check the rule the CUDA backend applies (native/cuda/layernorm_forward.cu).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "backend.h"

namespace pagedllm {

inline void check_learned_positions(const ModelConfig& model, const int32_t* positions, int num_tokens) {
  if (model.learned_positions <= 0) return;
  for (int t = 0; t < num_tokens; ++t) {
    const int64_t row = int64_t(positions[t]) + model.position_offset;
    if (positions[t] < 0 || row >= model.learned_positions)
      throw std::invalid_argument("position " + std::to_string(positions[t]) + " is beyond the learned position embeddings");
  }
}

}  // namespace pagedllm
