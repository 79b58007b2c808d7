// Reading JS values (typed arrays, option objects) into the C++ structs of backend.h, with errors that say
// which field was wrong.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "pagedllm/backend.h"

namespace pagedllm {
namespace js {

// The typed array's elements, after checking its type and (when expected >= 0) its length.
const int32_t* int32_data(const Napi::Value& value, const char* name, long expected = -1, size_t* length = nullptr);
float* float32_data(const Napi::Value& value, const char* name, long expected = -1, size_t* length = nullptr);

int int_field(const Napi::Object& obj, const char* name);
double number_field(const Napi::Object& obj, const char* name);
std::string string_field(const Napi::Object& obj, const char* name);

// The TS ModelConfig (src/engine/model/model-config.ts) as the backend's ModelConfig.
ModelConfig parse_model_config(const Napi::Object& config);
// Only the rope fields (ropeTheta, ropeScaling, headDim) of a TS ModelConfig-like object.
void parse_rope(const Napi::Object& config, ModelConfig& out);
// config.gemma4 (gemma4_config_input.cpp); nothing when absent.
void parse_gemma4(const Napi::Object& config, ModelConfig& out);
DType parse_dtype(const std::string& name);
WeightFormat parse_weight_format(const std::string& name);
std::vector<TensorSource> parse_tensors(const Napi::Array& tensors);

}  // namespace js
}  // namespace pagedllm
