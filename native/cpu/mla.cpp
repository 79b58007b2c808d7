// Multi-head latent attention's projections (mla.h): q (plain, or through its normed low-rank latent), and K / V
// expanded from the normed kv latent, laid out as ordinary heads for the paged cache.
#include "mla.h"

#include <algorithm>
#include <cstring>

namespace pagedllm {
namespace cpu {

namespace {

template <typename T>
T* grown(std::vector<T>& buffer, size_t size) {
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}

// dst[0, rope) = src's rope values, de-interleaved when asked: pairs (2i, 2i + 1) become (i, i + rope / 2), the
// rotate_half layout the rotary kernel turns.
void copy_rope(const float* src, float* dst, int rope, bool interleaved) {
  if (!interleaved) {
    std::memcpy(dst, src, rope * sizeof(float));
    return;
  }
  for (int i = 0; i < rope / 2; ++i) {
    dst[i] = src[2 * i];
    dst[i + rope / 2] = src[2 * i + 1];
  }
}

}  // namespace

uint64_t MlaWeights::bytes() const {
  return q_a.bytes() + q_b.bytes() + kv_a.bytes() + kv_b.bytes() + (q_a_norm.size() + kv_a_norm.size()) * 4;
}

MlaWeights load_mla_weights(const ModelConfig& c, const std::string& prefix, WeightFormat format, const MatrixLoader& load,
                            const VectorLoader& load_vector, const std::function<bool(const std::string&)>& has) {
  const int heads = c.num_heads, hidden = c.hidden_size, nope = c.head_dim - c.rotary_dim;
  MlaWeights w;
  const std::string attn = prefix + "self_attn.";
  if (c.mla_q_lora_rank > 0) {
    w.q_a = load({{attn + "q_a_proj.weight", c.mla_q_lora_rank}}, hidden, format);
    w.q_a_norm = load_vector(attn + "q_a_layernorm.weight", c.mla_q_lora_rank);
    w.q_b = load({{attn + "q_b_proj.weight", heads * c.head_dim}}, c.mla_q_lora_rank, format);
  } else {
    w.q_b = load({{attn + "q_proj.weight", heads * c.head_dim}}, hidden, format);
  }
  w.kv_a = load({{attn + "kv_a_proj_with_mqa.weight", c.mla_kv_lora_rank + c.rotary_dim}}, hidden, format);
  w.kv_a_norm = load_vector(attn + "kv_a_layernorm.weight", c.mla_kv_lora_rank);
  if (has(attn + "kv_b_proj.weight")) {
    w.kv_b = load({{attn + "kv_b_proj.weight", heads * (nope + c.mla_v_head_dim)}}, c.mla_kv_lora_rank, format);
  } else {
    // A GGUF file's attn_k_b / attn_v_b, cut per head (gguf-deepseek.ts): each head's k_nope rows then its v rows.
    std::vector<std::pair<std::string, int>> parts;
    for (int h = 0; h < heads; ++h) {
      parts.push_back({attn + "k_b_proj." + std::to_string(h) + ".weight", nope});
      parts.push_back({attn + "v_b_proj." + std::to_string(h) + ".weight", c.mla_v_head_dim});
    }
    w.kv_b = load(parts, c.mla_kv_lora_rank, format);
  }
  return w;
}

void mla_qkv(ThreadPool& pool, const MlaWeights& w, const ModelConfig& c, const float* x, int rows, float* qkv, LinearOrder order,
             MlaScratch& s) {
  const int heads = c.num_heads, dim = c.head_dim, rope = c.rotary_dim, nope = dim - rope, v_dim = c.mla_v_head_dim;
  const int width = heads * dim, qkv_width = 3 * width, lora = c.mla_kv_lora_rank, kv_a_width = lora + rope;
  const float eps = c.mla_norm_eps;
  // q in transformers' per-head order [q_nope | q_pe].
  float* q = grown(s.q, static_cast<size_t>(rows) * width);
  if (c.mla_q_lora_rank > 0) {
    float* latent = grown(s.q_latent, static_cast<size_t>(rows) * c.mla_q_lora_rank);
    linear(pool, x, rows, w.q_a, nullptr, latent, order);
    rms_norm(pool, latent, w.q_a_norm.data(), latent, rows, c.mla_q_lora_rank, eps);
    linear(pool, latent, rows, w.q_b, nullptr, q, order);
  } else {
    linear(pool, x, rows, w.q_b, nullptr, q, order);
  }
  // The kv latent (normed) and k_pe side by side; kv_b expands the latent into per-head [k_nope | v].
  float* kv_a = grown(s.kv_latent, static_cast<size_t>(rows) * kv_a_width);
  linear(pool, x, rows, w.kv_a, nullptr, kv_a, order);
  head_rms_norm(pool, kv_a, rows, kv_a_width, 1, lora, w.kv_a_norm.data(), eps);
  float* latent = grown(s.q_latent, static_cast<size_t>(rows) * std::max(lora, c.mla_q_lora_rank));
  for (int r = 0; r < rows; ++r) std::memcpy(latent + static_cast<size_t>(r) * lora, kv_a + static_cast<size_t>(r) * kv_a_width, lora * sizeof(float));
  float* kv = grown(s.kv, static_cast<size_t>(rows) * heads * (nope + v_dim));
  linear(pool, latent, rows, w.kv_b, nullptr, kv, order);
  pool.parallel_for(rows, [&](int r) {
    const float* q_row = q + static_cast<size_t>(r) * width;
    const float* k_pe = kv_a + static_cast<size_t>(r) * kv_a_width + lora;
    const float* kv_row = kv + static_cast<size_t>(r) * heads * (nope + v_dim);
    float* out = qkv + static_cast<size_t>(r) * qkv_width;
    for (int h = 0; h < heads; ++h) {
      float* q_head = out + h * dim;
      float* k_head = out + width + h * dim;
      float* v_head = out + 2 * width + h * dim;
      const float* kv_head = kv_row + h * (nope + v_dim);
      copy_rope(q_row + h * dim + nope, q_head, rope, c.mla_rope_interleaved);
      std::memcpy(q_head + rope, q_row + h * dim, nope * sizeof(float));
      copy_rope(k_pe, k_head, rope, c.mla_rope_interleaved);
      std::memcpy(k_head + rope, kv_head, nope * sizeof(float));
      std::memcpy(v_head, kv_head + nope, v_dim * sizeof(float));
      std::fill(v_head + v_dim, v_head + dim, 0.f);
    }
  });
}

void mla_pack_heads(const ModelConfig& c, float* out, int rows) {
  const int dim = c.head_dim, v_dim = c.mla_v_head_dim;
  // Each head moves to a lower or equal offset, so a forward pass in order never overwrites what it has yet to read.
  for (size_t head = 0; head < static_cast<size_t>(rows) * c.num_heads; ++head) std::memmove(out + head * v_dim, out + head * dim, v_dim * sizeof(float));
}

}  // namespace cpu
}  // namespace pagedllm
