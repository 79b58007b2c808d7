// A checkpoint tensor's bytes put into the row order both backends compute with (cpu/model_weights.cpp and
// cuda/cuda_weights.cu read tensors through it): GPT-2's Conv1D transposed, GPT-NeoX's / Falcon's / BLOOM's fused
// query_key_value regrouped, GGUF's (and GPT-J's) interleaved rope rows back in rotate_half order, GPT-OSS's experts
// transposed with their alternating gate/up rows put gate first. Plain C++ with no
// CUDA headers, so the CPU build's loader tests check what the CUDA loader uploads.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend.h"

namespace pagedllm {

// GPT-2's Conv1D [in, out] to [out, in]; per-group [q | k | v] rows (Falcon: [queries q heads | k | v]; GPT-NeoX, BLOOM:
// one q head a group; CodeGen: [q | v | k]) to [all q | all k | all v]. Float tensors only (raw holds t.nbytes of t.dtype).
inline std::vector<uint8_t> reorder_layernorm_family_rows(const TensorSource& t, std::vector<uint8_t> raw) {
  const bool quantized = t.block_format != WeightFormat::F32 && t.block_format != WeightFormat::BF16 && t.block_format != WeightFormat::F16;
  if (quantized) throw std::runtime_error("tensor " + t.name + ": a transposed or per-head fused tensor must be float");
  const size_t element = t.dtype == DType::F32 ? 4 : 2, rows = static_cast<size_t>(t.shape[0]);
  const size_t cols = t.shape.size() > 1 ? static_cast<size_t>(t.shape[1]) : 1, row_bytes = cols * element;
  std::vector<uint8_t> out(raw.size());
  if (t.transposed) {
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) std::memcpy(out.data() + (r * cols + c) * element, raw.data() + (c * rows + r) * element, element);
    return out;
  }
  const size_t groups = static_cast<size_t>(t.qkv_interleaved_heads), queries = static_cast<size_t>(std::max(1, t.qkv_queries_per_group));
  const size_t group_heads = queries + 2, head_rows = rows / (group_heads * groups), q_heads = queries * groups;
  if (head_rows * group_heads * groups != rows) {
    throw std::runtime_error("tensor " + t.name + ": " + std::to_string(rows) + " rows do not split into " + std::to_string(groups) + " groups of " +
                             std::to_string(group_heads) + " heads");
  }
  const size_t head_bytes = head_rows * row_bytes, k_slot = t.qkv_value_first ? queries + 1 : queries, v_slot = t.qkv_value_first ? queries : queries + 1;
  for (size_t g = 0; g < groups; ++g) {
    const uint8_t* group = raw.data() + g * group_heads * head_bytes;
    std::memcpy(out.data() + g * queries * head_bytes, group, queries * head_bytes);
    std::memcpy(out.data() + (q_heads + g) * head_bytes, group + k_slot * head_bytes, head_bytes);
    std::memcpy(out.data() + (q_heads + groups + g) * head_bytes, group + v_slot * head_bytes, head_bytes);
  }
  return out;
}

// All rows of a tensor as read from its file, in compute order: the LayerNorm family's layouts above, or q/k rows in
// interleaved rope order (pairs 2i, 2i+1 of each head's first rope_interleaved_dims, 0: all) back in rotate_half order
// (i, i + half); attention scores do not change when q and k agree. Rows past the rotated ones stay where they are, and
// so do a fused qkv's rows past rope_interleaved_rows (its v, once regrouped: CodeGen).
inline std::vector<uint8_t> compute_order_rows(const TensorSource& t, std::vector<uint8_t> raw) {
  // GPT-OSS's experts: transposed, then their interleaved gate/up rows (rope_interleaved_heads 1) put gate first.
  if (t.transposed || t.qkv_interleaved_heads > 0) {
    raw = reorder_layernorm_family_rows(t, std::move(raw));
    if (t.rope_interleaved_heads <= 0) return raw;
  }
  if (t.rope_interleaved_heads <= 0) return raw;
  const size_t rows = static_cast<size_t>(t.shape[0]), rope_rows = t.rope_interleaved_rows > 0 ? static_cast<size_t>(t.rope_interleaved_rows) : rows;
  const size_t head_dim = rope_rows / t.rope_interleaved_heads, row_bytes = t.nbytes / rows;
  const size_t rotated = t.rope_interleaved_dims > 0 ? static_cast<size_t>(t.rope_interleaved_dims) : head_dim, half = rotated / 2;
  if (rope_rows > rows || head_dim * t.rope_interleaved_heads != rope_rows || rotated % 2 != 0 || rotated > head_dim) {
    throw std::runtime_error("tensor " + t.name + ": " + std::to_string(rope_rows) + " rows do not split into " +
                             std::to_string(t.rope_interleaved_heads) + " heads of even size");
  }
  std::vector<uint8_t> out(raw);
  for (size_t head = 0; head < rope_rows / head_dim; ++head) {
    for (size_t part = 0; part < 2; ++part) {
      for (size_t i = 0; i < half; ++i) {
        const size_t interleaved = head * head_dim + 2 * i + part, rotate_half = head * head_dim + part * half + i;
        std::memcpy(out.data() + rotate_half * row_bytes, raw.data() + interleaved * row_bytes, row_bytes);
      }
    }
  }
  return out;
}

}  // namespace pagedllm
