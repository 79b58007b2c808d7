// Zamba2's shared blocks and per-use adapters (zamba2_weights.h), under the engine's names.
#include "zamba2_weights.h"

#include <string>

namespace pagedllm {
namespace cpu {

uint64_t Zamba2Weights::bytes() const {
  uint64_t total = 0;
  for (const Zamba2Block& b : blocks) total += b.qkv.bytes() + b.o_proj.bytes() + b.gate_up.bytes() + b.down.bytes() + (b.input_norm.size() + b.pre_ff_norm.size()) * 4;
  for (const Zamba2LayerWeights& l : layers) {
    for (const LowRank* a : {&l.gate_up, &l.q, &l.k, &l.v}) total += a->down.bytes() + a->up.bytes();
    total += l.linear.bytes();
  }
  return total;
}

Zamba2Weights load_zamba2_weights(const ModelConfig& c, WeightFormat format, const MatrixLoader& load, const VectorLoader& norm) {
  const int hidden = c.hidden_size, width = 2 * hidden, q_rows = c.num_heads * c.head_dim, kv_rows = c.num_kv_heads * c.head_dim;
  const int inter = c.intermediate_size, rank = c.zamba2.adapter_rank;
  Zamba2Weights w;
  for (int b = 0; b < c.zamba2.num_blocks; ++b) {
    const std::string p = "model.shared_blocks." + std::to_string(b) + ".";
    Zamba2Block block;
    block.input_norm = norm(p + "input_layernorm.weight", width);
    block.qkv = load({{p + "self_attn.q_proj.weight", q_rows}, {p + "self_attn.k_proj.weight", kv_rows}, {p + "self_attn.v_proj.weight", kv_rows}}, width, format);
    block.o_proj = load({{p + "self_attn.o_proj.weight", hidden}}, q_rows, format);
    block.pre_ff_norm = norm(p + "pre_ff_layernorm.weight", hidden);
    block.gate_up = c.zamba2.gate_up_apart ? load({{p + "feed_forward.gate_proj.weight", inter}, {p + "feed_forward.up_proj.weight", inter}}, hidden, format)
                                           : load({{p + "feed_forward.gate_up_proj.weight", 2 * inter}}, hidden, format);
    block.down = load({{p + "feed_forward.down_proj.weight", hidden}}, inter, format);
    w.blocks.push_back(std::move(block));
  }
  w.layers.resize(c.num_layers);
  const auto low_rank = [&](const std::string& name, int in, int out) {
    return LowRank{load({{name + ".0.weight", rank}}, in, format), load({{name + ".1.weight", out}}, rank, format)};
  };
  for (int l = 0; l < c.num_layers; ++l) {
    if (!c.zamba2.attends(l)) continue;
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Zamba2LayerWeights& layer = w.layers[l];
    if (rank > 0) layer.gate_up = low_rank(p + "gate_up_adapter", hidden, 2 * inter);
    if (c.zamba2.attention_adapters) {
      layer.q = low_rank(p + "q_adapter", width, q_rows);
      layer.k = low_rank(p + "k_adapter", width, kv_rows);
      layer.v = low_rank(p + "v_adapter", width, kv_rows);
    }
    layer.linear = load({{p + "linear.weight", hidden}}, hidden, format);
  }
  return w;
}

}  // namespace cpu
}  // namespace pagedllm
