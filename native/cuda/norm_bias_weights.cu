// Reads PhiMoE's norm and lm_head biases (norm_bias_weights.h) through the shared weight plan (weight_plan.h).
#include "norm_bias_weights.h"

#include <cuda_bf16.h>

#include <string>

#include "weight_plan.h"

namespace pagedllm::cuda {

NormBiasWeights::NormBiasWeights(const BackendOptions& options, cudaStream_t stream) {
  const ModelConfig& m = options.model;
  Planner plan(options.tensors);
  // A region for each bias the checkpoint holds (the tensor list names only those the model has); SIZE_MAX: none.
  const auto bias = [&](const std::string& name, int64_t size) {
    return plan.has(name) ? plan.reserve({{name, {size}}}, sizeof(float), true) : SIZE_MAX;
  };
  std::vector<size_t> input(m.num_layers), post_attention(m.num_layers);
  for (int l = 0; l < m.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    input[l] = bias(p + "input_layernorm.bias", m.hidden_size);
    post_attention[l] = bias(p + "post_attention_layernorm.bias", m.hidden_size);
  }
  const size_t final_norm = bias("model.norm.bias", m.hidden_size), lm_head = bias("lm_head.bias", m.vocab_size);
  if (plan.total() > 0) upload_planned_weights<__nv_bfloat16>(plan, storage_, stream);  // fp32 regions: T is unused
  const auto at = [this](size_t offset) { return offset == SIZE_MAX ? nullptr : reinterpret_cast<const float*>(storage_.as<char>() + offset); };
  for (int l = 0; l < m.num_layers; ++l) {
    input_norm_.push_back(at(input[l]));
    post_attention_norm_.push_back(at(post_attention[l]));
  }
  final_norm_ = at(final_norm);
  lm_head_ = at(lm_head);
}

}  // namespace pagedllm::cuda
