// ops.moeSortSlots(experts, numExperts) -> {sortedSlots, slotPositions, counts, runs}: the order the CUDA MoE MLP gives
// routed (row, rank) slots and the expert GEMMs it runs (pagedllm/moe_plan.h), exposed so the CPU build's tests check it.
#include "moe_plan_binding.h"

#include "js_convert.h"
#include "pagedllm/moe_plan.h"

namespace pagedllm {

namespace {

Napi::Value MoeSortSlots(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t num_slots = 0;
  const int32_t* experts = js::int32_data(info[0], "experts", -1, &num_slots);
  if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "numExperts must be a number");
  const double num_experts = info[1].As<Napi::Number>().DoubleValue();
  if (!(num_experts >= 1 && num_experts <= 4096) || num_experts != static_cast<int>(num_experts))
    throw Napi::RangeError::New(env, "numExperts must be an integer in [1, 4096]");
  const int experts_count = static_cast<int>(num_experts);
  Napi::Int32Array sorted = Napi::Int32Array::New(env, num_slots);
  Napi::Int32Array positions = Napi::Int32Array::New(env, num_slots);
  Napi::Int32Array counts = Napi::Int32Array::New(env, experts_count);
  try {
    moe_sort_slots(experts, static_cast<int>(num_slots), experts_count, sorted.Data(), positions.Data(), counts.Data());
  } catch (const std::exception& error) {
    throw Napi::RangeError::New(env, error.what());
  }
  const std::vector<MoeExpertRun> runs = moe_expert_runs(counts.Data(), experts_count);
  Napi::Int32Array runs_js = Napi::Int32Array::New(env, 3 * runs.size());  // (expert, first, count) triples
  for (size_t i = 0; i < runs.size(); ++i) {
    runs_js[3 * i] = runs[i].expert;
    runs_js[3 * i + 1] = runs[i].first;
    runs_js[3 * i + 2] = runs[i].count;
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("sortedSlots", sorted);
  result.Set("slotPositions", positions);
  result.Set("counts", counts);
  result.Set("runs", runs_js);
  return result;
}

}  // namespace

void AddMoePlanOps(Napi::Env env, Napi::Object ops) { ops.Set("moeSortSlots", Napi::Function::New(env, MoeSortSlots)); }

}  // namespace pagedllm
