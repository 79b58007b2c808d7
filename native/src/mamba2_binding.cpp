// Binding of the Mamba-2 SSD recurrence (mamba2_binding.h); every size is checked against the arrays given.
#include "mamba2_binding.h"

#include <string>

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

}  // namespace

void AddMamba2Ops(Napi::Env env, Napi::Object ops, ThreadPool& (*pool)()) {
  g_pool = pool;
  ops.Set("ssdRecurrence", Napi::Function::New(env, SsdRecurrence));
}

}  // namespace pagedllm
