// Zamba2's weights beyond its Mamba-2 layers (zamba2_forward.h runs them): the shared transformer blocks, and per layer
// that runs one, its linear into the mixer's input and its LoRA adapters on the block's projections.
#pragma once
#include <vector>

#include "kernels.h"
#include "mla.h"  // VectorLoader
#include "moe.h"  // MatrixLoader

namespace pagedllm {
namespace cpu {

// One shared transformer block (src/engine/model/zamba2-tensors.ts names it model.shared_blocks.B.*).
struct Zamba2Block {
  std::vector<float> input_norm;   // [2 * hidden_size]: over [hidden | embeddings]
  WeightMatrix qkv;                // [q | k | v rows, 2 * hidden_size]
  WeightMatrix o_proj;             // [hidden_size, num_heads * head_dim]
  std::vector<float> pre_ff_norm;  // [hidden_size]
  WeightMatrix gate_up, down;      // the gated MLP: [2 * intermediate, hidden], [hidden, intermediate]
};

// A low-rank adapter: x -> up(down(x)), added to a projection's output.
struct LowRank {
  WeightMatrix down, up;  // [rank, in], [out, rank]
};

// A layer that runs a shared block: its own adapters (the block's adapter for this use) and linear.
struct Zamba2LayerWeights {
  LowRank gate_up;
  LowRank q, k, v;  // with attention_adapters only
  WeightMatrix linear;  // [hidden_size, hidden_size]
};

struct Zamba2Weights {
  std::vector<Zamba2Block> blocks;
  std::vector<Zamba2LayerWeights> layers;  // [num_layers]; empty for a layer without a shared block
  uint64_t bytes() const;
};

Zamba2Weights load_zamba2_weights(const ModelConfig& config, WeightFormat format, const MatrixLoader& load, const VectorLoader& norm);

}  // namespace cpu
}  // namespace pagedllm
