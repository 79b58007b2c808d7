// The LayerNorm family's forward pass (OPT, GPT-NeoX, GPT-2, Phi, StableLM, StarCoder2, GPT-J) over the shared ops, plus
// its kernels: LayerNorm with bias (of rows, or of each q / k head) and the plain MLP's activation (portable;
// layernorm_family_avx2.cpp holds the vector LayerNorm).
#include "layernorm_family.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "pagedllm/learned_positions.h"
#include "pagedllm/sinusoidal_positions.h"
#include "rms_variants.h"
#include "row_parallel.h"

namespace pagedllm {
namespace cpu {

namespace {
const float* or_null(const std::vector<float>& values) { return values.empty() ? nullptr : values.data(); }

// GPT-NeoX's parallel residual in transformers' order: (mlp + attention) + x.
void add_parallel(float* residual, const float* attention, const float* mlp, size_t count) {
  for (size_t i = 0; i < count; ++i) residual[i] = (mlp[i] + attention[i]) + residual[i];
}

void add_into(float* residual, const float* addend, size_t count) {
  for (size_t i = 0; i < count; ++i) residual[i] += addend[i];
}

// Here rotary_dim 0 means no rotary at all (OPT, GPT-2).
std::vector<double> rotary_inv_freq(const ModelConfig& config) { return config.rotary_dim == 0 ? std::vector<double>() : rope_inv_freq(config); }

// Rows [begin, end) of dim values each, portable or AVX2 as the process is set.
void layer_norm_rows(bool vector, const float* x, const float* weight, const float* bias, float* out, int begin, int end, int dim, float eps) {
  if (vector) return avx2::layer_norm_rows(x, weight, bias, out, begin, end, dim, eps);
  for (int r = begin; r < end; ++r) {
    const float* in_row = x + static_cast<size_t>(r) * dim;
    float* out_row = out + static_cast<size_t>(r) * dim;
    double sum = 0, sum_squares = 0;
    for (int i = 0; i < dim; ++i) sum += in_row[i];
    const double mean = sum / dim;
    for (int i = 0; i < dim; ++i) sum_squares += (in_row[i] - mean) * (in_row[i] - mean);
    const float inverse_std = static_cast<float>(1.0 / std::sqrt(sum_squares / dim + eps));
    const float mean_f = static_cast<float>(mean);
    for (int i = 0; i < dim; ++i) out_row[i] = (in_row[i] - mean_f) * inverse_std * weight[i] + bias[i];
  }
}
}  // namespace

void layer_norm(ThreadPool& pool, const float* x, const float* weight, const float* bias, float* out, int num_rows, int dim, float eps) {
  const bool vector = avx2_enabled();
  for_row_ranges(pool, num_rows, dim, [&](int begin, int end) { layer_norm_rows(vector, x, weight, bias, out, begin, end, dim, eps); });
}

void head_layer_norm(ThreadPool& pool, float* x, int num_rows, int row_stride, int num_heads, int head_dim, const float* weight, const float* bias, float eps) {
  const bool vector = avx2_enabled();
  for_row_ranges(pool, num_rows, static_cast<size_t>(num_heads) * head_dim, [&](int begin, int end) {
    for (int r = begin; r < end; ++r) {
      for (int h = 0; h < num_heads; ++h) {
        float* head = x + static_cast<size_t>(r) * row_stride + static_cast<size_t>(h) * head_dim;
        const size_t at = static_cast<size_t>(h) * head_dim;
        layer_norm_rows(vector, head, weight + at, bias + at, head, 0, 1, head_dim, eps);
      }
    }
  });
}

void plain_activation(ThreadPool& pool, float* x, int num_rows, int dim, Activation act) {
  for_row_ranges(pool, num_rows, static_cast<size_t>(dim) * 8, [&](int begin, int end) {
    for (size_t i = static_cast<size_t>(begin) * dim; i < static_cast<size_t>(end) * dim; ++i) x[i] = activate(x[i], act);
  });
}

LayerNormForward::LayerNormForward(const ModelConfig& config)
    : config_(config), inv_freq_(rotary_inv_freq(config)), sinusoid_freq_(config.sinusoidal_positions ? sinusoidal_frequencies(config.hidden_size) : std::vector<float>()) {
  if (config.rotary_dim % 2 != 0 || config.rotary_dim > config.head_dim) throw std::invalid_argument("rotary_dim must be even and at most head_dim");
}

void LayerNormForward::layers(ThreadPool& pool, const ModelWeights& weights, const std::vector<LayerKv>& kv, const KvLayout& layout,
                              LinearOrder order, const ForwardBatch& b) {
  const ModelConfig& c = config_;
  const int tokens = b.num_tokens, hidden = c.hidden_size;
  const size_t width = static_cast<size_t>(tokens) * hidden;
  residual_.resize(width);
  normed_.resize(width);
  attention_proj_.resize(width);
  mlp_out_.resize(width);
  // Token embeddings (through project_in when OPT's word_embed_proj_dim differs), plus learned positions.
  const int embed_width = c.embed_dim > 0 ? c.embed_dim : hidden;
  float* embedded = c.embed_dim > 0 ? (projected_.resize(static_cast<size_t>(tokens) * embed_width), projected_.data()) : residual_.data();
  for (int t = 0; t < tokens; ++t) weights.embed_tokens.load_row(b.token_ids[t], embedded + static_cast<size_t>(t) * embed_width);
  // XGLM's scale_embedding: token embeddings times sqrt(d_model), before the positions are added.
  if (c.embedding_scale != 1.f) {
    for (size_t i = 0; i < static_cast<size_t>(tokens) * embed_width; ++i) embedded[i] *= c.embedding_scale;
  }
  if (c.embed_dim > 0) linear(pool, embedded, tokens, weights.project_in, nullptr, residual_.data(), order);
  if (c.learned_positions > 0) {
    check_learned_positions(c, b.positions, tokens);
    for (int t = 0; t < tokens; ++t) {
      if (c.sinusoidal_positions) {
        sinusoidal_position_row(b.positions[t] + c.position_offset, hidden, c.sinusoidal_padding_row, sinusoid_freq_, normed_.data());
      } else {
        weights.embed_positions.load_row(b.positions[t] + c.position_offset, normed_.data());
      }
      add_into(residual_.data() + static_cast<size_t>(t) * hidden, normed_.data(), hidden);
    }
  }
  if (!weights.embed_norm.empty()) layer_norm(pool, residual_.data(), weights.embed_norm.data(), weights.embed_norm_bias.data(), residual_.data(), tokens, hidden, c.rms_norm_eps);
  if (c.rotary_dim > 0) {
    cos_sin_.resize(static_cast<size_t>(tokens) * c.rotary_dim);
    rope_cos_sin(b.positions, tokens, inv_freq_, cos_sin_.data(), c.rope_attention_factor);
  }

  for (int l = 0; l < c.num_layers; ++l) {
    const LayerWeights& w = weights.layers[l];
    float* residual = residual_.data();
    const int window = layer_window(c, l);
    // Scores are q.k times this: 1 / sqrt(head_dim) unless the config sets it (GPT-2's scale_attn_weights false: 1).
    const float base_scale = c.attention_scale > 0.f ? c.attention_scale : 1.f / std::sqrt(static_cast<float>(c.head_dim));
    const float scale = c.attention_scale_by_layer ? base_scale / static_cast<float>(l + 1) : base_scale;
    if (c.post_norm) {
      // OPT-350m: attention and MLP read the normalised stream; each norm follows its residual add.
      attention_block(pool, w, kv[l], layout, order, b, window, scale, residual, attention_proj_.data());
      add_into(residual, attention_proj_.data(), width);
      layer_norm(pool, residual, w.input_norm.data(), w.input_norm_bias.data(), residual, tokens, hidden, c.rms_norm_eps);
      mlp_block(pool, w, order, tokens, residual, mlp_out_.data());
      add_into(residual, mlp_out_.data(), width);
      layer_norm(pool, residual, w.post_attention_norm.data(), w.post_attention_norm_bias.data(), residual, tokens, hidden, c.rms_norm_eps);
      continue;
    }
    layer_norm(pool, residual, w.input_norm.data(), w.input_norm_bias.data(), normed_.data(), tokens, hidden, c.rms_norm_eps);
    attention_block(pool, w, kv[l], layout, order, b, window, scale, normed_.data(), attention_proj_.data());
    if (c.shared_norm) {
      // Phi, GPT-J, StableLM's parallel residual: the MLP reads the same normalised input.
      mlp_block(pool, w, order, tokens, normed_.data(), mlp_out_.data());
      add_parallel(residual, attention_proj_.data(), mlp_out_.data(), width);
      continue;
    }
    if (c.parallel_residual) {
      layer_norm(pool, residual, w.post_attention_norm.data(), w.post_attention_norm_bias.data(), normed_.data(), tokens, hidden, c.rms_norm_eps);
      mlp_block(pool, w, order, tokens, normed_.data(), mlp_out_.data());
      add_parallel(residual, attention_proj_.data(), mlp_out_.data(), width);
      continue;
    }
    add_into(residual, attention_proj_.data(), width);
    layer_norm(pool, residual, w.post_attention_norm.data(), w.post_attention_norm_bias.data(), normed_.data(), tokens, hidden, c.rms_norm_eps);
    mlp_block(pool, w, order, tokens, normed_.data(), mlp_out_.data());
    add_into(residual, mlp_out_.data(), width);
  }
}

void LayerNormForward::head(ThreadPool& pool, const ModelWeights& weights, LinearOrder order, const int32_t* row_indices, int rows, float* logits_out) {
  const ModelConfig& c = config_;
  const int hidden = c.hidden_size;
  final_rows_.resize(static_cast<size_t>(rows) * hidden);
  for (int i = 0; i < rows; ++i) {
    const float* src = residual_.data() + static_cast<size_t>(row_indices[i]) * hidden;
    std::copy(src, src + hidden, final_rows_.begin() + static_cast<size_t>(i) * hidden);
  }
  if (c.final_norm) layer_norm(pool, final_rows_.data(), weights.final_norm.data(), weights.final_norm_bias.data(), final_rows_.data(), rows, hidden, c.rms_norm_eps);
  const float* head_input = final_rows_.data();
  if (c.embed_dim > 0) {
    projected_.resize(static_cast<size_t>(rows) * c.embed_dim);
    linear(pool, final_rows_.data(), rows, weights.project_out, nullptr, projected_.data(), order);
    head_input = projected_.data();
  }
  linear(pool, head_input, rows, weights.output_matrix(), or_null(weights.lm_head_bias), logits_out, order);
}

void LayerNormForward::attention_block(ThreadPool& pool, const LayerWeights& w, const LayerKv& kv, const KvLayout& layout, LinearOrder order,
                                       const ForwardBatch& b, int window, float scale, const float* normed, float* out) {
  const ModelConfig& c = config_;
  const int tokens = b.num_tokens;
  const int q_width = c.num_heads * c.head_dim, kv_width = c.num_kv_heads * c.head_dim, qkv_width = q_width + 2 * kv_width;
  qkv_.resize(static_cast<size_t>(tokens) * qkv_width);
  attention_out_.resize(static_cast<size_t>(tokens) * q_width);
  linear(pool, normed, tokens, w.qkv, or_null(w.qkv_bias), qkv_.data(), order);
  clip_qkv(c, qkv_.data(), static_cast<size_t>(tokens) * qkv_width);  // MPT's clip_qkv; a no-op at 0
  float* keys = qkv_.data() + q_width;
  if (c.qk_norm) {
    head_layer_norm(pool, qkv_.data(), tokens, qkv_width, c.num_heads, c.head_dim, w.q_norm.data(), w.q_norm_bias.data(), c.rms_norm_eps);
    head_layer_norm(pool, keys, tokens, qkv_width, c.num_kv_heads, c.head_dim, w.k_norm.data(), w.k_norm_bias.data(), c.rms_norm_eps);
  }
  // Partial rotary (GPT-NeoX): only the first rotary_dim values of each head turn, rotate_half within them.
  if (c.rotary_dim > 0) {
    rotary(pool, qkv_.data(), tokens, qkv_width, c.num_heads, c.rotary_dim, cos_sin_.data(), c.head_dim);
    rotary(pool, keys, tokens, qkv_width, c.num_kv_heads, c.rotary_dim, cos_sin_.data(), c.head_dim);
  }
  reshape_and_cache(keys, keys + kv_width, qkv_width, kv.keys, kv.values, b.slot_mapping, tokens, layout);
  AttentionBatch batch{b.num_seqs, b.query_start_loc, b.positions, b.block_tables, b.max_blocks_per_seq};
  batch.sliding_window = window;
  batch.alibi_slopes = or_null(c.alibi_slopes);
  paged_attention(pool, qkv_.data(), qkv_width, kv.keys, kv.values, batch, c.num_heads, layout, scale, attention_out_.data());
  linear(pool, attention_out_.data(), tokens, w.o_proj, or_null(w.o_bias), out, order);
}

void LayerNormForward::mlp_block(ThreadPool& pool, const LayerWeights& w, LinearOrder order, int tokens, const float* normed, float* out) {
  if (config_.gated_mlp) {
    // StableLM: [gate | up] per row, then hidden_act(gate) * up.
    gate_up_.resize(static_cast<size_t>(tokens) * 2 * config_.intermediate_size);
    fc1_.resize(static_cast<size_t>(tokens) * config_.intermediate_size);
    linear(pool, normed, tokens, w.gate_up, nullptr, gate_up_.data(), order);
    gated_and_mul(pool, config_.hidden_act, gate_up_.data(), fc1_.data(), tokens, config_.intermediate_size);
    return linear(pool, fc1_.data(), tokens, w.down, nullptr, out, order);
  }
  fc1_.resize(static_cast<size_t>(tokens) * config_.intermediate_size);
  linear(pool, normed, tokens, w.gate_up, or_null(w.fc1_bias), fc1_.data(), order);
  plain_activation(pool, fc1_.data(), tokens, config_.intermediate_size, config_.hidden_act);
  linear(pool, fc1_.data(), tokens, w.down, or_null(w.fc2_bias), out, order);
}

}  // namespace cpu
}  // namespace pagedllm
