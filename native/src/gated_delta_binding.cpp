// Bindings of the hybrid models' recurrent kernels (gated_delta_binding.h): Gated DeltaNet's, Mamba-2's SSD and Mamba-1's scan; every size is checked against the arrays given.
#include "gated_delta_binding.h"

#include <string>

#include "../cpu/gated_delta.h"
#include "../cpu/mamba1_mixer.h"
#include "../cpu/mamba2_mixer.h"
#include "js_convert.h"

namespace pagedllm {

namespace {

ThreadPool& (*g_pool)() = nullptr;

int positive(const Napi::Object& o, const char* name) {
  const int v = js::int_field(o, name);
  if (v <= 0) throw Napi::RangeError::New(o.Env(), std::string(name) + " must be positive");
  return v;
}

// causalConv1dSilu({x, rows, channels, weight, kernel, state, bias?}) -> out [rows, channels]; state updated in place.
Napi::Value CausalConv1dSilu(const Napi::CallbackInfo& info) {
  const Napi::Object o = info[0].As<Napi::Object>();
  const int rows = positive(o, "rows"), channels = positive(o, "channels"), kernel = positive(o, "kernel");
  const float* x = js::float32_data(o.Get("x"), "x", static_cast<long>(rows) * channels);
  const float* weight = js::float32_data(o.Get("weight"), "weight", static_cast<long>(channels) * kernel);
  float* state = js::float32_data(o.Get("state"), "state", static_cast<long>(channels) * (kernel - 1));
  // Mamba-2's conv1d.bias, optional.
  const float* bias = o.Get("bias").IsUndefined() ? nullptr : js::float32_data(o.Get("bias"), "bias", channels);
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(rows) * channels);
  cpu::causal_conv1d_silu(g_pool(), x, rows, channels, channels, weight, kernel, state, out.Data(), channels, bias);
  return out;
}

// gatedDeltaRule({q, k, v, g, beta, rows, kHeads, vHeads, kDim, vDim, state, channelDecay?}) -> out [rows, vHeads * vDim];
// with channelDecay g is [rows, vHeads, kDim].
Napi::Value GatedDeltaRule(const Napi::CallbackInfo& info) {
  const Napi::Object o = info[0].As<Napi::Object>();
  const int rows = positive(o, "rows"), k_heads = positive(o, "kHeads"), v_heads = positive(o, "vHeads");
  const int k_dim = positive(o, "kDim"), v_dim = positive(o, "vDim");
  if (v_heads % k_heads != 0) throw Napi::RangeError::New(info.Env(), "vHeads must be a multiple of kHeads");
  const long qk = static_cast<long>(rows) * k_heads * k_dim, gates = static_cast<long>(rows) * v_heads;
  const bool channel_decay = o.Has("channelDecay") && o.Get("channelDecay").ToBoolean().Value();
  cpu::DeltaRuleRows in{js::float32_data(o.Get("q"), "q", qk), js::float32_data(o.Get("k"), "k", qk),
                        js::float32_data(o.Get("v"), "v", gates * v_dim), k_heads * k_dim, k_heads * k_dim, v_heads * v_dim,
                        js::float32_data(o.Get("g"), "g", channel_decay ? gates * k_dim : gates),
                        js::float32_data(o.Get("beta"), "beta", gates), rows, channel_decay};
  float* state = js::float32_data(o.Get("state"), "state", static_cast<long>(v_heads) * k_dim * v_dim);
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(gates) * v_dim);
  cpu::gated_delta_rule(g_pool(), in, k_heads, v_heads, k_dim, v_dim, state, out.Data());
  return out;
}

// ssdRecurrence({x, dt, rows, heads, headDim, groups, stateSize, dtBias, decayRate, d, dtMin, dtMax, state}) -> y
// [rows, heads * headDim]: x rows are [x | B | C], dt [rows, heads]; state [heads, headDim, stateSize] updated.
Napi::Value SsdRecurrence(const Napi::CallbackInfo& info) {
  const Napi::Object o = info[0].As<Napi::Object>();
  Mamba2Config m;
  m.heads = positive(o, "heads");
  m.head_dim = positive(o, "headDim");
  m.groups = positive(o, "groups");
  m.state_size = positive(o, "stateSize");
  m.dt_min = static_cast<float>(js::number_field(o, "dtMin"));
  m.dt_max = static_cast<float>(js::number_field(o, "dtMax"));
  if (m.heads % m.groups != 0) throw Napi::RangeError::New(info.Env(), "heads must be a multiple of groups");
  const int rows = positive(o, "rows");
  const int width = m.inner() + 2 * m.groups * m.state_size;
  const cpu::SsdRows in{js::float32_data(o.Get("x"), "x", static_cast<long>(rows) * width), width,
                        js::float32_data(o.Get("dt"), "dt", static_cast<long>(rows) * m.heads), m.heads, rows};
  const float* dt_bias = js::float32_data(o.Get("dtBias"), "dtBias", m.heads);
  const float* decay = js::float32_data(o.Get("decayRate"), "decayRate", m.heads);
  const float* d = js::float32_data(o.Get("d"), "d", m.heads);
  float* state = js::float32_data(o.Get("state"), "state", static_cast<long>(m.heads) * m.head_dim * m.state_size);
  Napi::Float32Array y = Napi::Float32Array::New(info.Env(), static_cast<size_t>(rows) * m.inner());
  cpu::ssd_recurrence(g_pool(), m, in, dt_bias, decay, d, state, y.Data());
  return y;
}

// selectiveScan({x, dt, b, c, z, rows, channels, stateSize, decay, d, state}) -> y [rows, channels]: x, dt (before
// softplus), z [rows, channels], b, c [rows, stateSize]; decay (A) [channels, stateSize]; state [channels, stateSize] updated.
Napi::Value SelectiveScan(const Napi::CallbackInfo& info) {
  const Napi::Object o = info[0].As<Napi::Object>();
  Mamba1Config m;
  m.inner = positive(o, "channels");
  m.state_size = positive(o, "stateSize");
  const int rows = positive(o, "rows");
  const long wide = static_cast<long>(rows) * m.inner, narrow = static_cast<long>(rows) * m.state_size;
  const cpu::SelectiveScanRows in{js::float32_data(o.Get("x"), "x", wide), m.inner, js::float32_data(o.Get("dt"), "dt", wide),
                                  js::float32_data(o.Get("b"), "b", narrow), js::float32_data(o.Get("c"), "c", narrow), m.state_size,
                                  js::float32_data(o.Get("z"), "z", wide), m.inner, rows, m.inner, 0};  // one head
  const float* decay = js::float32_data(o.Get("decay"), "decay", static_cast<long>(m.inner) * m.state_size);
  const float* d = js::float32_data(o.Get("d"), "d", m.inner);
  float* state = js::float32_data(o.Get("state"), "state", static_cast<long>(m.inner) * m.state_size);
  Napi::Float32Array y = Napi::Float32Array::New(info.Env(), static_cast<size_t>(wide));
  cpu::selective_scan(g_pool(), m, in, decay, d, state, y.Data());
  return y;
}

}  // namespace

void AddGatedDeltaOps(Napi::Env env, Napi::Object ops, ThreadPool& (*pool)()) {
  g_pool = pool;
  ops.Set("causalConv1dSilu", Napi::Function::New(env, CausalConv1dSilu));
  ops.Set("gatedDeltaRule", Napi::Function::New(env, GatedDeltaRule));
  ops.Set("ssdRecurrence", Napi::Function::New(env, SsdRecurrence));
  ops.Set("selectiveScan", Napi::Function::New(env, SelectiveScan));
}

}  // namespace pagedllm
