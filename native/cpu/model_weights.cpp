// Loads HF Llama/Qwen2/Qwen3 tensors by name with pread (no JS buffers) and converts them to the weight format.
#include "model_weights.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "dtype_convert.h"
#include "fp8_weights.h"
#include "pagedllm/tensor_rows.h"
#include "quant_formats.h"
#include "quant_linear.h"

namespace pagedllm {
namespace cpu {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

size_t dtype_bytes(DType dtype) { return dtype == DType::F32 ? 4 : 2; }

// An MXFP4 tensor's blocks hold two 4-bit values a byte and its scales one byte per 32 values.
void check_mxfp4_sizes(const TensorSource& t, size_t rows, int cols) {
  if (cols % 32 != 0 || t.nbytes != rows * cols / 2 || t.mxfp4_scales_nbytes != rows * cols / 32) {
    throw std::runtime_error("tensor " + t.name + ": MXFP4 blocks of " + std::to_string(t.nbytes) + " bytes and scales of " +
                             std::to_string(t.mxfp4_scales_nbytes) + " do not hold " + std::to_string(rows) + " rows of " +
                             std::to_string(cols) + " values (32 a block)");
  }
}

// fp4 e2m1 codes (low nibble first in each byte) times 2^(scale - 127), one scale per 32 values, as transformers'
// convert_moe_packed_tensors: [rows * cols / 2] bytes -> rows * cols f32 values, each exact.
std::vector<uint8_t> dequantize_mxfp4(const std::vector<uint8_t>& blocks, const std::vector<uint8_t>& scales) {
  static const float kValues[16] = {0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f, -0.f, -0.5f, -1.f, -1.5f, -2.f, -3.f, -4.f, -6.f};
  std::vector<uint8_t> out(blocks.size() * 2 * sizeof(float));
  float* values = reinterpret_cast<float*>(out.data());
  for (size_t i = 0; i < blocks.size(); ++i) {
    const int exponent = static_cast<int>(scales[i / 16]) - 127;
    values[2 * i] = std::ldexp(kValues[blocks[i] & 0x0F], exponent);
    values[2 * i + 1] = std::ldexp(kValues[blocks[i] >> 4], exponent);
  }
  return out;
}

// A GGUF MXFP4 tensor's 17-byte blocks (backend.h, mxfp4_ggml_blocks) -> 32 f32 values each, exact.
std::vector<uint8_t> dequantize_ggml_mxfp4(const std::vector<uint8_t>& blocks) {
  static const float kDoubled[16] = {0.f, 1.f, 2.f, 3.f, 4.f, 6.f, 8.f, 12.f, -0.f, -1.f, -2.f, -3.f, -4.f, -6.f, -8.f, -12.f};
  const size_t count = blocks.size() / 17;
  std::vector<uint8_t> out(count * 32 * sizeof(float));
  float* values = reinterpret_cast<float*>(out.data());
  for (size_t b = 0; b < count; ++b) {
    const uint8_t* block = blocks.data() + b * 17;
    const int exponent = static_cast<int>(block[0]) - 128;
    for (int j = 0; j < 16; ++j) {
      values[b * 32 + j] = std::ldexp(kDoubled[block[1 + j] & 0x0F], exponent);
      values[b * 32 + j + 16] = std::ldexp(kDoubled[block[1 + j] >> 4], exponent);
    }
  }
  return out;
}

// A per-tensor scale (TensorSource::scale) folded into Q8_0 blocks: each f16 d times it, rounded to f16 as d is stored.
void scale_q8_0_blocks(const std::string& name, std::vector<uint8_t>& blocks, float scale) {
  auto* block = reinterpret_cast<BlockQ8_0*>(blocks.data());
  for (size_t i = 0; i < blocks.size() / sizeof(BlockQ8_0); ++i) {
    const float d = f16_to_f32(block[i].d) * scale;
    block[i].d = f32_to_f16(d);
    if (!std::isfinite(f16_to_f32(block[i].d))) throw std::runtime_error("tensor " + name + ": its scale times a block's d overflows f16");
  }
}

class TensorReader {
 public:
  explicit TensorReader(const std::vector<TensorSource>& tensors) {
    for (const auto& t : tensors) by_name_[t.name] = &t;
  }
  ~TensorReader() {
    for (auto& entry : files_) ::close(entry.second);
  }

  bool has(const std::string& name) const { return by_name_.count(name) > 0; }
  float scale(const std::string& name) const {
    auto found = by_name_.find(name);
    return found == by_name_.end() ? 1.f : found->second->scale;
  }
  bool decay_rate_stored(const std::string& name) const {
    auto found = by_name_.find(name);
    return found != by_name_.end() && found->second->decay_rate_stored;
  }

  // The quantized format a tensor's data are stored in (F32 for plain float tensors, and for a transposed one, whose
  // blocks run along the other dimension: it is dequantized at load, read_rows).
  WeightFormat block_format(const std::string& name) const {
    auto found = by_name_.find(name);
    return found == by_name_.end() || found->second->transposed ? WeightFormat::F32 : found->second->block_format;
  }

  // The tensor as fp32 (dequantized if stored in blocks), after checking it exists and has exactly `shape`.
  std::vector<float> read(const std::string& name, const std::vector<int64_t>& shape) {
    const TensorSource& t = find(name, shape);
    std::vector<uint8_t> raw = read_rows(t);
    size_t count = 1;
    for (int64_t d : shape) count *= static_cast<size_t>(d);
    std::vector<float> values(count);
    if (is_quantized(t.block_format) && !t.transposed) {
      const int cols = static_cast<int>(shape.back());
      const size_t row_bytes = weight_row_bytes(t.block_format, cols);
      for (size_t r = 0; r < count / cols; ++r) dequantize_row(t.block_format, raw.data() + r * row_bytes, values.data() + r * cols, cols);
    } else {
      convert_to_f32(t.dtype, raw.data(), values.data(), count);
    }
    if (t.scale != 1.f) for (float& v : values) v *= t.scale;
    return values;
  }

  // The tensor's bytes as stored (rows in rotate_half order), for a matrix kept in the tensor's own block format.
  std::vector<uint8_t> read_raw(const std::string& name, const std::vector<int64_t>& shape) { return read_rows(find(name, shape)); }

 private:
  const TensorSource& find(const std::string& name, const std::vector<int64_t>& shape) const {
    auto found = by_name_.find(name);
    if (found == by_name_.end()) throw std::runtime_error("missing tensor " + name + " (expected shape " + shape_text(shape) + ")");
    const TensorSource& t = *found->second;
    if (t.shape != shape) {
      throw std::runtime_error("tensor " + name + " has shape " + shape_text(t.shape) + ", expected " + shape_text(shape));
    }
    size_t rows = 1;
    for (size_t d = 0; d + 1 < shape.size(); ++d) rows *= static_cast<size_t>(shape[d]);
    int cols = static_cast<int>(shape.back());
    // A transposed [out, in] tensor is stored [in, out]: its stored rows are what blocks and sizes count.
    if (t.transposed && shape.size() == 2) {
      rows = static_cast<size_t>(shape[1]);
      cols = static_cast<int>(shape[0]);
    }
    if (is_quantized(t.block_format) && cols % format_block_values(t.block_format) != 0) {
      throw std::runtime_error("tensor " + name + " is " + format_name(t.block_format) + " but its rows of " + std::to_string(cols) +
                               " values are not whole blocks");
    }
    if (t.mxfp4_scales_nbytes > 0) {
      check_mxfp4_sizes(t, rows, cols);
      return t;
    }
    if (t.mxfp4_ggml_blocks && (cols % 32 != 0 || t.nbytes != rows * (cols / 32) * 17)) {
      throw std::runtime_error("tensor " + name + ": MXFP4 blocks of " + std::to_string(t.nbytes) + " bytes do not hold " +
                               std::to_string(rows) + " rows of " + std::to_string(cols) + " values (17 bytes per 32)");
    }
    if (t.mxfp4_ggml_blocks) return t;
    if (t.fp8_scales_nbytes > 0) {
      check_fp8_sizes(t, rows, static_cast<size_t>(cols));
      return t;
    }
    const size_t expected = rows * (is_quantized(t.block_format) ? weight_row_bytes(t.block_format, cols) : cols * dtype_bytes(t.dtype));
    if (t.nbytes != expected) {
      throw std::runtime_error("tensor " + name + " holds " + std::to_string(t.nbytes) + " bytes, but shape " +
                               shape_text(shape) + " needs " + std::to_string(expected));
    }
    return t;
  }

  // All rows of a tensor in compute order (pagedllm/tensor_rows.h: transposed, regrouped or de-interleaved).
  std::vector<uint8_t> read_rows(const TensorSource& t) {
    std::vector<uint8_t> raw(t.nbytes);
    read_exact(t, t.path, t.offset, t.nbytes, raw.data());
    if (t.mxfp4_scales_nbytes > 0) {
      // MXFP4: dequantized to f32 first, then reordered as a plain f32 tensor.
      std::vector<uint8_t> scales(t.mxfp4_scales_nbytes);
      read_exact(t, t.mxfp4_scales_path, t.mxfp4_scales_offset, t.mxfp4_scales_nbytes, scales.data());
      return f32_compute_order_rows(t, dequantize_mxfp4(raw, scales));
    }
    if (t.mxfp4_ggml_blocks) return f32_compute_order_rows(t, dequantize_ggml_mxfp4(raw));
    if (t.transposed && is_quantized(t.block_format)) {
      // Blocks along the stored rows ([in, out]): dequantized, then transposed as a float tensor.
      const int stored_cols = static_cast<int>(t.shape[0]);
      const size_t row_bytes = weight_row_bytes(t.block_format, stored_cols), stored_rows = raw.size() / row_bytes;
      std::vector<uint8_t> values(stored_rows * stored_cols * sizeof(float));
      for (size_t r = 0; r < stored_rows; ++r) {
        dequantize_row(t.block_format, raw.data() + r * row_bytes, reinterpret_cast<float*>(values.data()) + r * stored_cols, stored_cols);
      }
      return f32_compute_order_rows(t, std::move(values));
    }
    if (t.fp8_scales_nbytes > 0) {
      std::vector<uint8_t> scales(t.fp8_scales_nbytes);
      read_exact(t, t.fp8_scales_path, t.fp8_scales_offset, t.fp8_scales_nbytes, scales.data());
      return f32_compute_order_rows(t, dequantize_fp8(t, raw, scales));
    }
    return compute_order_rows(t, std::move(raw));
  }

  // A dequantized tensor (MXFP4, FP8) reordered as the plain f32 tensor it now is.
  static std::vector<uint8_t> f32_compute_order_rows(const TensorSource& t, std::vector<uint8_t> values) {
    TensorSource dequantized = t;
    dequantized.dtype = DType::F32;
    dequantized.mxfp4_scales_nbytes = 0;
    dequantized.mxfp4_ggml_blocks = false;
    dequantized.block_format = WeightFormat::F32;
    dequantized.fp8_scales_nbytes = 0;
    dequantized.nbytes = values.size();
    return compute_order_rows(dequantized, std::move(values));
  }

  void read_exact(const TensorSource& t, const std::string& path, uint64_t offset, uint64_t nbytes, uint8_t* out) {
    int fd = open_file(path);
    size_t done = 0;
    while (done < nbytes) {
      ssize_t got = ::pread(fd, out + done, nbytes - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        throw std::runtime_error("cannot read tensor " + t.name + " from " + path + ": " +
                                 (got == 0 ? std::string("file ends early") : std::string(std::strerror(errno))));
      }
      done += static_cast<size_t>(got);
    }
  }

  int open_file(const std::string& path) {
    auto found = files_.find(path);
    if (found != files_.end()) return found->second;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    files_[path] = fd;
    return fd;
  }

  std::map<std::string, const TensorSource*> by_name_;
  std::map<std::string, int> files_;
};

// The format a matrix with rows of `cols` values is kept in: the requested one when its blocks divide the rows,
// else the one llama.cpp's llama-quantize takes for such rows (e.g. Qwen2.5-0.5B's 896): Q4_K -> Q5_0, Q6_K -> Q8_0,
// else f32.
WeightFormat fitting_format(WeightFormat requested, int cols) {
  if (cols % format_block_values(requested) == 0) return requested;
  if (requested == WeightFormat::Q4_K) return fitting_format(WeightFormat::Q5_0, cols);
  if (requested == WeightFormat::Q6_K) return fitting_format(WeightFormat::Q8_0, cols);
  return WeightFormat::F32;
}

// llama.cpp's Q4_K_M gives attn_v and ffn_down 6 bits in these layers: the first and last eighth, and every third one
// in between.
bool q4_k_m_more_bits(int layer, int num_layers) {
  return layer < num_layers / 8 || layer >= 7 * num_layers / 8 || (layer - num_layers / 8) % 3 == 2;
}

// One tensor of a stacked matrix: its name, its rows, and the format a float tensor is converted to.
struct StackedPart {
  std::string name;
  int rows;
  WeightFormat format;
  bool ternary = false;  // BitNet's bit_linear: the float tensor ternarized before it is stored
};

// parts[begin, end), all of one format, as one matrix: blocks stored in that format copied byte for byte, float
// tensors converted to it.
WeightMatrix load_uniform(TensorReader& reader, const std::vector<StackedPart>& parts, size_t begin, size_t end,
                          WeightFormat format, int cols) {
  int rows = 0;
  for (size_t i = begin; i < end; ++i) rows += parts[i].rows;
  WeightMatrix matrix;
  matrix.resize(format, rows, cols);
  int row = 0;
  for (size_t i = begin; i < end; ++i) {
    const StackedPart& part = parts[i];
    const WeightFormat stored = reader.block_format(part.name);
    const float scale = reader.scale(part.name);
    // Blocks kept as stored take a scale only as Q8_0 (the TypeScript side refuses one beside other block formats).
    if (scale != 1.f && is_quantized(stored) && format != WeightFormat::Q8_0) {
      throw std::runtime_error("tensor " + part.name + ": a per-tensor scale is folded only into f32/f16/bf16, Q8_0, TQ1_0 or TQ2_0 weights");
    }
    if (is_quantized(stored) && stored == format) {
      std::vector<uint8_t> raw = reader.read_raw(part.name, {part.rows, cols});
      if (scale != 1.f) scale_q8_0_blocks(part.name, raw, scale);
      matrix.store_raw_rows(row, part.rows, raw.data());
    } else if (stored == WeightFormat::IQ4_XS && format == WeightFormat::IQ4_NL) {
      // Block by block, codes kept (a round trip through floats could re-choose them).
      const std::vector<uint8_t> raw = reader.read_raw(part.name, {part.rows, cols});
      std::vector<uint8_t> converted(static_cast<size_t>(part.rows) * weight_row_bytes(format, cols));
      if (!convert_iq4_xs_to_iq4_nl(raw.data(), converted.data(), raw.size() / sizeof(BlockIQ4_XS))) {
        throw std::runtime_error("tensor " + part.name + ": an iq4_xs scale overflows f16 as iq4_nl");
      }
      matrix.store_raw_rows(row, part.rows, converted.data());
    } else if ((stored == WeightFormat::TQ1_0 || stored == WeightFormat::TQ2_0) && format == WeightFormat::Q8_0) {
      // Block by block: the codes and the f16 d as they are, so every value is the file's.
      const std::vector<uint8_t> raw = reader.read_raw(part.name, {part.rows, cols});
      std::vector<uint8_t> converted(static_cast<size_t>(part.rows) * weight_row_bytes(format, cols));
      convert_ternary_to_q8_0(stored, raw.data(), converted.data(), raw.size() / format_block_bytes(stored));
      if (scale != 1.f) scale_q8_0_blocks(part.name, converted, scale);
      matrix.store_raw_rows(row, part.rows, converted.data());
    } else {
      std::vector<float> values = reader.read(part.name, {part.rows, cols});
      if (part.ternary) ternarize_weights(values);
      matrix.store_rows(row, part.rows, values.data());
    }
    row += part.rows;
  }
  return matrix;
}

// Stacks several [rows_i, cols] tensors into one matrix, in order, each in its own format and never re-quantized:
// a tensor stored in blocks keeps them (GGUF; IQ4_XS, TQ1_0 and TQ2_0, which have no kernel, become IQ4_NL and Q8_0:
// load_format), a float tensor takes its part's format (quantized here). Parts in different block formats (Q4_K_M's v
// at Q6_K under q/k at Q4_K) become segments of a stacked matrix, each run by its own kernel, so a checkpoint quantized
// at load and its GGUF file give the same matrix. The integer kernels need blocks throughout, so a float tensor stacked
// with block-quantized ones (an unusual file) is quantized to Q8_0.
void load_stacked(TensorReader& reader, WeightMatrix& matrix, const std::vector<StackedPart>& parts, int cols) {
  std::vector<WeightFormat> formats;
  for (const auto& part : parts) {
    const WeightFormat stored = reader.block_format(part.name);
    formats.push_back(is_quantized(stored) ? load_format(stored) : fitting_format(part.format, cols));
  }
  bool mixed = false;
  for (WeightFormat format : formats) mixed = mixed || format != formats[0];
  if (!mixed) {
    matrix = load_uniform(reader, parts, 0, parts.size(), formats[0], cols);
    return;
  }
  for (WeightFormat& format : formats) {
    if (!is_quantized(format)) format = WeightFormat::Q8_0;  // fits: the block parts' rows are whole blocks of 32
  }
  // Runs of consecutive parts in one format make one segment each.
  std::vector<WeightMatrix> segments;
  for (size_t begin = 0, end; begin < parts.size(); begin = end) {
    for (end = begin + 1; end < parts.size() && formats[end] == formats[begin];) ++end;
    segments.push_back(load_uniform(reader, parts, begin, end, formats[begin], cols));
  }
  matrix = stack_quantized(std::move(segments));
}

// The LayerNorm family under the engine's names (src/engine/model/layernorm-family.ts renames them): LayerNorms with
// bias (ones and zeros without elementwise affine), fc1 in gate_up (or StableLM's gate and up), fc2 (down_proj) in down,
// a fused qkv_proj or q/k/v stacked, Phi's shared or StableLM's per-head q/k norms tiled to one weight per head value.
// A bias is read when the tensor list has it: which ones a model has is decided in TypeScript, by config.json.
ModelWeights load_layernorm_family(TensorReader& reader, const ModelConfig& config, WeightFormat format) {
  const int hidden = config.hidden_size, inter = config.intermediate_size, embed = config.embed_dim > 0 ? config.embed_dim : hidden;
  const int q_rows = config.num_heads * config.head_dim, kv_rows = config.num_kv_heads * config.head_dim;
  ModelWeights weights;
  // MPT's LayerNorms have weights but no bias (its tensor list names none): zeros, which add nothing.
  const auto vector = [&](const std::string& name, int size, float fill) {
    const bool is_norm = name.find("norm") != std::string::npos;
    if (is_norm && (!config.norm_affine || (fill == 0.f && !reader.has(name)))) return std::vector<float>(size, fill);
    return reader.read(name, {size});
  };
  const auto bias = [&](const std::string& name, int size) { return reader.has(name) ? reader.read(name, {size}) : std::vector<float>(); };
  // One [head_dim] weight (and bias) for every head (Phi), or each head's own weight and no bias (StableLM).
  const auto head_norm = [&](const std::string& name, int heads, std::vector<float>& weight, std::vector<float>& norm_bias) {
    const int dim = config.head_dim;
    const bool shared = reader.has(name + ".weight");
    std::vector<float> one_weight = shared ? reader.read(name + ".weight", {dim}) : std::vector<float>();
    std::vector<float> one_bias = shared ? reader.read(name + ".bias", {dim}) : std::vector<float>(dim, 0.f);
    for (int h = 0; h < heads; ++h) {
      const std::vector<float> own = shared ? one_weight : reader.read(name + "." + std::to_string(h) + ".weight", {dim});
      weight.insert(weight.end(), own.begin(), own.end());
      norm_bias.insert(norm_bias.end(), one_bias.begin(), one_bias.end());
    }
  };
  load_stacked(reader, weights.embed_tokens, {{"model.embed_tokens.weight", config.vocab_size, format}}, embed);
  if (!config.tie_word_embeddings) load_stacked(reader, weights.lm_head, {{"lm_head.weight", config.vocab_size, format}}, embed);
  weights.lm_head_bias = bias("lm_head.bias", config.vocab_size);
  // BLOOM's word_embeddings_layernorm.
  if (reader.has("model.embed_norm.weight")) {
    weights.embed_norm = reader.read("model.embed_norm.weight", {embed});
    weights.embed_norm_bias = reader.read("model.embed_norm.bias", {embed});
  }
  // XGLM's sinusoidal positions are computed as tokens read them (layernorm_family.cpp).
  if (config.learned_positions > 0 && !config.sinusoidal_positions) {
    load_stacked(reader, weights.embed_positions, {{"model.embed_positions.weight", config.learned_positions, WeightFormat::F32}}, hidden);
  }
  if (config.embed_dim > 0) {
    load_stacked(reader, weights.project_in, {{"model.project_in.weight", hidden, format}}, embed);
    load_stacked(reader, weights.project_out, {{"model.project_out.weight", embed, format}}, hidden);
  }
  if (config.final_norm) {
    weights.final_norm = vector("model.norm.weight", hidden, 1.f);
    weights.final_norm_bias = vector("model.norm.bias", hidden, 0.f);
  }
  weights.layers.resize(config.num_layers);
  for (int i = 0; i < config.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights& layer = weights.layers[i];
    layer.input_norm = vector(p + "input_layernorm.weight", hidden, 1.f);
    layer.input_norm_bias = vector(p + "input_layernorm.bias", hidden, 0.f);
    if (!config.shared_norm) {
      layer.post_attention_norm = vector(p + "post_attention_layernorm.weight", hidden, 1.f);
      layer.post_attention_norm_bias = vector(p + "post_attention_layernorm.bias", hidden, 0.f);
    }
    if (config.qk_norm) {
      head_norm(p + "self_attn.q_norm", config.num_heads, layer.q_norm, layer.q_norm_bias);
      head_norm(p + "self_attn.k_norm", config.num_kv_heads, layer.k_norm, layer.k_norm_bias);
    }
    if (reader.has(p + "self_attn.qkv_proj.weight")) {
      load_stacked(reader, layer.qkv, {{p + "self_attn.qkv_proj.weight", q_rows + 2 * kv_rows, format}}, hidden);
      layer.qkv_bias = bias(p + "self_attn.qkv_proj.bias", q_rows + 2 * kv_rows);
    } else {
      load_stacked(reader, layer.qkv, {{p + "self_attn.q_proj.weight", q_rows, format}, {p + "self_attn.k_proj.weight", kv_rows, format},
                                       {p + "self_attn.v_proj.weight", kv_rows, format}}, hidden);
      for (const char* part : {"q", "k", "v"}) {
        const std::vector<float> values = bias(p + "self_attn." + part + "_proj.bias", part[0] == 'q' ? q_rows : kv_rows);
        layer.qkv_bias.insert(layer.qkv_bias.end(), values.begin(), values.end());
      }
    }
    load_stacked(reader, layer.o_proj, {{p + "self_attn.o_proj.weight", hidden, format}}, q_rows);
    layer.o_bias = bias(p + "self_attn.o_proj.bias", hidden);
    if (config.gated_mlp) {
      load_stacked(reader, layer.gate_up, {{p + "mlp.gate_proj.weight", inter, format}, {p + "mlp.up_proj.weight", inter, format}}, hidden);
      load_stacked(reader, layer.down, {{p + "mlp.down_proj.weight", hidden, format}}, inter);
      continue;  // StableLM's MLP has no biases
    }
    load_stacked(reader, layer.gate_up, {{p + "mlp.fc1.weight", inter, format}}, hidden);
    layer.fc1_bias = bias(p + "mlp.fc1.bias", inter);
    load_stacked(reader, layer.down, {{p + "mlp.fc2.weight", hidden, format}}, inter);
    layer.fc2_bias = bias(p + "mlp.fc2.bias", hidden);
  }
  return weights;
}

// The fused attention input rows: q, k, v; with an output gate (Qwen 3.5), whose q_proj holds each head's query and
// gate rows in turn, the queries of every head, k, v, then the gates (src/engine/model/hybrid-tensors.ts names each
// head's rows as a window of q_proj).
std::vector<StackedPart> attention_parts(const ModelConfig& config, const std::string& prefix, WeightFormat format, WeightFormat v_format) {
  const int q_rows = config.num_heads * config.head_dim, kv_rows = config.num_kv_heads * config.head_dim;
  const StackedPart k{prefix + "self_attn.k_proj.weight", kv_rows, format}, v{prefix + "self_attn.v_proj.weight", kv_rows, v_format};
  if (!config.attention_output_gate) return {{prefix + "self_attn.q_proj.weight", q_rows, format}, k, v};
  std::vector<StackedPart> parts;
  for (int h = 0; h < config.num_heads; ++h) parts.push_back({prefix + "self_attn.q_query." + std::to_string(h) + ".weight", config.head_dim, format});
  parts.push_back(k);
  parts.push_back(v);
  for (int h = 0; h < config.num_heads; ++h) parts.push_back({prefix + "self_attn.q_gate." + std::to_string(h) + ".weight", config.head_dim, format});
  return parts;
}

}  // namespace

uint64_t ModelWeights::bytes() const {
  uint64_t total = embed_tokens.bytes() + lm_head.bytes() + final_norm.size() * 4 + final_norm_bias.size() * 4 + embed_positions.bytes() +
                   project_in.bytes() + project_out.bytes() + lm_head_bias.size() * 4 +
                   (embed_norm.size() + embed_norm_bias.size()) * 4;
  for (const auto& layer : layers) {
    total += layer.qkv.bytes() + layer.o_proj.bytes() + layer.gate_up.bytes() + layer.down.bytes();
    total += (layer.input_norm.size() + layer.post_attention_norm.size() + layer.attention_out_norm.size() + layer.mlp_out_norm.size() +
              layer.qkv_bias.size() + layer.q_norm.size() +
              layer.k_norm.size() + layer.input_norm_bias.size() + layer.post_attention_norm_bias.size() + layer.o_bias.size() +
              layer.fc1_bias.size() + layer.fc2_bias.size() + layer.q_norm_bias.size() + layer.k_norm_bias.size() +
              layer.attn_sub_norm.size() + layer.ffn_sub_norm.size()) * 4;
    total += layer.moe.bytes() + layer.mla.bytes() + layer.linear_attn.bytes() + layer.mamba.bytes() + layer.short_conv.bytes() + layer.mamba1.bytes() + layer.kimi_delta.bytes();
  }
  return total + gemma4.bytes() + zamba2.bytes();
}

ModelWeights load_model_weights(const ModelConfig& config, const std::vector<TensorSource>& tensors,
                                WeightFormat format) {
  TensorReader reader(tensors);
  if (config.layer_norm) return load_layernorm_family(reader, config, format);
  // Named tensors stacked into one matrix, for the loaders outside this file (moe.cpp, gemma4_weights.cpp).
  const MatrixLoader load_matrix = [&](const std::vector<std::pair<std::string, int>>& parts, int cols, WeightFormat part_format) {
    std::vector<StackedPart> stacked;
    for (const auto& part : parts) stacked.push_back({part.first, part.second, part_format});
    WeightMatrix matrix;
    load_stacked(reader, matrix, stacked, cols);
    return matrix;
  };
  if (config.gemma4.enabled()) {
    return load_gemma4_weights(config, format, {[&](const std::string& name) { return reader.has(name); },
                                                [&](const std::string& name, int size) { return reader.read(name, {size}); }, load_matrix});
  }
  const int hidden = config.hidden_size;
  const int q_rows = config.num_heads * config.head_dim;
  const int kv_rows = config.num_kv_heads * config.head_dim;
  const int inter = config.intermediate_size;
  ModelWeights weights;
  // Q4_K follows llama.cpp's Q4_K_M: the output matrix (and a tied embedding) at 6 bits, and attn_v and ffn_down in
  // the layers q4_k_m_more_bits picks.
  const bool q4_k_m = format == WeightFormat::Q4_K;
  const bool has_lm_head = reader.has("lm_head.weight") || !config.tie_word_embeddings;
  const WeightFormat output_format = q4_k_m ? WeightFormat::Q6_K : format;
  load_stacked(reader, weights.embed_tokens, {{"model.embed_tokens.weight", config.vocab_size, has_lm_head ? format : output_format}}, hidden);
  if (has_lm_head) load_stacked(reader, weights.lm_head, {{"lm_head.weight", config.vocab_size, output_format}}, hidden);
  // Gemma's (1 + weight): added once here in fp32, the sum transformers forms in float32 on every call.
  const auto norm = [&](const std::string& name, int size) {
    // OLMo's LayerNorms have no weight: 1 (x * 1 is x, so exact).
    if (!config.norm_affine) return std::vector<float>(size, 1.f);
    std::vector<float> weight = reader.read(name, {size});
    for (float& w : weight) w += config.norm_weight_offset;
    return weight;
  };
  weights.final_norm = norm("model.norm.weight", hidden);
  // PhiMoE: LayerNorms with biases and an lm_head bias, read when the tensor list (rms-variants.ts) names them.
  const auto bias = [&](const std::string& name, int size) { return reader.has(name) ? reader.read(name, {size}) : std::vector<float>(); };
  weights.final_norm_bias = bias("model.norm.bias", hidden);
  weights.lm_head_bias = bias("lm_head.bias", config.vocab_size);
  weights.layers.resize(config.num_layers);
  // BitNet: each projection's tensor ternarized on its own (AutoBitLinear's per-tensor scale).
  const auto bit_linear = [&](std::vector<StackedPart> parts) {
    for (StackedPart& part : parts) part.ternary = config.bit_linear;
    return parts;
  };
  for (int i = 0; i < config.num_layers; ++i) {
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    const WeightFormat more_bits = q4_k_m && q4_k_m_more_bits(i, config.num_layers) ? WeightFormat::Q6_K : format;
    LayerWeights& layer = weights.layers[i];
    // OLMo Hybrid's linear layers are pre-norm among its post-norm attention layers.
    const bool post_norms_only = config.post_norms_only && !config.is_linear_layer(i);
    if (!post_norms_only) layer.input_norm = norm(prefix + "input_layernorm.weight", hidden);
    if (post_norms_only) {
      // OLMo2: no input_layernorm; its post_attention_layernorm and post_feedforward_layernorm are on the outputs.
      layer.attention_out_norm = norm(prefix + "post_attention_layernorm.weight", hidden);
      layer.mlp_out_norm = norm(prefix + "post_feedforward_layernorm.weight", hidden);
    } else if (config.parallel_residual) {
      // Cohere: one input_layernorm feeds attention and MLP alike.
    } else if (config.sandwich_norms) {
      // Gemma 2's post_attention_layernorm is on the attention output; pre_feedforward_layernorm precedes the MLP.
      layer.attention_out_norm = norm(prefix + "post_attention_layernorm.weight", hidden);
      layer.post_attention_norm = norm(prefix + "pre_feedforward_layernorm.weight", hidden);
      layer.mlp_out_norm = norm(prefix + "post_feedforward_layernorm.weight", hidden);
    } else if (config.has_mlp(i)) {
      layer.post_attention_norm = norm(prefix + "post_attention_layernorm.weight", hidden);
      layer.post_attention_norm_bias = bias(prefix + "post_attention_layernorm.bias", hidden);
      // A.X K1: an RMSNorm on its sparse layers' MLP output (post_mlp_layernorm), where the tensor list names one.
      if (reader.has(prefix + "post_feedforward_layernorm.weight")) layer.mlp_out_norm = norm(prefix + "post_feedforward_layernorm.weight", hidden);
    }
    layer.input_norm_bias = bias(prefix + "input_layernorm.bias", hidden);
    const auto stacked = [&](const std::vector<std::pair<std::string, int>>& parts, int cols) { return load_matrix(parts, cols, format); };
    const auto read_floats = [&](const std::string& name, const std::vector<int64_t>& shape) { return reader.read(name, shape); };
    const auto decay_rate = [&](const std::string& name, int heads) {
      std::vector<float> a = reader.read(name, {heads});
      if (!reader.decay_rate_stored(name)) for (float& v : a) v = -std::exp(v);
      return a;
    };
    if (config.is_linear_layer(i) && config.short_conv_kernel > 0) {
      layer.short_conv = load_short_conv(config, prefix, read_floats, stacked);
    } else if (config.is_linear_layer(i) && config.mamba1.enabled()) {
      layer.mamba1 = load_mamba1(config, prefix, read_floats, stacked, reader.decay_rate_stored(prefix + "mamba.A_log"));
    } else if (config.is_linear_layer(i) && config.mamba2.enabled()) {
      layer.mamba = load_mamba2(config, prefix, read_floats, decay_rate, stacked);
    } else if (config.is_linear_layer(i) && config.kimi_delta) {
      layer.kimi_delta = load_kimi_delta(config, prefix, read_floats, stacked, reader.decay_rate_stored(prefix + "linear_attn.A_log"));
    } else if (config.is_linear_layer(i)) {
      layer.linear_attn = load_linear_attention(config, prefix, read_floats, decay_rate, stacked);
    } else if (config.mla_kv_lora_rank > 0) {
      layer.mla = load_mla_weights(config, prefix, format, load_matrix, norm, [&](const std::string& name) { return reader.has(name); });  // DeepSeek: latent projections in place of q/k/v (mla.cpp)
    } else {
      load_stacked(reader, layer.qkv, bit_linear(attention_parts(config, prefix, format, more_bits)), hidden);
    }
    // Falcon-H1: attention beside every mixer.
    if (config.mamba2.falcon_h1.enabled) load_stacked(reader, layer.qkv, attention_parts(config, prefix, format, more_bits), hidden);
    if (config.attention_bias && config.has_attention(i)) {
      for (const char* part : {"q", "k", "v"}) {
        std::vector<float> bias = reader.read(prefix + "self_attn." + part + "_proj.bias", {part[0] == 'q' ? q_rows : kv_rows});
        layer.qkv_bias.insert(layer.qkv_bias.end(), bias.begin(), bias.end());
      }
    }
    if (config.qk_norm && config.has_attention(i)) {
      const bool every_head_own = config.whole_qk_norm || config.head_mean_qk_norm;
      layer.q_norm = norm(prefix + "self_attn.q_norm.weight", every_head_own ? q_rows : config.head_dim);
      layer.k_norm = norm(prefix + "self_attn.k_norm.weight", every_head_own ? kv_rows : config.head_dim);
    }
    if (config.head_mean_qk_norm) {  // Cohere's per-head LayerNorms have no bias: zeros for head_layer_norm
      layer.q_norm_bias.assign(q_rows, 0.f);
      layer.k_norm_bias.assign(kv_rows, 0.f);
    }
    if (config.has_attention(i)) {
      load_stacked(reader, layer.o_proj, bit_linear({{prefix + "self_attn.o_proj.weight", hidden, format}}),
                   config.mla_kv_lora_rank > 0 ? config.num_heads * config.mla_v_head_dim : q_rows);
    }
    if (config.attention_output_bias) layer.o_bias = reader.read(prefix + "self_attn.o_proj.bias", {hidden});
    if (config.diff_attention) {
      const auto lambda = [&](const char* name) { return reader.read(prefix + "self_attn." + name, {config.head_dim}); };
      layer.diff_lambda = diff_lambda(lambda("lambda_q1"), lambda("lambda_k1"), lambda("lambda_q2"), lambda("lambda_k2"), i);
    }
    if (config.sub_norms) {
      layer.attn_sub_norm = norm(prefix + "self_attn.attn_sub_norm.weight", q_rows);
      layer.ffn_sub_norm = norm(prefix + "mlp.ffn_sub_norm.weight", inter);
    }
    layer.attn_sinks = bias(prefix + "self_attn.sinks", config.num_heads);
    if (!config.has_mlp(i)) continue;  // Mamba2, Mamba, Falcon-Mamba, Nemotron-H's lone mixers: norm and mixer only
    if (config.is_sparse_layer(i)) {
      // The router and the experts take the dense MLP's place (moe.cpp).
      layer.moe = load_moe_weights(config, prefix, format, more_bits, load_matrix, [&](const std::string& name) { return reader.has(name); });
      load_moe_biases(config, prefix, layer.moe, bias);
    } else if (config.ungated_mlp) {
      // Nemotron, Arcee: up_proj alone (no gate) in gate_up, its bias in fc1_bias.
      load_stacked(reader, layer.gate_up, {{prefix + "mlp.up_proj.weight", inter, format}}, hidden);
      load_stacked(reader, layer.down, {{prefix + "mlp.down_proj.weight", hidden, more_bits}}, inter);
      if (config.mlp_bias) {
        layer.fc1_bias = reader.read(prefix + "mlp.up_proj.bias", {inter});
        layer.fc2_bias = reader.read(prefix + "mlp.down_proj.bias", {hidden});
      }
      if (config.hidden_act == Activation::Xielu) {
        const auto scalar = [&](const char* name) { return reader.read(prefix + "mlp.act_fn." + name, {1})[0]; };
        layer.xielu = xielu_params(scalar("alpha_p"), scalar("alpha_n"), scalar("beta"), scalar("eps"));
      }
    } else {
      load_stacked(reader, layer.gate_up,
                   bit_linear({{prefix + "mlp.gate_proj.weight", inter, format}, {prefix + "mlp.up_proj.weight", inter, format}}), hidden);
      load_stacked(reader, layer.down, bit_linear({{prefix + "mlp.down_proj.weight", hidden, more_bits}}), inter);
      if (config.mlp_bias) {
        // gate_up's rows are gate's then up's; so is its bias.
        layer.fc1_bias = reader.read(prefix + "mlp.gate_proj.bias", {inter});
        const std::vector<float> up_bias = reader.read(prefix + "mlp.up_proj.bias", {inter});
        layer.fc1_bias.insert(layer.fc1_bias.end(), up_bias.begin(), up_bias.end());
        layer.fc2_bias = reader.read(prefix + "mlp.down_proj.bias", {hidden});
      }
    }
  }
  if (config.zamba2.enabled()) weights.zamba2 = load_zamba2_weights(config, format, load_matrix, norm);
  return weights;
}

}  // namespace cpu
}  // namespace pagedllm
