// ops.moeSortSlots(experts, numExperts) -> {sortedSlots, slotPositions, counts, runs}: the order the CUDA MoE MLP gives
// routed (row, rank) slots and the expert GEMMs it runs; ops.moeScratchBytes(...) -> the bytes of its step scratch
// (pagedllm/moe_plan.h), exposed so the CPU build's tests check them.
#include "moe_plan_binding.h"

#include <string>

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

// (numRows, hidden, numExperts, topK, expertWidth, sharedWidth, sharedGated) -> MoeScratchPlan's total for 2-byte weights.
Napi::Value MoeScratchBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* names[] = {"numRows", "hidden", "numExperts", "topK", "expertWidth", "sharedWidth"};
  int sizes[6];
  for (int i = 0; i < 6; ++i) {
    const double value = info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : -1;
    if (!(value >= 0 && value <= 2147483647.0) || value != static_cast<int>(value))
      throw Napi::RangeError::New(env, std::string(names[i]) + " must be a non-negative 32-bit integer");
    sizes[i] = static_cast<int>(value);
  }
  const MoeScratchPlan plan(sizes[0], sizes[1], sizes[2], sizes[3], sizes[4], sizes[5], info[6].ToBoolean().Value(), 2);
  return Napi::Number::New(env, static_cast<double>(plan.total));
}

}  // namespace

void AddMoePlanOps(Napi::Env env, Napi::Object ops) {
  ops.Set("moeSortSlots", Napi::Function::New(env, MoeSortSlots));
  ops.Set("moeScratchBytes", Napi::Function::New(env, MoeScratchBytes));
}

}  // namespace pagedllm
