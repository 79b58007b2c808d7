// Synchronous bindings of single kernels on a shared thread pool (ops.setThreads sizes it). They copy
// nothing on the way in and write into a caller-provided output when one is given, so benchmarks time
// the kernel and not allocation.
#include "ops_bindings.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../cpu/fp8_weights.h"
#include "../cpu/kernels.h"
#include "../cpu/layernorm_family.h"
#include "../cpu/quant_formats.h"
#include "../cpu/quant_linear.h"
#include "attention_split_binding.h"
#include "gated_delta_binding.h"
#include "moe_plan_binding.h"
#include "js_convert.h"
#include "prompt_logprobs_binding.h"
#include "sampler_binding.h"
#include "token_mask_binding.h"

namespace pagedllm {

namespace {

std::unique_ptr<ThreadPool>& ops_pool_slot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}

ThreadPool& ops_pool() {
  auto& pool = ops_pool_slot();
  if (!pool) pool = std::make_unique<ThreadPool>(0);
  return *pool;
}

int arg_int(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

// The optional output argument at index i, or a new Float32Array of `length`.
Napi::Float32Array output(const Napi::CallbackInfo& info, size_t i, size_t length) {
  if (info.Length() > i && !info[i].IsUndefined() && !info[i].IsNull()) {
    js::float32_data(info[i], "out", static_cast<long>(length));
    return info[i].As<Napi::Float32Array>();
  }
  return Napi::Float32Array::New(info.Env(), length);
}

// rmsNorm(x, weight, rows, dim, eps, out?)
Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  const int rows = arg_int(info, 2, "rows"), dim = arg_int(info, 3, "dim");
  const float* x = js::float32_data(info[0], "x", static_cast<long>(rows) * dim);
  const float* weight = js::float32_data(info[1], "weight", dim);
  Napi::Float32Array out = output(info, 5, static_cast<size_t>(rows) * dim);
  cpu::rms_norm(ops_pool(), x, weight, out.Data(), rows, dim, info[4].As<Napi::Number>().FloatValue());
  return out;
}

// fusedAddRmsNorm(x, residual, weight, rows, dim, eps): updates x and residual in place.
Napi::Value FusedAddRmsNorm(const Napi::CallbackInfo& info) {
  const int rows = arg_int(info, 3, "rows"), dim = arg_int(info, 4, "dim");
  float* x = js::float32_data(info[0], "x", static_cast<long>(rows) * dim);
  float* residual = js::float32_data(info[1], "residual", static_cast<long>(rows) * dim);
  const float* weight = js::float32_data(info[2], "weight", dim);
  cpu::fused_add_rms_norm(ops_pool(), x, residual, weight, rows, dim, info[5].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

// rope(x, rows, rowStride, numHeads, positions, ropeConfig{headDim, ropeTheta, ropeScaling}): in place.
Napi::Value Rope(const Napi::CallbackInfo& info) {
  const int rows = arg_int(info, 1, "rows"), row_stride = arg_int(info, 2, "rowStride"), heads = arg_int(info, 3, "numHeads");
  float* x = js::float32_data(info[0], "x", static_cast<long>(rows) * row_stride);
  const int32_t* positions = js::int32_data(info[4], "positions", rows);
  ModelConfig config;
  js::parse_rope(info[5].As<Napi::Object>(), config);
  if (heads * config.head_dim > row_stride) throw Napi::RangeError::New(info.Env(), "numHeads * headDim exceeds rowStride");
  const int rotated = config.rotary_dim > 0 ? config.rotary_dim : config.head_dim;  // Phi-3's partial rotary
  std::vector<float> cos_sin(static_cast<size_t>(rows) * rotated);
  cpu::rope_cos_sin(positions, rows, cpu::rope_inv_freq(config), cos_sin.data(), config.rope_attention_factor);
  cpu::rotary(ops_pool(), x, rows, row_stride, heads, rotated, cos_sin.data(), config.head_dim);
  return info.Env().Undefined();
}

// siluAndMul / geluTanhAndMul(gateUp, rows, dim, out?)
template <void (*Activation)(ThreadPool&, const float*, float*, int, int)>
Napi::Value GatedActivation(const Napi::CallbackInfo& info) {
  const int rows = arg_int(info, 1, "rows"), dim = arg_int(info, 2, "dim");
  const float* gate_up = js::float32_data(info[0], "gateUp", 2L * rows * dim);
  Napi::Float32Array out = output(info, 3, static_cast<size_t>(rows) * dim);
  Activation(ops_pool(), gate_up, out.Data(), rows, dim);
  return out;
}

// rowStats(logits, numRows, vocabSize) -> Float64Array [numRows * 3]: max, argmax, logSumExp of each row. Runs on
// the calling thread: ~30 us per 32k-logit row with AVX2, too little to pay for handing rows to the pool.
Napi::Value RowStats(const Napi::CallbackInfo& info) {
  const int rows = arg_int(info, 1, "numRows"), vocab = arg_int(info, 2, "vocabSize");
  if (rows < 0 || vocab < 1) throw Napi::RangeError::New(info.Env(), "numRows must be >= 0 and vocabSize >= 1");
  const float* logits = js::float32_data(info[0], "logits", static_cast<long>(rows) * vocab);
  Napi::Float64Array stats = Napi::Float64Array::New(info.Env(), 3 * static_cast<size_t>(rows));
  cpu::row_stats(logits, rows, vocab, stats.Data());
  return stats;
}

// convert(raw: Uint16Array | Float32Array, dtype 'F32'|'F16'|'BF16') -> Float32Array
Napi::Value Convert(const Napi::CallbackInfo& info) {
  const DType dtype = js::parse_dtype(info[1].As<Napi::String>().Utf8Value());
  Napi::TypedArray raw = info[0].As<Napi::TypedArray>();
  const size_t count = raw.ByteLength() / (dtype == DType::F32 ? 4 : 2);
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), count);
  cpu::convert_to_f32(dtype, static_cast<uint8_t*>(raw.ArrayBuffer().Data()) + raw.ByteOffset(), out.Data(), count);
  return out;
}

// FP8 codes (format "e4m3" or "e5m2") decoded as the loader decodes a checkpoint's (cpu/fp8_weights.cpp).
Napi::Value DecodeFp8(const Napi::CallbackInfo& info) {
  Napi::Uint8Array codes = info[0].As<Napi::Uint8Array>();
  const bool e5m2 = info[1].As<Napi::String>().Utf8Value() == "e5m2";
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), codes.ElementLength());
  for (size_t i = 0; i < codes.ElementLength(); ++i) out[i] = e5m2 ? cpu::fp8_e5m2_to_float(codes[i]) : cpu::fp8_e4m3_to_float(codes[i]);
  return out;
}

// format: one format name, or [[format, rows], ...] for a stacked matrix whose row blocks keep their own block formats.
cpu::WeightMatrix weight_matrix(const Napi::Value& raw_value, const Napi::Value& dtype_value, int rows, int cols,
                                const Napi::Value& format_value) {
  const DType dtype = js::parse_dtype(dtype_value.As<Napi::String>().Utf8Value());
  Napi::TypedArray raw = raw_value.As<Napi::TypedArray>();
  const size_t count = static_cast<size_t>(rows) * cols;
  if (raw.ByteLength() != count * (dtype == DType::F32 ? 4 : 2)) {
    throw Napi::RangeError::New(raw_value.Env(), "weight bytes do not match rows * cols of the dtype");
  }
  std::vector<float> values(count);
  cpu::convert_to_f32(dtype, static_cast<uint8_t*>(raw.ArrayBuffer().Data()) + raw.ByteOffset(), values.data(), count);
  if (format_value.IsArray()) {
    Napi::Array blocks = format_value.As<Napi::Array>();
    std::vector<cpu::WeightMatrix> parts;
    int first = 0;
    for (uint32_t i = 0; i < blocks.Length(); ++i) {
      Napi::Array block = blocks.Get(i).As<Napi::Array>();
      const WeightFormat format = js::parse_weight_format(block.Get(0u).As<Napi::String>().Utf8Value());
      const int block_rows = block.Get(1u).As<Napi::Number>().Int32Value();
      if (block_rows <= 0 || first + block_rows > rows) throw Napi::RangeError::New(raw_value.Env(), "stacked row blocks exceed rows");
      parts.emplace_back().resize(format, block_rows, cols);
      parts.back().store_rows(0, block_rows, values.data() + static_cast<size_t>(first) * cols);
      first += block_rows;
    }
    if (first != rows) throw Napi::RangeError::New(raw_value.Env(), "stacked row blocks do not add up to rows");
    return cpu::stack_quantized(std::move(parts));
  }
  cpu::WeightMatrix matrix;
  matrix.resize(js::parse_weight_format(format_value.As<Napi::String>().Utf8Value()), rows, cols);
  matrix.store_rows(0, rows, values.data());
  return matrix;
}

// linear(x, numRows, weight, dtype, outFeatures, inFeatures, format, bias?) -> y [numRows, outFeatures]; converts
// the weights on every call (LinearWeights keeps them).
Napi::Value Linear(const Napi::CallbackInfo& info) {
  const int num_rows = arg_int(info, 1, "numRows"), rows = arg_int(info, 4, "outFeatures"), cols = arg_int(info, 5, "inFeatures");
  const cpu::WeightMatrix matrix = weight_matrix(info[2], info[3], rows, cols, info[6]);
  const float* x = js::float32_data(info[0], "x", static_cast<long>(num_rows) * cols);
  const float* bias = info.Length() > 7 && info[7].IsTypedArray() ? js::float32_data(info[7], "bias", rows) : nullptr;
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(num_rows) * rows);
  cpu::linear(ops_pool(), x, num_rows, matrix, bias, out.Data());
  return out;
}

// A weight matrix kept in its storage format across calls: new LinearWeights(raw, dtype, rows, cols, format).
class LinearWeights : public Napi::ObjectWrap<LinearWeights> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "LinearWeights",
                       {InstanceMethod<&LinearWeights::Run>("run"), InstanceAccessor<&LinearWeights::Bytes>("bytes")});
  }

  explicit LinearWeights(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<LinearWeights>(info),
        matrix_(weight_matrix(info[0], info[1], arg_int(info, 2, "rows"), arg_int(info, 3, "cols"), info[4])) {
    const int rows = matrix_.rows;
    if (info.Length() > 5 && info[5].IsTypedArray()) {
      const float* bias = js::float32_data(info[5], "bias", rows);
      bias_.assign(bias, bias + rows);
    }
  }

 private:
  // run(x, numRows, out?, batchInvariant?) -> y [numRows, rows]
  Napi::Value Run(const Napi::CallbackInfo& info) {
    const int num_rows = arg_int(info, 1, "numRows");
    const float* x = js::float32_data(info[0], "x", static_cast<long>(num_rows) * matrix_.cols);
    Napi::Float32Array out = output(info, 2, static_cast<size_t>(num_rows) * matrix_.rows);
    const bool invariant = info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
    cpu::linear(ops_pool(), x, num_rows, matrix_, bias_.empty() ? nullptr : bias_.data(), out.Data(),
                invariant ? cpu::LinearOrder::kBatchInvariant : cpu::LinearOrder::kFastest);
    return out;
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(matrix_.bytes())); }

  cpu::WeightMatrix matrix_;
  std::vector<float> bias_;
};

// pagedAttention(query, qStride, keyCache, valueCache, batch{queryStartLoc, positions, blockTables,
//   maxBlocksPerSeq, slidingWindow?, sinks?}, numHeads, numKvHeads, headDim, blockSize, scale, out?) -> [numTokens, numHeads*headDim]
Napi::Value PagedAttention(const Napi::CallbackInfo& info) {
  Napi::Object batch = info[4].As<Napi::Object>();
  size_t num_starts = 0;
  const int32_t* query_start_loc = js::int32_data(batch.Get("queryStartLoc"), "queryStartLoc", -1, &num_starts);
  const int num_seqs = static_cast<int>(num_starts) - 1;
  const int num_tokens = query_start_loc[num_seqs];
  const int heads = arg_int(info, 5, "numHeads"), kv_heads = arg_int(info, 6, "numKvHeads");
  const int head_dim = arg_int(info, 7, "headDim"), block_size = arg_int(info, 8, "blockSize");
  const int q_stride = arg_int(info, 1, "qStride");
  cpu::AttentionBatch ab;
  ab.num_seqs = num_seqs;
  ab.query_start_loc = query_start_loc;
  ab.positions = js::int32_data(batch.Get("positions"), "positions", num_tokens);
  ab.max_blocks_per_seq = js::int_field(batch, "maxBlocksPerSeq");
  ab.block_tables = js::int32_data(batch.Get("blockTables"), "blockTables", static_cast<long>(num_seqs) * ab.max_blocks_per_seq);
  if (!batch.Get("slidingWindow").IsUndefined()) ab.sliding_window = std::max(0, js::int_field(batch, "slidingWindow"));
  if (!batch.Get("sinks").IsUndefined()) ab.sinks = js::float32_data(batch.Get("sinks"), "sinks", heads);
  size_t cache_floats = 0;
  const float* key_cache = js::float32_data(info[2], "keyCache", -1, &cache_floats);
  const float* value_cache = js::float32_data(info[3], "valueCache", static_cast<long>(cache_floats));
  const cpu::KvLayout layout{block_size, kv_heads, head_dim};
  const long num_blocks = static_cast<long>(cache_floats / layout.block_floats());
  for (int s = 0; s < num_seqs; ++s) {
    for (int t = query_start_loc[s]; t < query_start_loc[s + 1]; ++t) {
      for (int j = 0; j <= ab.positions[t] / block_size; ++j) {
        if (j >= ab.max_blocks_per_seq) throw Napi::RangeError::New(info.Env(), "position beyond maxBlocksPerSeq");
        const int32_t block = ab.block_tables[static_cast<size_t>(s) * ab.max_blocks_per_seq + j];
        if (block < 0 || block >= num_blocks) throw Napi::RangeError::New(info.Env(), "block table entry outside the cache");
      }
    }
  }
  const float* query = js::float32_data(info[0], "query", static_cast<long>(num_tokens) * q_stride);
  Napi::Float32Array out = output(info, 10, static_cast<size_t>(num_tokens) * heads * head_dim);
  cpu::paged_attention(ops_pool(), query, q_stride, key_cache, value_cache, ab, heads, layout,
                       info[9].As<Napi::Number>().FloatValue(), out.Data());
  return out;
}

// reshapeAndCache(key, value, rowStride, keyCache, valueCache, slotMapping, numKvHeads, headDim, blockSize)
Napi::Value ReshapeAndCache(const Napi::CallbackInfo& info) {
  size_t rows = 0, cache_floats = 0;
  const int32_t* slots = js::int32_data(info[5], "slotMapping", -1, &rows);
  const int row_stride = arg_int(info, 2, "rowStride");
  const cpu::KvLayout layout{arg_int(info, 8, "blockSize"), arg_int(info, 6, "numKvHeads"), arg_int(info, 7, "headDim")};
  const float* key = js::float32_data(info[0], "key", static_cast<long>(rows) * row_stride);
  const float* value = js::float32_data(info[1], "value", static_cast<long>(rows) * row_stride);
  float* key_cache = js::float32_data(info[3], "keyCache", -1, &cache_floats);
  float* value_cache = js::float32_data(info[4], "valueCache", static_cast<long>(cache_floats));
  const size_t slot_floats = static_cast<size_t>(layout.num_kv_heads) * layout.head_dim;
  for (size_t t = 0; t < rows; ++t) {
    if (slots[t] >= 0 && (slots[t] + 1) * slot_floats > cache_floats) throw Napi::RangeError::New(info.Env(), "slot outside the cache");
  }
  cpu::reshape_and_cache(key, value, row_stride, key_cache, value_cache, slots, static_cast<int>(rows), layout);
  return info.Env().Undefined();
}

// hugeFloat32Array(length): zeroed, huge-page backed memory as the KV pool gets it (benchmarks use it so a
// JS-held cache sees the same TLB behaviour as the engine's).
Napi::Value HugeFloat32Array(const Napi::CallbackInfo& info) {
  const size_t length = static_cast<size_t>(arg_int(info, 0, "length"));
  auto* buffer = new cpu::HugeBuffer(length * sizeof(float));
  Napi::ArrayBuffer memory = Napi::ArrayBuffer::New(info.Env(), buffer->data(), length * sizeof(float),
                                                    [](Napi::Env, void*, cpu::HugeBuffer* owned) { delete owned; }, buffer);
  return Napi::Float32Array::New(info.Env(), length, memory, 0);
}

// setThreads(n): resizes the ops pool (0 = number of cores); returns the resulting size.
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  ops_pool_slot() = std::make_unique<ThreadPool>(arg_int(info, 0, "threads"));
  return Napi::Number::New(info.Env(), ops_pool().size());
}

// setAvx2(enabled) -> whether the request was honoured (false: this CPU lacks AVX2/FMA/F16C).
Napi::Value SetAvx2(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), cpu::set_avx2_enabled(info[0].ToBoolean().Value()));
}

Napi::Value Avx2Status(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("supported", cpu::cpu_supports_avx2());
  out.Set("enabled", cpu::avx2_enabled());
  return out;
}

// setVnni(kind) -> whether the request was honoured (false: this CPU cannot run that build; 'none' always works).
Napi::Value SetVnni(const Napi::CallbackInfo& info) {
  const std::string name = info[0].ToString().Utf8Value();
  for (cpu::VnniKind kind : {cpu::VnniKind::kNone, cpu::VnniKind::kAvxVnni, cpu::VnniKind::kAvx512Vnni}) {
    if (name == cpu::vnni_kind_name(kind)) return Napi::Boolean::New(info.Env(), cpu::set_vnni_kind(kind));
  }
  throw Napi::TypeError::New(info.Env(), "setVnni: unknown VNNI build '" + name + "' (avx-vnni, avx512-vnni or none)");
}

// vnniStatus() -> the packed quantized prefill kernel's VNNI build: available on this CPU, and in use now (with its
// vector width, for reports).
Napi::Value VnniStatus(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("supported", cpu::vnni_kind_name(cpu::cpu_vnni_kind()));
  out.Set("inUse", cpu::vnni_kind_name(cpu::vnni_in_use()));
  out.Set("inUseLabel", cpu::vnni_kind_label(cpu::vnni_in_use()));
  return out;
}

// setFloatPanels(width) -> whether the request was honoured (false: this CPU cannot run 'avx512'; 'avx2' always works).
Napi::Value SetFloatPanels(const Napi::CallbackInfo& info) {
  const std::string name = info[0].ToString().Utf8Value();
  for (cpu::FloatPanelWidth width : {cpu::FloatPanelWidth::kAvx2, cpu::FloatPanelWidth::kAvx512}) {
    if (name == cpu::float_panel_width_name(width)) return Napi::Boolean::New(info.Env(), cpu::set_float_panel_width(width));
  }
  throw Napi::TypeError::New(info.Env(), "setFloatPanels: unknown build '" + name + "' (avx2 or avx512)");
}

// floatPanelsStatus() -> the packed float prefill kernel's build: the widest this CPU runs, and the one in use now.
Napi::Value FloatPanelsStatus(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("supported", cpu::float_panel_width_name(cpu::cpu_float_panel_width()));
  out.Set("inUse", cpu::float_panel_width_name(cpu::float_panel_width_in_use()));
  return out;
}

// measureCeilings({bytes, repeats, flopSeconds}) on the ops pool -> bytes/s and FLOP/s.
Napi::Value MeasureCeilings(const Napi::CallbackInfo& info) {
  Napi::Object opts = info[0].As<Napi::Object>();
  const size_t bytes = static_cast<size_t>(js::number_field(opts, "bytes"));
  const int repeats = js::int_field(opts, "repeats");
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("threads", ops_pool().size());
  out.Set("readBytesPerSecond", cpu::measure_read_bandwidth(ops_pool(), bytes, repeats));
  out.Set("triadBytesPerSecond", cpu::measure_triad_bandwidth(ops_pool(), bytes, repeats));
  out.Set("peakFlops", cpu::measure_peak_flops(ops_pool(), js::number_field(opts, "flopSeconds")));
  return out;
}

// ---- block-quantized weight formats (issue 15) ----
// quantizeRows(values Float32Array, rows, cols, format) -> Uint8Array of the rows in the format's ggml blocks.
Napi::Value QuantizeRows(const Napi::CallbackInfo& info) {
  const int rows = arg_int(info, 1, "rows"), cols = arg_int(info, 2, "cols");
  const WeightFormat format = js::parse_weight_format(info[3].As<Napi::String>().Utf8Value());
  if (!cpu::is_quantized(format)) throw Napi::TypeError::New(info.Env(), "quantizeRows needs a quantized format");
  const float* values = js::float32_data(info[0], "values", static_cast<long>(rows) * cols);
  const size_t row_bytes = cpu::weight_row_bytes(format, cols);
  Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), row_bytes * rows);
  for (int r = 0; r < rows; ++r) cpu::quantize_row(format, values + static_cast<size_t>(r) * cols, out.Data() + r * row_bytes, cols);
  return out;
}

// dequantizeRows(raw Uint8Array, rows, cols, format) -> Float32Array [rows * cols].
Napi::Value DequantizeRows(const Napi::CallbackInfo& info) {
  const int rows = arg_int(info, 1, "rows"), cols = arg_int(info, 2, "cols");
  const WeightFormat format = js::parse_weight_format(info[3].As<Napi::String>().Utf8Value());
  if (!cpu::is_quantized(format)) throw Napi::TypeError::New(info.Env(), "dequantizeRows needs a quantized format");
  Napi::Uint8Array raw = info[0].As<Napi::Uint8Array>();
  const size_t row_bytes = cpu::weight_row_bytes(format, cols);
  if (raw.ByteLength() != row_bytes * rows) throw Napi::RangeError::New(info.Env(), "raw bytes do not match rows * cols of the format");
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) cpu::dequantize_row(format, raw.Data() + r * row_bytes, out.Data() + static_cast<size_t>(r) * cols, cols);
  return out;
}

// layerNorm(x, weight, bias, rows, dim, eps, out?): the LayerNorm family's norm (out may be x).
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  const int rows = arg_int(info, 3, "rows"), dim = arg_int(info, 4, "dim");
  const float* x = js::float32_data(info[0], "x", static_cast<long>(rows) * dim);
  const float* weight = js::float32_data(info[1], "weight", dim);
  const float* bias = js::float32_data(info[2], "bias", dim);
  Napi::Float32Array out = output(info, 6, static_cast<size_t>(rows) * dim);
  cpu::layer_norm(ops_pool(), x, weight, bias, out.Data(), rows, dim, info[5].As<Napi::Number>().FloatValue());
  return out;
}

// plainActivation(x, rows, dim, 'relu' | 'gelu' | 'gelu_pytorch_tanh'): in place, the plain MLP's activation.
Napi::Value PlainActivation(const Napi::CallbackInfo& info) {
  const int rows = arg_int(info, 1, "rows"), dim = arg_int(info, 2, "dim");
  float* x = js::float32_data(info[0], "x", static_cast<long>(rows) * dim);
  const std::string name = info[3].As<Napi::String>().Utf8Value();
  const Activation act = name == "relu" ? Activation::Relu : name == "gelu" ? Activation::GeluErf : Activation::GeluTanh;
  if (name != "relu" && name != "gelu" && name != "gelu_pytorch_tanh") throw Napi::TypeError::New(info.Env(), "unknown activation " + name);
  cpu::plain_activation(ops_pool(), x, rows, dim, act);
  return info.Env().Undefined();
}

void add_quant_ops(Napi::Env env, Napi::Object ops) {
  ops.Set("quantizeRows", Napi::Function::New(env, QuantizeRows));
  ops.Set("dequantizeRows", Napi::Function::New(env, DequantizeRows));
}

}  // namespace

Napi::Object CreateOps(Napi::Env env) {
  Napi::Object ops = Napi::Object::New(env);
  ops.Set("rmsNorm", Napi::Function::New(env, RmsNorm));
  ops.Set("fusedAddRmsNorm", Napi::Function::New(env, FusedAddRmsNorm));
  ops.Set("rope", Napi::Function::New(env, Rope));
  ops.Set("siluAndMul", Napi::Function::New(env, GatedActivation<cpu::silu_and_mul>));
  ops.Set("geluTanhAndMul", Napi::Function::New(env, GatedActivation<cpu::gelu_tanh_and_mul>));
  ops.Set("rowStats", Napi::Function::New(env, RowStats));
  ops.Set("convert", Napi::Function::New(env, Convert));
  ops.Set("decodeFp8", Napi::Function::New(env, DecodeFp8));
  ops.Set("linear", Napi::Function::New(env, Linear));
  ops.Set("LinearWeights", LinearWeights::Define(env));
  ops.Set("pagedAttention", Napi::Function::New(env, PagedAttention));
  ops.Set("reshapeAndCache", Napi::Function::New(env, ReshapeAndCache));
  ops.Set("hugeFloat32Array", Napi::Function::New(env, HugeFloat32Array));
  ops.Set("setThreads", Napi::Function::New(env, SetThreads));
  ops.Set("setAvx2", Napi::Function::New(env, SetAvx2));
  ops.Set("avx2Status", Napi::Function::New(env, Avx2Status));
  ops.Set("setVnni", Napi::Function::New(env, SetVnni));
  ops.Set("vnniStatus", Napi::Function::New(env, VnniStatus));
  ops.Set("setFloatPanels", Napi::Function::New(env, SetFloatPanels));
  ops.Set("floatPanelsStatus", Napi::Function::New(env, FloatPanelsStatus));
  ops.Set("measureCeilings", Napi::Function::New(env, MeasureCeilings));
  add_quant_ops(env, ops);
  ops.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  ops.Set("plainActivation", Napi::Function::New(env, PlainActivation));
  AddTokenMaskOps(env, ops);
  AddSamplerOps(env, ops, ops_pool);
  AddPromptLogprobOps(env, ops);
  AddAttentionSplitOps(env, ops);
  AddMoePlanOps(env, ops);
  AddGatedDeltaOps(env, ops, ops_pool);
  return ops;
}

}  // namespace pagedllm
