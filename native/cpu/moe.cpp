// The sparse MoE MLP: routes each row to its top-k experts, runs every expert once over the rows routed to it
// (gathered), and adds the k outputs of a row in rank order, so its result never depends on the rest of the batch.
#include "moe.h"

#include "layernorm_family.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace pagedllm {
namespace cpu {

namespace {

std::string expert_name(const std::string& prefix, int expert, const char* part) {
  return prefix + "mlp.experts." + std::to_string(expert) + "." + part + "_proj.weight";
}

const float* or_null(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }
// Expert e's bias, or nullptr when the layer has none.
const float* bias_of(const std::vector<std::vector<float>>& biases, int e) { return biases.empty() ? nullptr : or_null(biases[e]); }

template <typename T>
T* grown(std::vector<T>& buffer, size_t size) {
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}

}  // namespace

uint64_t MoeWeights::bytes() const {
  uint64_t total = router.bytes() + score_correction_bias.bytes() + shared_gate_up.bytes() + shared_down.bytes() + shared_gate.bytes() +
                   latent_in.bytes() + latent_out.bytes();
  for (const WeightMatrix& m : gate_up) total += m.bytes();
  for (const WeightMatrix& m : down) total += m.bytes();
  total += router_bias.size() * sizeof(float);
  for (const auto& b : gate_up_bias) total += b.size() * sizeof(float);
  for (const auto& b : down_bias) total += b.size() * sizeof(float);
  return total;
}

MoeWeights load_moe_weights(const ModelConfig& config, const std::string& prefix, WeightFormat format,
                            WeightFormat down_format, const MatrixLoader& load, const std::function<bool(const std::string&)>& has) {
  const int hidden = config.hidden_size, inter = config.moe_intermediate_size;
  // The experts' width: the latent one where there is one (Nemotron-H).
  const int width = config.moe_latent_size > 0 ? config.moe_latent_size : hidden;
  MoeWeights w;
  w.router = load({{prefix + "mlp.gate.weight", config.num_experts}}, hidden, WeightFormat::F32);
  if (config.moe_latent_size > 0) {
    w.latent_in = load({{prefix + "mlp.fc1_latent_proj.weight", width}}, hidden, format);
    w.latent_out = load({{prefix + "mlp.fc2_latent_proj.weight", hidden}}, width, format);
  }
  if (config.moe_router_bias) w.score_correction_bias = load({{prefix + "mlp.gate.e_score_correction_bias", 1}}, config.num_experts, WeightFormat::F32);
  // GPT-OSS's and Llama 4's checkpoints fuse gate and up per expert; a GPT-OSS GGUF file keeps them apart (gate rows then up rows either way).
  const bool fused_gate_up = config.expert_gate_up_fused && has(expert_name(prefix, 0, "gate_up"));
  for (int e = 0; e < config.num_experts; ++e) {
    if (config.moe_ungated_experts) w.gate_up.push_back(load({{expert_name(prefix, e, "up"), inter}}, width, format));
    else w.gate_up.push_back(fused_gate_up ? load({{expert_name(prefix, e, "gate_up"), 2 * inter}}, hidden, format)
                                           : load({{expert_name(prefix, e, "gate"), inter}, {expert_name(prefix, e, "up"), inter}}, hidden, format));
    w.down.push_back(load({{expert_name(prefix, e, "down"), width}}, inter, down_format));
  }
  const int shared = config.shared_expert_intermediate_size;
  if (shared > 0) {
    w.shared_gate_up = config.moe_ungated_experts
                           ? load({{prefix + "mlp.shared_expert.up_proj.weight", shared}}, hidden, format)
                           : load({{prefix + "mlp.shared_expert.gate_proj.weight", shared}, {prefix + "mlp.shared_expert.up_proj.weight", shared}},
                                  hidden, format);
    w.shared_down = load({{prefix + "mlp.shared_expert.down_proj.weight", hidden}}, shared, down_format);
    if (config.shared_expert_gated) w.shared_gate = load({{prefix + "mlp.shared_expert_gate.weight", 1}}, hidden, WeightFormat::F32);
  }
  return w;
}

void load_moe_biases(const ModelConfig& config, const std::string& prefix, MoeWeights& w, const VectorLoader& load) {
  w.router_bias = load(prefix + "mlp.gate.bias", config.num_experts);
  for (int e = 0; e < config.num_experts; ++e) {
    const std::string expert = prefix + "mlp.experts." + std::to_string(e) + ".";
    std::vector<float> gate_up = load(expert + "gate_up_proj.bias", 2 * config.moe_intermediate_size);
    if (gate_up.empty()) {  // a GGUF file's separate gate and up biases
      gate_up = load(expert + "gate_proj.bias", config.moe_intermediate_size);
      const std::vector<float> up = load(expert + "up_proj.bias", config.moe_intermediate_size);
      gate_up.insert(gate_up.end(), up.begin(), up.end());
    }
    w.gate_up_bias.push_back(gate_up);
    w.down_bias.push_back(load(expert + "down_proj.bias", config.hidden_size));
  }
}

void moe_route(const float* router_logits, int num_rows, int num_experts, int top_k, bool renormalize, int32_t* experts,
               float* weights) {
  std::vector<float> probs(num_experts);
  std::vector<uint8_t> taken(num_experts);
  for (int r = 0; r < num_rows; ++r) {
    // Softmax as torch computes it in fp32: exp(x - max) / sum.
    const float* logits = router_logits + static_cast<size_t>(r) * num_experts;
    float max = logits[0];
    for (int e = 1; e < num_experts; ++e) max = std::max(max, logits[e]);
    float sum = 0.f;
    for (int e = 0; e < num_experts; ++e) sum += probs[e] = std::exp(logits[e] - max);
    for (int e = 0; e < num_experts; ++e) probs[e] /= sum;
    // Top-k by repeated selection: strictly greater wins, so equal probabilities go to the lower index first.
    std::fill(taken.begin(), taken.end(), 0);
    int32_t* chosen = experts + static_cast<size_t>(r) * top_k;
    float* chosen_weight = weights + static_cast<size_t>(r) * top_k;
    float chosen_sum = 0.f;
    for (int k = 0; k < top_k; ++k) {
      int best = -1;
      for (int e = 0; e < num_experts; ++e) {
        if (!taken[e] && (best < 0 || probs[e] > probs[best])) best = e;
      }
      taken[best] = 1;
      chosen[k] = best;
      chosen_weight[k] = probs[best];
      chosen_sum += probs[best];
    }
    if (renormalize) {
      for (int k = 0; k < top_k; ++k) chosen_weight[k] /= chosen_sum;
    }
  }
}

void moe_mlp(ThreadPool& pool, const MoeWeights& w, const ModelConfig& config, const float* x, int num_rows, float* out,
             LinearOrder order, MoeScratch& s) {
  const int num_experts = config.num_experts, top_k = config.num_experts_per_tok;
  const size_t slots = static_cast<size_t>(num_rows) * top_k;
  // The router is tiny; its batch-invariant order keeps a row's choice of experts independent of the batch.
  float* logits = grown(s.router_logits, static_cast<size_t>(num_rows) * num_experts);
  linear(pool, x, num_rows, w.router, or_null(w.router_bias), logits, LinearOrder::kBatchInvariant);
  int32_t* experts = grown(s.experts, slots);
  float* weights = grown(s.weights, slots);
  if (config.sparsemixer) {
    sparsemixer_route(logits, num_rows, num_experts, config.sparsemixer_jitter_eps, experts, weights);
  } else if (config.moe_groups > 0) {
    float* bias = w.score_correction_bias.rows > 0 ? grown(s.score_correction, num_experts) : nullptr;
    if (bias) w.score_correction_bias.load_row(0, bias);
    grouped_topk_route(config, logits, bias, num_rows, experts, weights);
  } else {
    moe_route(logits, num_rows, num_experts, top_k, config.norm_topk_prob, experts, weights);
  }
  // Llama 4: the top-k by softmax are the top-k by logit; each pick weighs sigmoid(its logit) (Llama4Router).
  if (config.moe_input_scaled) {
    for (size_t slot = 0; slot < slots; ++slot) {
      const float logit = logits[(slot / top_k) * num_experts + experts[slot]];
      weights[slot] = 1.f / (1.f + std::exp(-logit));
    }
  }
  moe_experts(pool, w, config, x, num_rows, experts, weights, out, order, s);
}

void moe_experts(ThreadPool& pool, const MoeWeights& w, const ModelConfig& config, const float* x, int num_rows,
                 const int32_t* experts, const float* weights, float* out, LinearOrder order, MoeScratch& s) {
  const int hidden = config.hidden_size, inter = config.moe_intermediate_size;
  const int num_experts = config.num_experts, top_k = config.num_experts_per_tok;
  const size_t slots = static_cast<size_t>(num_rows) * top_k;
  // Nemotron-H's latent MoE: the experts read fc1_latent_proj(x), `width` wide.
  const int width = config.moe_latent_size > 0 ? config.moe_latent_size : hidden;
  const float* expert_in = x;
  if (config.moe_latent_size > 0) {
    float* latent = grown(s.latent, static_cast<size_t>(num_rows) * width);
    linear(pool, x, num_rows, w.latent_in, nullptr, latent, order);
    expert_in = latent;
  }
  // Each expert once, over the rows routed to it (in row order); its outputs land in their (row, rank) slots.
  float* expert_out = grown(s.expert_out, slots * width);
  int32_t* routed = grown(s.slots, slots);
  for (int e = 0; e < num_experts; ++e) {
    int count = 0;
    for (size_t slot = 0; slot < slots; ++slot) {
      if (experts[slot] == e) routed[count++] = static_cast<int32_t>(slot);
    }
    if (count == 0) continue;
    float* gathered = grown(s.gathered, static_cast<size_t>(count) * width);
    for (int i = 0; i < count; ++i) {
      std::memcpy(gathered + static_cast<size_t>(i) * width, expert_in + static_cast<size_t>(routed[i] / top_k) * width, width * sizeof(float));
      // Llama 4 weighs the expert's input, not its output.
      if (config.moe_input_scaled) {
        for (int h = 0; h < hidden; ++h) gathered[static_cast<size_t>(i) * hidden + h] *= weights[routed[i]];
      }
    }
    float* gate_up = grown(s.gate_up, static_cast<size_t>(count) * 2 * inter);
    float* activated = grown(s.activated, static_cast<size_t>(count) * inter);
    float* rows_out = grown(s.expert_rows, static_cast<size_t>(count) * width);
    if (config.moe_ungated_experts) {
      // Nemotron-H: act(up(x)), no gate.
      linear(pool, gathered, count, w.gate_up[e], nullptr, activated, order);
      plain_activation(pool, activated, count, inter, config.hidden_act);
    } else {
      linear(pool, gathered, count, w.gate_up[e], bias_of(w.gate_up_bias, e), gate_up, order);
      if (config.gpt_oss_experts) clamped_swiglu_and_mul(pool, gate_up, activated, count, inter);
      else gated_and_mul(pool, config.hidden_act, gate_up, activated, count, inter);
    }
    linear(pool, activated, count, w.down[e], bias_of(w.down_bias, e), rows_out, order);
    for (int i = 0; i < count; ++i) {
      std::memcpy(expert_out + static_cast<size_t>(routed[i]) * width, rows_out + static_cast<size_t>(i) * width, width * sizeof(float));
    }
  }

  // Qwen2-MoE's gated shared expert (GraniteMoeShared's ungated one) on every row, computed before `out` (which may be x) is written.
  const int shared = config.shared_expert_intermediate_size;
  float* shared_out = nullptr;
  float* shared_gate = nullptr;
  if (shared > 0) {
    float* gate_up = grown(s.gate_up, static_cast<size_t>(num_rows) * 2 * shared);
    float* activated = grown(s.activated, static_cast<size_t>(num_rows) * shared);
    shared_out = grown(s.expert_rows, static_cast<size_t>(num_rows) * hidden);
    shared_gate = grown(s.shared_gate, num_rows);
    if (config.moe_ungated_experts) {
      linear(pool, x, num_rows, w.shared_gate_up, nullptr, activated, order);
      plain_activation(pool, activated, num_rows, shared, config.hidden_act);
    } else {
      linear(pool, x, num_rows, w.shared_gate_up, nullptr, gate_up, order);
      gated_and_mul(pool, config.hidden_act, gate_up, activated, num_rows, shared);
    }
    linear(pool, activated, num_rows, w.shared_down, nullptr, shared_out, order);
    if (config.shared_expert_gated) linear(pool, x, num_rows, w.shared_gate, nullptr, shared_gate, LinearOrder::kBatchInvariant);
  }

  // Rank order, each product rounded before it is added (as transformers' weight * output, then index_add_); a latent
  // MoE's sums go back to hidden_size through fc2_latent_proj (x is read no more: `out` may be x).
  float* sums = config.moe_latent_size > 0 ? grown(s.latent_sum, static_cast<size_t>(num_rows) * width) : out;
  for (int r = 0; r < num_rows; ++r) {
    float* y = sums + static_cast<size_t>(r) * width;
    for (int h = 0; h < width; ++h) {
      float sum = 0.f;
      for (int k = 0; k < top_k; ++k) {
        const size_t slot = static_cast<size_t>(r) * top_k + k;
        const float product = config.moe_input_scaled ? expert_out[slot * width + h] : weights[slot] * expert_out[slot * width + h];
        sum += product;
      }
      y[h] = sum;
    }
  }
  if (config.moe_latent_size > 0) linear(pool, sums, num_rows, w.latent_out, nullptr, out, order);
  if (shared == 0) return;
  for (int r = 0; r < num_rows; ++r) {
    float* y = out + static_cast<size_t>(r) * hidden;
    const float* from_shared = shared_out + static_cast<size_t>(r) * hidden;
    // Ungated (GraniteMoeShared): a gate of 1, whose products are the shared outputs exactly.
    const float gate = config.shared_expert_gated ? 1.f / (1.f + std::exp(-shared_gate[r])) : 1.f;
    for (int h = 0; h < hidden; ++h) {
      const float product = gate * from_shared[h];
      // Cohere2-MoE's "average": the sum halved, as transformers' (routed + shared) / 2.
      y[h] = config.shared_expert_average ? (y[h] + product) / 2.f : y[h] + product;
    }
  }
}

}  // namespace cpu
}  // namespace pagedllm
