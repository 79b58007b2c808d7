// Loads Gemma 3n's AltUp and LAuReL tensors (src/engine/model/gemma3n-tensors.ts lists them); the rest of the model
// loads as Gemma 4's (gemma4_weights.cpp).
#include "model_weights.h"

namespace pagedllm {
namespace cpu {

uint64_t Gemma3nWeights::bytes() const {
  uint64_t total = 0;
  for (const auto& m : altup_projections) total += m.bytes();
  for (const auto& m : altup_unembed) total += m.bytes();
  for (const auto& l : layers) {
    total += l.laurel_left.bytes() + l.laurel_right.bytes();
    total += (l.router.size() + l.prediction_coefs.size() + l.correction_coefs.size() + l.router_norm.size() + l.correct_output_scale.size() + l.laurel_norm.size()) * 4;
  }
  return total;
}

// A small [rows, cols] tensor as row-major floats (read through the f32 matrix loader, which takes any 2-D shape).
static std::vector<float> small_matrix(const TensorAccess& access, const std::string& name, int rows, int cols) {
  const WeightMatrix m = access.matrix({{name, rows}}, cols, WeightFormat::F32);
  std::vector<float> values(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) m.load_row(r, values.data() + static_cast<size_t>(r) * cols);
  return values;
}

Gemma3nWeights load_gemma3n_weights(const ModelConfig& config, WeightFormat format, const TensorAccess& access) {
  const Gemma3nConfig& g = config.gemma4.gemma3n;
  const int hidden = config.hidden_size, n = g.altup_inputs, rank = g.laurel_rank;
  Gemma3nWeights weights;
  for (int i = 0; i + 1 < n; ++i) {
    weights.altup_projections.push_back(access.matrix({{"model.altup_projections." + std::to_string(i) + ".weight", hidden}}, hidden, format));
    weights.altup_unembed.push_back(access.matrix({{"model.altup_unembed_projections." + std::to_string(i) + ".weight", hidden}}, hidden, format));
  }
  weights.layers.resize(config.num_layers);
  for (int l = 0; l < config.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Gemma3nLayerWeights& lw = weights.layers[l];
    lw.router = small_matrix(access, p + "altup.modality_router.weight", n, hidden);
    lw.prediction_coefs = small_matrix(access, p + "altup.prediction_coefs.weight", n * n, n);
    lw.correction_coefs = small_matrix(access, p + "altup.correction_coefs.weight", n, n);
    lw.router_norm = access.vector(p + "altup.router_norm.weight", hidden);
    lw.correct_output_scale = access.vector(p + "altup.correct_output_scale", hidden);
    lw.laurel_left = access.matrix({{p + "laurel.linear_left.weight", rank}}, hidden, format);
    lw.laurel_right = access.matrix({{p + "laurel.linear_right.weight", hidden}}, rank, format);
    lw.laurel_norm = access.vector(p + "laurel.post_laurel_norm.weight", hidden);
  }
  return weights;
}

}  // namespace cpu
}  // namespace pagedllm
