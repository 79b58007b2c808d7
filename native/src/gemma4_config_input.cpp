// config.gemma4 (src/engine/model/gemma4-config.ts) into Gemma4Config: per-layer shapes, KV sources, per-layer inputs;
// and Gemma 3n's config.gemma3n (gemma3n-config.ts) beside it.
#include "js_convert.h"

namespace pagedllm {
namespace js {

[[noreturn]] static void fail(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

// AltUp's streams, LAuReL's rank and the per-layer gate sparsity; Gemma 3n always has per-layer inputs.
static void parse_gemma3n(const Napi::Object& config, ModelConfig& out) {
  Napi::Value value = config.Get("gemma3n");
  if (value.IsUndefined() || value.IsNull()) return;
  if (!value.IsObject()) fail(config.Env(), "gemma3n must be an object");
  Napi::Object g = value.As<Napi::Object>();
  Gemma3nConfig& cfg = out.gemma4.gemma3n;
  cfg.altup_inputs = int_field(g, "altupInputs");
  cfg.altup_active = int_field(g, "altupActiveIdx");
  cfg.altup_correct_scale = g.Get("altupCorrectScale").ToBoolean().Value();
  cfg.laurel_rank = int_field(g, "laurelRank");
  Napi::Value sparsity = g.Get("activationSparsity");
  if (!sparsity.IsArray() || sparsity.As<Napi::Array>().Length() != static_cast<uint32_t>(out.num_layers)) {
    fail(config.Env(), "gemma3n.activationSparsity must list every layer");
  }
  Napi::Array list = sparsity.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const double share = list.Get(i).ToNumber().DoubleValue();
    if (!(share >= 0.0 && share < 1.0)) fail(config.Env(), "gemma3n.activationSparsity[" + std::to_string(i) + "] must be in [0, 1)");
    cfg.activation_sparsity.push_back(static_cast<float>(share));
  }
  if (cfg.altup_inputs <= 0 || cfg.altup_active < 0 || cfg.altup_active >= cfg.altup_inputs || cfg.laurel_rank <= 0 || out.gemma4.per_layer_input_size <= 0) {
    fail(config.Env(), "gemma3n: altupInputs and laurelRank must be positive, altupActiveIdx a stream, per-layer inputs present");
  }
}

void parse_gemma4(const Napi::Object& config, ModelConfig& out) {
  Napi::Value value = config.Get("gemma4");
  if (value.IsUndefined() || value.IsNull()) return;
  if (!value.IsObject()) fail(config.Env(), "gemma4 must be an object");
  Napi::Object g = value.As<Napi::Object>();
  Napi::Value layers = g.Get("layers");
  if (!layers.IsArray() || layers.As<Napi::Array>().Length() != static_cast<uint32_t>(out.num_layers)) {
    fail(config.Env(), "gemma4.layers must list every layer");
  }
  Napi::Array list = layers.As<Napi::Array>();
  Gemma4Config& cfg = out.gemma4;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Object l = list.Get(i).As<Napi::Object>();
    Gemma4Layer layer{int_field(l, "headDim"), int_field(l, "numKvHeads"), int_field(l, "intermediateSize"), int_field(l, "kvSource"), l.Get("kEqV").ToBoolean().Value()};
    const int self = static_cast<int>(i);
    if (layer.head_dim <= 0 || layer.head_dim % 2 != 0 || layer.num_kv_heads <= 0 || out.num_heads % layer.num_kv_heads != 0 ||
        layer.intermediate_size <= 0 || layer.kv_source < 0 || layer.kv_source > self ||
        (layer.kv_source < self && list.Get(layer.kv_source).As<Napi::Object>().Get("kvSource").As<Napi::Number>().Int32Value() != layer.kv_source)) {
      fail(config.Env(), "gemma4.layers[" + std::to_string(i) + "]: sizes must be positive (head_dim even, dividing heads) and kvSource a writing layer at or before it");
    }
    cfg.layers.push_back(layer);
  }
  cfg.per_layer_input_size = int_field(g, "perLayerInputSize");
  cfg.per_layer_vocab_size = int_field(g, "perLayerVocabSize");
  cfg.per_layer_embedding_scale = static_cast<float>(number_field(g, "perLayerEmbeddingScale"));
  cfg.full_rope_angles = int_field(g, "fullRopeAngles");
  cfg.full_rope_factor = static_cast<float>(number_field(g, "fullRopeFactor"));
  cfg.local_rope_theta = static_cast<float>(number_field(g, "localRopeTheta"));
  // The MoE block (every layer): the shared MoE fields, routed softmax top-k renormalized, no shared expert.
  Napi::Value moe = g.Get("moe");
  if (moe.IsObject()) {
    Napi::Object m = moe.As<Napi::Object>();
    out.num_experts = int_field(m, "numExperts");
    out.num_experts_per_tok = int_field(m, "topK");
    out.moe_intermediate_size = int_field(m, "intermediateSize");
    out.norm_topk_prob = true;
    out.sparse_layers.assign(out.num_layers, 1);
    if (out.num_experts <= 0 || out.num_experts_per_tok <= 0 || out.num_experts_per_tok > out.num_experts || out.moe_intermediate_size <= 0) {
      fail(config.Env(), "gemma4.moe: expert counts and sizes must be positive, with topK <= numExperts");
    }
  }
  parse_gemma3n(config, out);
  if (cfg.per_layer_input_size < 0 || (cfg.per_layer_input_size > 0 && (cfg.per_layer_vocab_size <= 0 || (cfg.per_layer_vocab_size < out.vocab_size && !cfg.gemma3n.enabled()))) || cfg.full_rope_angles < 0 ||
      !(cfg.full_rope_factor > 0.f) || !(cfg.local_rope_theta > 0.f)) {
    fail(config.Env(), "gemma4: per-layer input sizes and rope parameters out of range");
  }
}

}  // namespace js
}  // namespace pagedllm
