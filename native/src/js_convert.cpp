// Conversions from JS option objects and typed arrays; every failure names the offending field.
#include "js_convert.h"

#include "../cpu/quant_formats.h"

namespace pagedllm {
namespace js {

namespace {
[[noreturn]] void fail(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

template <typename T, napi_typedarray_type kType>
T* typed_data(const Napi::Value& value, const char* name, const char* type_name, long expected, size_t* length) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != kType) {
    fail(value.Env(), std::string(name) + " must be a " + type_name);
  }
  auto array = value.As<Napi::TypedArrayOf<T>>();
  if (expected >= 0 && static_cast<long>(array.ElementLength()) != expected) {
    fail(value.Env(), std::string(name) + " must have " + std::to_string(expected) + " elements, got " +
                          std::to_string(array.ElementLength()));
  }
  if (length) *length = array.ElementLength();
  return array.Data();
}
}  // namespace

const int32_t* int32_data(const Napi::Value& value, const char* name, long expected, size_t* length) {
  return typed_data<int32_t, napi_int32_array>(value, name, "Int32Array", expected, length);
}

float* float32_data(const Napi::Value& value, const char* name, long expected, size_t* length) {
  return typed_data<float, napi_float32_array>(value, name, "Float32Array", expected, length);
}

double number_field(const Napi::Object& obj, const char* name) {
  Napi::Value v = obj.Get(name);
  if (!v.IsNumber()) fail(obj.Env(), std::string(name) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

int int_field(const Napi::Object& obj, const char* name) {
  double v = number_field(obj, name);
  if (v != static_cast<double>(static_cast<long long>(v)) || v < -2147483648.0 || v > 2147483647.0) {
    fail(obj.Env(), std::string(name) + " must be an integer");
  }
  return static_cast<int>(v);
}

std::string string_field(const Napi::Object& obj, const char* name) {
  Napi::Value v = obj.Get(name);
  if (!v.IsString()) fail(obj.Env(), std::string(name) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

static bool bool_field(const Napi::Object& obj, const char* name) {
  Napi::Value v = obj.Get(name);
  if (!v.IsBoolean()) fail(obj.Env(), std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

void parse_rope(const Napi::Object& config, ModelConfig& out) {
  out.head_dim = int_field(config, "headDim");
  // Optional: Phi-3's partial rotary (src/engine/model/partial-rotary.ts); the frequencies cover only these values.
  if (!config.Get("rotaryDim").IsUndefined()) {
    out.rotary_dim = int_field(config, "rotaryDim");
    if (out.rotary_dim <= 0 || out.rotary_dim % 2 != 0 || out.rotary_dim > out.head_dim) fail(config.Env(), "rotaryDim must be even, positive and at most headDim");
  }
  const int rotated = out.rotary_dim > 0 ? out.rotary_dim : out.head_dim;
  out.rope_theta = static_cast<float>(number_field(config, "ropeTheta"));
  Napi::Value scaling_value = config.Get("ropeScaling");
  if (!scaling_value.IsObject()) fail(config.Env(), "ropeScaling must be an object");
  Napi::Object scaling = scaling_value.As<Napi::Object>();
  std::string type = string_field(scaling, "type");
  if (type == "none") {
    out.rope_scaling = RopeScaling::None;
  } else if (type == "linear") {
    out.rope_scaling = RopeScaling::Linear;
    out.rope_factor = static_cast<float>(number_field(scaling, "factor"));
  } else if (type == "llama3") {
    out.rope_scaling = RopeScaling::Llama3;
    out.rope_factor = static_cast<float>(number_field(scaling, "factor"));
    out.rope_low_freq_factor = static_cast<float>(number_field(scaling, "lowFreqFactor"));
    out.rope_high_freq_factor = static_cast<float>(number_field(scaling, "highFreqFactor"));
    out.rope_original_max_position = int_field(scaling, "originalMaxPosition");
  } else if (type == "yarn" || type == "longrope") {
    out.rope_scaling = RopeScaling::Divisors;
    Napi::Value divisors = scaling.Get("frequencyDivisors");
    if (!divisors.IsArray() || divisors.As<Napi::Array>().Length() != static_cast<uint32_t>(rotated / 2)) {
      fail(config.Env(), "ropeScaling.frequencyDivisors must be an array of (rotaryDim or headDim) / 2 numbers");
    }
    Napi::Array list = divisors.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value v = list.Get(i);
      if (!v.IsNumber() || !(v.As<Napi::Number>().DoubleValue() > 0)) fail(config.Env(), "ropeScaling.frequencyDivisors must be positive numbers");
      out.rope_divisors.push_back(v.As<Napi::Number>().DoubleValue());
    }
    out.rope_attention_factor = static_cast<float>(number_field(scaling, "attentionFactor"));
  } else {
    fail(config.Env(), "unsupported ropeScaling type '" + type + "'");
  }
}

// An optional object field of the model config: false when absent or null, an error when not an object.
static bool optional_object(const Napi::Object& config, const char* key, Napi::Object& out) {
  Napi::Value value = config.Get(key);
  if (value.IsUndefined() || value.IsNull()) return false;
  if (!value.IsObject()) fail(config.Env(), std::string(key) + " must be an object");
  out = value.As<Napi::Object>();
  return true;
}

// moe.grouped (src/engine/model/deepseek-config.ts): DeepSeek's grouped top-k routing.
static void parse_grouped_routing(const Napi::Value& value, ModelConfig& out) {
  if (!value.IsObject()) fail(value.Env(), "moe.grouped must be an object");
  Napi::Object g = value.As<Napi::Object>();
  out.moe_groups = int_field(g, "groups");
  out.moe_topk_groups = int_field(g, "topkGroups");
  out.moe_sigmoid = bool_field(g, "sigmoid");
  out.moe_group_top2 = bool_field(g, "groupTop2");
  out.moe_router_bias = bool_field(g, "routerBias");
  out.routed_scaling_factor = static_cast<float>(number_field(g, "routedScalingFactor"));
  if (!g.Get("topkNormEps").IsUndefined()) out.moe_topk_norm_eps = static_cast<float>(number_field(g, "topkNormEps"));
  const int per_group = out.moe_groups > 0 ? out.num_experts / out.moe_groups : 0;
  if (out.moe_groups <= 0 || out.num_experts % out.moe_groups != 0 || out.moe_topk_groups <= 0 || out.moe_topk_groups > out.moe_groups ||
      (out.moe_group_top2 && out.moe_groups > 1 && per_group < 2) || per_group * out.moe_topk_groups < out.num_experts_per_tok) {
    fail(value.Env(), "moe.grouped: groups must divide the experts, topkGroups of them holding at least numExpertsPerToken (and 2 per group for groupTop2)");
  }
}

// config.mla (src/engine/model/deepseek-config.ts): DeepSeek's latent attention, absent for the others.
static void parse_mla(const Napi::Object& config, ModelConfig& out) {
  Napi::Object mla;
  if (!optional_object(config, "mla", mla)) return;
  out.mla_kv_lora_rank = int_field(mla, "kvLoraRank");
  out.mla_q_lora_rank = int_field(mla, "qLoraRank");
  out.mla_v_head_dim = int_field(mla, "vHeadDim");
  out.mla_rope_interleaved = bool_field(mla, "ropeInterleaved");
  out.mla_norm_eps = static_cast<float>(number_field(mla, "latentNormEps"));
  if (out.mla_kv_lora_rank <= 0 || out.mla_q_lora_rank < 0 || out.mla_v_head_dim <= 0 || out.mla_v_head_dim > out.head_dim ||
      out.rotary_dim <= 0 || out.num_kv_heads != out.num_heads || !(out.mla_norm_eps >= 0.f)) {
    fail(config.Env(), "mla: ranks must be positive (qLoraRank 0: none), vHeadDim at most headDim, latentNormEps not negative, with a rotaryDim and numKvHeads == numHeads");
  }
}

// config.moe (src/engine/model/moe-config.ts), absent for dense models.
static void parse_moe(const Napi::Object& config, ModelConfig& out) {
  Napi::Object moe;
  if (!optional_object(config, "moe", moe)) return;
  out.num_experts = int_field(moe, "numExperts");
  out.num_experts_per_tok = int_field(moe, "numExpertsPerToken");
  out.norm_topk_prob = bool_field(moe, "normTopkProb");
  out.moe_intermediate_size = int_field(moe, "expertIntermediateSize");
  out.shared_expert_intermediate_size = int_field(moe, "sharedExpertIntermediateSize");
  out.shared_expert_gated = !(moe.Has("ungatedSharedExpert") && bool_field(moe, "ungatedSharedExpert"));
  out.shared_expert_average = moe.Has("sharedExpertAverage") && bool_field(moe, "sharedExpertAverage");
  if (moe.Has("sparsemixerJitterEps")) {
    out.sparsemixer = true;
    out.sparsemixer_jitter_eps = number_field(moe, "sparsemixerJitterEps");
    if (!(out.sparsemixer_jitter_eps >= 0) || out.num_experts_per_tok != 2 || out.num_experts < 2) {
      fail(config.Env(), "moe.sparsemixerJitterEps must be non-negative, with 2 experts per token of at least 2");
    }
  }
  out.gpt_oss_experts = moe.Has("gptOssExperts") && bool_field(moe, "gptOssExperts");
  out.moe_ungated_experts = moe.Has("ungatedExperts") && bool_field(moe, "ungatedExperts");  // Nemotron-H
  if (moe.Has("latentSize")) out.moe_latent_size = int_field(moe, "latentSize");
  out.moe_input_scaled = moe.Has("inputScaledExperts") && bool_field(moe, "inputScaledExperts");  // Llama 4
  // GPT-OSS's, Llama 4's and Qwen3-VL-MoE's experts: gate and up in one tensor per expert.
  out.expert_gate_up_fused = out.gpt_oss_experts || (moe.Has("fusedExperts") && bool_field(moe, "fusedExperts"));
  if (moe.Has("grouped")) parse_grouped_routing(moe.Get("grouped"), out);
  Napi::Value layers = moe.Get("sparseLayers");
  if (!layers.IsArray()) fail(config.Env(), "moe.sparseLayers must be an array of booleans");
  Napi::Array list = layers.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) out.sparse_layers.push_back(list.Get(i).ToBoolean().Value() ? 1 : 0);
  if (out.num_experts <= 0 || out.num_experts_per_tok <= 0 || out.num_experts_per_tok > out.num_experts ||
      out.moe_intermediate_size <= 0 || out.shared_expert_intermediate_size < 0 || out.moe_latent_size < 0) {
    fail(config.Env(), "moe: expert counts and sizes must be positive, with numExpertsPerToken <= numExperts");
  }
}

// BLOOM, Falcon-RW, MPT (src/engine/model/alibi-family.ts): alibiSlopes (one per head) and MPT's clipQkv, both optional.
static void parse_alibi(const Napi::Object& ln, ModelConfig& out) {
  Napi::Value slopes = ln.Get("alibiSlopes");
  if (!slopes.IsUndefined()) {
    if (!slopes.IsArray() || slopes.As<Napi::Array>().Length() != static_cast<uint32_t>(out.num_heads)) fail(ln.Env(), "layerNorm.alibiSlopes must be an array of numHeads numbers");
    Napi::Array list = slopes.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value v = list.Get(i);
      const double slope = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(slope >= 0 && slope < 1e30)) fail(ln.Env(), "layerNorm.alibiSlopes must hold finite non-negative numbers");
      out.alibi_slopes.push_back(static_cast<float>(slope));
    }
  }
  if (!ln.Get("clipQkv").IsUndefined()) {
    out.clip_qkv = static_cast<float>(number_field(ln, "clipQkv"));
    if (!(out.clip_qkv >= 0.f)) fail(ln.Env(), "layerNorm.clipQkv must be non-negative");
  }
}

// The LayerNorm family's switches (src/engine/model/layernorm-family.ts LayerNormFeatures).
static void parse_layer_norm(const Napi::Object& ln, ModelConfig& out) {
  out.layer_norm = true;
  out.norm_affine = bool_field(ln, "normAffine");
  out.post_norm = bool_field(ln, "postNorm");
  out.final_norm = bool_field(ln, "finalNorm");
  out.parallel_residual = bool_field(ln, "parallelResidual");
  out.learned_positions = int_field(ln, "learnedPositions");
  out.position_offset = int_field(ln, "positionOffset");
  out.rotary_dim = int_field(ln, "rotaryDim");
  out.embed_dim = int_field(ln, "embedDim");
  out.shared_norm = bool_field(ln, "sharedNorm");
  out.gated_mlp = bool_field(ln, "gatedMlp");
  out.attention_scale_by_layer = bool_field(ln, "attentionScaleByLayer");
  out.qk_norm = string_field(ln, "headNorm") != "none";
  parse_alibi(ln, out);
  if (out.learned_positions < 0 || out.position_offset < 0 || out.rotary_dim < 0 || out.rotary_dim % 2 != 0 || out.embed_dim < 0)
    fail(ln.Env(), "layerNorm sizes must be non-negative (rotaryDim even)");
}

// Optional: layerWindows (one non-negative window per layer; absent: every layer full) and ropeLocalTheta (Gemma 3).
static void parse_layer_windows(const Napi::Object& config, ModelConfig& out) {
  Napi::Value windows = config.Get("layerWindows");
  if (!windows.IsUndefined()) {
    if (!windows.IsArray() || windows.As<Napi::Array>().Length() != static_cast<uint32_t>(out.num_layers)) {
      fail(config.Env(), "layerWindows must be an array of numLayers integers");
    }
    Napi::Array list = windows.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value v = list.Get(i);
      const double w = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(w >= 0 && w <= 2147483647.0 && w == static_cast<double>(static_cast<long long>(w)))) {
        fail(config.Env(), "layerWindows must hold non-negative integers");
      }
      out.layer_windows.push_back(static_cast<int>(w));
    }
  }
  if (!config.Get("ropeLocalTheta").IsUndefined()) {
    out.rope_local_theta = static_cast<float>(number_field(config, "ropeLocalTheta"));
    if (!(out.rope_local_theta > 0.f)) fail(config.Env(), "ropeLocalTheta must be positive");
  }
}

// A per-layer list of booleans (numLayers of them) as 0/1 bytes; `what` names the field in the error.
static std::vector<uint8_t> layer_flags(const Napi::Object& obj, const char* key, int num_layers, const std::string& what) {
  Napi::Value value = obj.Get(key);
  if (!value.IsArray() || value.As<Napi::Array>().Length() != static_cast<uint32_t>(num_layers)) {
    fail(obj.Env(), what + " must be an array of numLayers booleans");
  }
  Napi::Array list = value.As<Napi::Array>();
  std::vector<uint8_t> flags;
  for (uint32_t i = 0; i < list.Length(); ++i) flags.push_back(list.Get(i).ToBoolean().Value() ? 1 : 0);
  return flags;
}

// Optional: rmsVariant (Granite, OLMo2, SmolLM3: src/engine/model/rms-variants.ts RmsVariantFeatures).
static void parse_rms_variant(const Napi::Object& config, ModelConfig& out) {
  Napi::Object variant;
  if (!optional_object(config, "rmsVariant", variant)) return;
  out.residual_multiplier = static_cast<float>(number_field(variant, "residualMultiplier"));
  out.logits_multiplier = static_cast<float>(number_field(variant, "logitsMultiplier"));
  out.post_norms_only = bool_field(variant, "postNormsOnly");
  out.whole_qk_norm = bool_field(variant, "wholeQkNorm");
  out.head_mean_qk_norm = variant.Get("headMeanQkNorm").ToBoolean().Value();  // present only when true
  out.norm_mean = bool_field(variant, "normMean");
  out.parallel_residual = bool_field(variant, "parallelBlock");
  out.norm_affine = bool_field(variant, "normAffine");
  out.clip_qkv = static_cast<float>(number_field(variant, "clipQkv"));
  out.ungated_mlp = variant.Has("ungatedMlp") && bool_field(variant, "ungatedMlp");
  out.qk_norm_after_rope = variant.Has("qkNormAfterRope") && bool_field(variant, "qkNormAfterRope");
  out.sub_norms = variant.Has("subNorms") && bool_field(variant, "subNorms");
  out.bit_linear = variant.Has("bitLinear") && bool_field(variant, "bitLinear");
  out.embedding_norm = variant.Has("embeddingNorm") && bool_field(variant, "embeddingNorm");
  out.reversed_rope = variant.Has("reversedRope") && bool_field(variant, "reversedRope");
  out.diff_attention = variant.Has("diffAttention") && bool_field(variant, "diffAttention");
  out.attention_output_gate = variant.Has("attentionOutputGate") && bool_field(variant, "attentionOutputGate");  // AFMoE
  if (!(out.clip_qkv >= 0.f)) fail(config.Env(), "rmsVariant.clipQkv must be non-negative");
  if (!variant.Get("ropeLayers").IsUndefined()) out.rope_layers = layer_flags(variant, "ropeLayers", out.num_layers, "rmsVariant.ropeLayers");
}

// hybrid.mamba2 (src/engine/model/mamba2-config.ts Mamba2Features): the Mamba-2 mixers' sizes.
static void parse_mamba2(const Napi::Object& m, int num_layers, Mamba2Config& out) {
  out.heads = int_field(m, "heads");
  out.head_dim = int_field(m, "headDim");
  out.groups = int_field(m, "groups");
  out.state_size = int_field(m, "stateSize");
  out.conv_kernel = int_field(m, "convKernel");
  out.norm_group = int_field(m, "normGroup");
  out.conv_bias = bool_field(m, "convBias");
  out.dt_min = static_cast<float>(number_field(m, "dtMin"));
  out.dt_max = static_cast<float>(number_field(m, "dtMax"));
  out.no_mlp = bool_field(m, "noMlp");
  if (!m.Get("mlpLayers").IsUndefined()) out.mlp_layers = layer_flags(m, "mlpLayers", num_layers, "hybrid.mamba2.mlpLayers");
  if (m.Has("gatedNorm")) {
    const std::string norm = string_field(m, "gatedNorm");
    if (norm == "norm-then-gate") out.gated_norm = Mamba2GatedNorm::kNormThenGate;
    else if (norm == "gate-only") out.gated_norm = Mamba2GatedNorm::kGateOnly;
    else if (norm != "gate-then-norm") fail(m.Env(), "hybrid.mamba2.gatedNorm must be gate-then-norm, norm-then-gate or gate-only");
  }
  Napi::Object falcon;
  if (optional_object(m, "falconH1", falcon)) {
    FalconH1Multipliers& f = out.falcon_h1;
    f.enabled = true;
    const Napi::Value in_proj = falcon.Get("inProj");
    if (!in_proj.IsArray() || in_proj.As<Napi::Array>().Length() != 5) fail(m.Env(), "hybrid.mamba2.falconH1.inProj must hold 5 numbers");
    for (uint32_t i = 0; i < 5; ++i) f.in_proj[i] = static_cast<float>(in_proj.As<Napi::Array>().Get(i).As<Napi::Number>().DoubleValue());
    f.ssm_out = static_cast<float>(number_field(falcon, "ssmOut"));
    f.attention_in = static_cast<float>(number_field(falcon, "attentionIn"));
    f.attention_out = static_cast<float>(number_field(falcon, "attentionOut"));
    f.key = static_cast<float>(number_field(falcon, "key"));
    f.mlp_gate = static_cast<float>(number_field(falcon, "mlpGate"));
    f.mlp_down = static_cast<float>(number_field(falcon, "mlpDown"));
  }
  if (out.heads <= 0 || out.head_dim <= 0 || out.groups <= 0 || out.heads % out.groups != 0 || out.state_size <= 0 ||
      out.conv_kernel <= 0 || out.norm_group <= 0 || out.inner() % out.norm_group != 0 || !(out.dt_min <= out.dt_max)) {
    fail(m.Env(), "hybrid.mamba2: sizes must be positive, heads a multiple of groups, the inner width a multiple of normGroup");
  }
}

// hybrid.mamba1 (src/engine/model/mamba1-config.ts Mamba1Features): the Mamba-1 mixers' sizes.
static void parse_mamba1(const Napi::Object& m, Mamba1Config& out) {
  out.inner = int_field(m, "innerSize");
  out.state_size = int_field(m, "stateSize");
  out.conv_kernel = int_field(m, "convKernel");
  out.dt_rank = int_field(m, "dtRank");
  out.conv_bias = bool_field(m, "convBias");
  const std::string norm = string_field(m, "dtBcNorm");
  out.dt_bc_norm = norm == "weighted" ? Mamba1DtBcNorm::kWeighted : norm == "unweighted" ? Mamba1DtBcNorm::kUnweighted : Mamba1DtBcNorm::kNone;
  out.dt_bc_norm_eps = static_cast<float>(number_field(m, "dtBcNormEps"));
  out.no_mlp = bool_field(m, "noMlp");
  if (m.Has("heads")) out.heads = int_field(m, "heads");
  if (out.inner <= 0 || out.state_size <= 0 || out.conv_kernel <= 0 || out.dt_rank <= 0 || (norm != "none" && norm != "weighted" && norm != "unweighted") ||
      !(out.dt_bc_norm_eps > 0.f) || out.heads <= 0 || out.inner % out.heads != 0 || (out.heads > 1 && norm != "none")) {
    fail(m.Env(), "hybrid.mamba1: sizes must be positive, heads dividing innerSize (and only without dt/B/C norms), dtBcNorm none, weighted or unweighted, dtBcNormEps positive");
  }
}

// hybrid.zamba2 (src/engine/model/zamba2-config.ts Zamba2Features): the shared block each layer runs (-1: none).
static void parse_zamba2(const Napi::Object& z, ModelConfig& out) {
  Napi::Value blocks = z.Get("sharedBlocks");
  if (!blocks.IsArray() || blocks.As<Napi::Array>().Length() != static_cast<uint32_t>(out.num_layers)) fail(z.Env(), "hybrid.zamba2.sharedBlocks must list numLayers block indices");
  out.zamba2.num_blocks = int_field(z, "numMemBlocks");
  out.zamba2.adapter_rank = int_field(z, "adapterRank");
  out.zamba2.attention_adapters = bool_field(z, "attentionAdapters");
  out.zamba2.rope = bool_field(z, "rope");
  if (z.Has("gateUpApart")) out.zamba2.gate_up_apart = bool_field(z, "gateUpApart");
  for (uint32_t i = 0; i < blocks.As<Napi::Array>().Length(); ++i) {
    const int block = blocks.As<Napi::Array>().Get(i).As<Napi::Number>().Int32Value();
    if (block < -1 || block >= out.zamba2.num_blocks) fail(z.Env(), "hybrid.zamba2.sharedBlocks: a block index is outside numMemBlocks");
    out.zamba2.shared_block.push_back(block);
  }
  if (out.zamba2.num_blocks <= 0 || out.zamba2.adapter_rank < 0 || (out.zamba2.adapter_rank == 0 && out.zamba2.attention_adapters)) {
    fail(z.Env(), "hybrid.zamba2: numMemBlocks must be positive, adapterRank non-negative (0: no adapters, so none on q/k/v)");
  }
}

// Optional: hybrid (Qwen 3.5: src/engine/model/qwen35-config.ts HybridFeatures): which layers are Gated DeltaNet, their
// sizes, and the full-attention layers' output gate.
static void parse_hybrid(const Napi::Object& config, ModelConfig& out) {
  Napi::Object hybrid;
  if (!optional_object(config, "hybrid", hybrid)) return;
  out.linear_layers = layer_flags(hybrid, "linearLayers", out.num_layers, "hybrid.linearLayers");
  out.attention_output_gate = bool_field(hybrid, "attentionOutputGate");
  Napi::Object zamba2;
  if (optional_object(hybrid, "zamba2", zamba2)) parse_zamba2(zamba2, out);
  Napi::Object mamba;
  if (optional_object(hybrid, "mamba2", mamba)) return parse_mamba2(mamba, out.num_layers, out.mamba2);
  if (optional_object(hybrid, "mamba1", mamba)) return parse_mamba1(mamba, out.mamba1);
  // LFM2 (src/engine/model/lfm2-config.ts): gated short convolutions over hidden_size channels.
  Napi::Object short_conv;
  if (optional_object(hybrid, "shortConv", short_conv)) {
    out.short_conv_kernel = int_field(short_conv, "kernel");
    if (out.short_conv_kernel < 2) fail(config.Env(), "hybrid.shortConv: kernel must be at least 2");
    return;
  }
  out.linear_num_k_heads = int_field(hybrid, "linearNumKeyHeads");
  out.linear_num_v_heads = int_field(hybrid, "linearNumValueHeads");
  out.linear_k_dim = int_field(hybrid, "linearKeyHeadDim");
  out.linear_v_dim = int_field(hybrid, "linearValueHeadDim");
  out.linear_conv_kernel = int_field(hybrid, "convKernel");
  if (hybrid.Has("valueHeadsTiled") && hybrid.Get("valueHeadsTiled").IsBoolean()) out.linear_v_heads_tiled = bool_field(hybrid, "valueHeadsTiled");
  out.kimi_delta = hybrid.Has("kimiDelta") && bool_field(hybrid, "kimiDelta");
  // OLMo Hybrid (src/engine/model/olmo-hybrid-config.ts): its doubled beta, gated-norm eps and post-norm attention layers.
  Napi::Object olmo;
  if (optional_object(hybrid, "olmoHybrid", olmo)) {
    out.linear_beta_scale = static_cast<float>(number_field(olmo, "betaScale"));
    out.linear_norm_eps = static_cast<float>(number_field(olmo, "gatedNormEps"));
    out.post_norms_only = true;
    if (!(out.linear_beta_scale > 0.f) || !(out.linear_norm_eps > 0.f)) fail(config.Env(), "hybrid.olmoHybrid: betaScale and gatedNormEps must be positive");
  }
  if (out.linear_num_k_heads <= 0 || out.linear_num_v_heads <= 0 || out.linear_num_v_heads % out.linear_num_k_heads != 0 ||
      out.linear_k_dim <= 0 || out.linear_v_dim <= 0 || out.linear_conv_kernel <= 0) {
    fail(config.Env(), "hybrid: linear attention sizes must be positive, with value heads a multiple of key heads");
  }
}

// Optional: llama4 (src/engine/model/llama4-config.ts Llama4Features): NoPE layers, chunked attention on the layer
// windows, the rope layers' weightless q/k norm and the NoPE layers' query temperature.
static void parse_llama4(const Napi::Object& config, ModelConfig& out) {
  Napi::Object llama4;
  if (!optional_object(config, "llama4", llama4)) return;
  out.rope_layers = layer_flags(llama4, "ropeLayers", out.num_layers, "llama4.ropeLayers");
  out.chunked_attention = bool_field(llama4, "chunkedAttention");
  out.rope_layer_qk_norm = bool_field(llama4, "ropeLayerQkNorm");
  out.attn_temperature_scale = static_cast<float>(number_field(llama4, "attnTemperatureScale"));
  out.attn_floor_scale = int_field(llama4, "attnFloorScale");
  if (!(out.attn_temperature_scale >= 0.f) || out.attn_floor_scale <= 0) {
    fail(config.Env(), "llama4: attnTemperatureScale must be non-negative and attnFloorScale positive");
  }
}

ModelConfig parse_model_config(const Napi::Object& config) {
  ModelConfig out;
  out.vocab_size = int_field(config, "vocabSize");
  out.hidden_size = int_field(config, "hiddenSize");
  out.intermediate_size = int_field(config, "intermediateSize");
  out.num_layers = int_field(config, "numLayers");
  out.num_heads = int_field(config, "numHeads");
  out.num_kv_heads = int_field(config, "numKvHeads");
  out.rms_norm_eps = static_cast<float>(number_field(config, "rmsNormEps"));
  out.tie_word_embeddings = bool_field(config, "tieWordEmbeddings");
  out.attention_bias = bool_field(config, "attentionBias");
  out.attention_output_bias = config.Has("attentionOutputBias") && bool_field(config, "attentionOutputBias");
  out.mlp_bias = config.Has("mlpBias") && bool_field(config, "mlpBias");
  out.qk_norm = bool_field(config, "qkNorm");
  const std::string act = string_field(config, "hiddenAct");
  if (act == "silu") {
    out.hidden_act = Activation::Silu;
  } else if (act == "gelu_pytorch_tanh") {
    out.hidden_act = Activation::GeluTanh;
  } else if (act == "relu") {
    out.hidden_act = Activation::Relu;
  } else if (act == "gelu") {
    out.hidden_act = Activation::GeluErf;
  } else if (act == "relu2") {
    out.hidden_act = Activation::Relu2;
  } else if (act == "xielu") {
    out.hidden_act = Activation::Xielu;
  } else {
    fail(config.Env(), "unsupported hiddenAct '" + act + "'");
  }
  out.norm_weight_offset = static_cast<float>(number_field(config, "normWeightOffset"));
  out.embedding_scale = static_cast<float>(number_field(config, "embeddingScale"));
  out.sandwich_norms = bool_field(config, "sandwichNorms");
  out.attention_scale = static_cast<float>(number_field(config, "attentionScale"));
  out.attn_logit_softcap = static_cast<float>(number_field(config, "attnLogitSoftcap"));
  out.final_logit_softcap = static_cast<float>(number_field(config, "finalLogitSoftcap"));
  // The LayerNorm family's rotaryDim first: a scaling's frequency divisors cover the rotated values only.
  if (config.Has("layerNorm") && config.Get("layerNorm").IsObject()) parse_layer_norm(config.Get("layerNorm").As<Napi::Object>(), out);
  parse_rope(config, out);
  parse_moe(config, out);
  parse_mla(config, out);
  parse_layer_windows(config, out);
  parse_rms_variant(config, out);
  parse_gemma4(config, out);
  parse_hybrid(config, out);
  parse_llama4(config, out);
  if (out.vocab_size <= 0 || out.hidden_size <= 0 || out.intermediate_size <= 0 || out.num_layers <= 0 ||
      out.num_heads <= 0 || out.num_kv_heads <= 0 || out.head_dim <= 0) {
    fail(config.Env(), "model config sizes must be positive");
  }
  if (out.num_experts > 0 && static_cast<int>(out.sparse_layers.size()) != out.num_layers) {
    fail(config.Env(), "moe.sparseLayers must have one entry per layer");
  }
  return out;
}

DType parse_dtype(const std::string& name) {
  if (name == "F32") return DType::F32;
  if (name == "F16") return DType::F16;
  if (name == "BF16") return DType::BF16;
  throw std::invalid_argument("unsupported tensor dtype " + name + " (F32, F16 or BF16)");
}

WeightFormat parse_weight_format(const std::string& name) {
  static const WeightFormat kFormats[] = {
      WeightFormat::F32,  WeightFormat::BF16, WeightFormat::F16,  WeightFormat::Q8_0, WeightFormat::Q4_0,
      WeightFormat::Q4_1, WeightFormat::Q5_0, WeightFormat::Q5_1, WeightFormat::IQ4_NL, WeightFormat::Q2_K,
      WeightFormat::Q3_K, WeightFormat::Q4_K, WeightFormat::Q5_K, WeightFormat::Q6_K, WeightFormat::IQ4_XS,
      WeightFormat::TQ1_0, WeightFormat::TQ2_0};
  std::string known;
  for (WeightFormat format : kFormats) {
    if (name == cpu::format_name(format)) return format;
    known += (known.empty() ? "" : ", ") + std::string(cpu::format_name(format));
  }
  throw std::invalid_argument("unsupported weight format " + name + " (" + known + ")");
}

std::vector<TensorSource> parse_tensors(const Napi::Array& tensors) {
  std::vector<TensorSource> out;
  for (uint32_t i = 0; i < tensors.Length(); ++i) {
    Napi::Object t = tensors.Get(i).As<Napi::Object>();
    TensorSource source;
    source.name = string_field(t, "name");
    source.dtype = parse_dtype(string_field(t, "dtype"));
    Napi::Array shape = t.Get("shape").As<Napi::Array>();
    for (uint32_t d = 0; d < shape.Length(); ++d) source.shape.push_back(shape.Get(d).As<Napi::Number>().Int64Value());
    source.path = string_field(t, "path");
    source.offset = static_cast<uint64_t>(number_field(t, "offset"));
    source.nbytes = static_cast<uint64_t>(number_field(t, "nbytes"));
    if (t.Has("blockFormat") && t.Get("blockFormat").IsString()) source.block_format = parse_weight_format(string_field(t, "blockFormat"));
    if (t.Has("ropeInterleavedHeads") && t.Get("ropeInterleavedHeads").IsNumber()) {
      source.rope_interleaved_heads = static_cast<int>(number_field(t, "ropeInterleavedHeads"));
    }
    if (t.Has("transposed") && t.Get("transposed").IsBoolean()) source.transposed = bool_field(t, "transposed");
    if (t.Has("qkvInterleavedHeads") && t.Get("qkvInterleavedHeads").IsNumber()) source.qkv_interleaved_heads = int_field(t, "qkvInterleavedHeads");
    if (t.Has("ropeInterleavedDims") && t.Get("ropeInterleavedDims").IsNumber()) source.rope_interleaved_dims = int_field(t, "ropeInterleavedDims");
    if (t.Has("qkvQueriesPerGroup") && t.Get("qkvQueriesPerGroup").IsNumber()) source.qkv_queries_per_group = int_field(t, "qkvQueriesPerGroup");
    if (t.Has("mxfp4Scales") && t.Get("mxfp4Scales").IsObject()) {
      Napi::Object scales = t.Get("mxfp4Scales").As<Napi::Object>();
      source.mxfp4_scales_path = string_field(scales, "path");
      source.mxfp4_scales_offset = static_cast<uint64_t>(number_field(scales, "offset"));
      source.mxfp4_scales_nbytes = static_cast<uint64_t>(number_field(scales, "nbytes"));
    }
    if (t.Has("ggmlMxfp4") && t.Get("ggmlMxfp4").IsBoolean()) source.mxfp4_ggml_blocks = bool_field(t, "ggmlMxfp4");
    if (t.Has("decayRateStored") && t.Get("decayRateStored").IsBoolean()) source.decay_rate_stored = bool_field(t, "decayRateStored");
    if (t.Has("scale") && t.Get("scale").IsNumber()) source.scale = static_cast<float>(number_field(t, "scale"));
    if (t.Has("fp8Scales") && t.Get("fp8Scales").IsObject()) {
      Napi::Object scales = t.Get("fp8Scales").As<Napi::Object>();
      source.fp8_scales_path = string_field(scales, "path");
      source.fp8_scales_offset = static_cast<uint64_t>(number_field(scales, "offset"));
      source.fp8_scales_nbytes = static_cast<uint64_t>(number_field(scales, "nbytes"));
      source.fp8_scales_dtype = parse_dtype(string_field(scales, "dtype"));
      source.fp8_block_rows = int_field(scales, "blockRows");
      source.fp8_block_cols = int_field(scales, "blockCols");
      source.fp8_e5m2 = string_field(scales, "format") == "e5m2";
    }
    out.push_back(std::move(source));
  }
  return out;
}

}  // namespace js
}  // namespace pagedllm
