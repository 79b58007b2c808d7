// LFM2's gated short-convolution block (Lfm2ShortConv), as transformers computes it: in_proj -> [B | C | x] (each
// hidden_size wide); B * x; a causal depthwise conv1d of kernel short_conv_kernel over it (no bias, no activation),
// carrying the last kernel - 1 inputs of each channel in the sequence's state slot; C * conv; out_proj. Its state is
// a conv state only (LinearStatePool keeps no recurrent state for it).
#pragma once
#include <string>
#include <vector>

#include "kernels.h"
#include "linear_attention.h"

namespace pagedllm {
namespace cpu {

struct ShortConvWeights {
  WeightMatrix in_proj;     // rows: B, C, x [hidden each]
  std::vector<float> conv;  // [hidden, kernel]
  WeightMatrix out_proj;
  uint64_t bytes() const;
};

// Loads `prefix`conv.* (the loader's names: src/engine/model/lfm2-tensors.ts).
ShortConvWeights load_short_conv(const ModelConfig& config, const std::string& prefix, const ReadFloats& read, const LoadStacked& stacked);

struct ShortConvScratch {
  std::vector<float> proj, gated, conv;
};

// One short-conv layer over the batch: hidden [tokens, hidden_size] in, out [tokens, hidden_size]; each sequence's rows
// read and advance the conv state of its slot (b.state_slots).
void short_conv_layer(ThreadPool& pool, const ModelConfig& config, const ShortConvWeights& w, LinearStatePool& states,
                      int state_layer, const ForwardBatch& b, const float* hidden, float* out, LinearOrder order,
                      ShortConvScratch& scratch);

}  // namespace cpu
}  // namespace pagedllm
