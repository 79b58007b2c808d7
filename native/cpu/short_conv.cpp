// LFM2's gated short convolution (short_conv.h): weights and the layer's forward.
#include "short_conv.h"

#include "gated_delta.h"

namespace pagedllm {
namespace cpu {

uint64_t ShortConvWeights::bytes() const { return in_proj.bytes() + out_proj.bytes() + conv.size() * 4; }

ShortConvWeights load_short_conv(const ModelConfig& config, const std::string& prefix, const ReadFloats& read, const LoadStacked& stacked) {
  const std::string p = prefix + "conv.";
  const int hidden = config.hidden_size;
  ShortConvWeights w;
  w.in_proj = stacked({{p + "in_proj.weight", 3 * hidden}}, hidden);
  w.conv = read(p + "conv.weight", {hidden, 1, config.short_conv_kernel});
  w.out_proj = stacked({{p + "out_proj.weight", hidden}}, hidden);
  return w;
}

void short_conv_layer(ThreadPool& pool, const ModelConfig& config, const ShortConvWeights& w, LinearStatePool& states,
                      int state_layer, const ForwardBatch& b, const float* hidden, float* out, LinearOrder order,
                      ShortConvScratch& scratch) {
  const int tokens = b.num_tokens, width = config.hidden_size;
  const size_t values = static_cast<size_t>(tokens) * width;
  scratch.proj.resize(3 * values);
  scratch.gated.resize(values);
  scratch.conv.resize(values);
  linear(pool, hidden, tokens, w.in_proj, nullptr, scratch.proj.data(), order);
  // B leads each projected row, then C, then x.
  for (int t = 0; t < tokens; ++t) {
    const float* row = scratch.proj.data() + static_cast<size_t>(t) * 3 * width;
    float* gated = scratch.gated.data() + static_cast<size_t>(t) * width;
    for (int i = 0; i < width; ++i) gated[i] = row[i] * row[2 * width + i];
  }
  for (int seq = 0; seq < b.num_seqs; ++seq) {
    const int begin = b.query_start_loc[seq], count = b.query_start_loc[seq + 1] - begin;
    if (count == 0) continue;
    causal_conv1d_silu(pool, scratch.gated.data() + static_cast<size_t>(begin) * width, count, width, width, w.conv.data(),
                       config.short_conv_kernel, states.conv(state_layer, b.state_slots[seq]),
                       scratch.conv.data() + static_cast<size_t>(begin) * width, width, nullptr, /*apply_silu=*/false);
  }
  for (int t = 0; t < tokens; ++t) {
    const float* c = scratch.proj.data() + static_cast<size_t>(t) * 3 * width + width;
    float* conv = scratch.conv.data() + static_cast<size_t>(t) * width;
    for (int i = 0; i < width; ++i) conv[i] *= c[i];
  }
  linear(pool, scratch.conv.data(), tokens, w.out_proj, nullptr, out, order);
}

}  // namespace cpu
}  // namespace pagedllm
