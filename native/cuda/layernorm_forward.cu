// The LayerNorm family's forward pass, step for step as native/cpu/layernorm_family.cpp's LayerNormForward: fp32
// residual stream, bf16/fp16 GEMM inputs, fp32 GEMM outputs with their biases.
#include "layernorm_forward.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "cuda_common.cuh"
#include "layernorm_family_ops.h"
#include "pagedllm/sliding_window.h"
#include "scratch_plan.h"

namespace pagedllm::cuda {

void check_layernorm_family_support(const ModelConfig& m) {
  if (m.rotary_dim % 2 != 0 || m.rotary_dim > m.head_dim) throw std::runtime_error("CUDA backend: rotary_dim must be even and at most head_dim");
  if (!m.alibi_slopes.empty() && int(m.alibi_slopes.size()) != m.num_heads) throw std::runtime_error("CUDA backend: one ALiBi slope per query head");
}

// The step's scratch tensors (layout: carve()).
template <typename T>
struct LayerNormForward<T>::Buffers {
  float* logits;        // [chunk rows, vocab]
  float* residual;      // [n, hidden]
  float* attention_out; // [n, hidden]: o_proj's output
  float* mlp_out;       // [n, hidden]
  float* embedded;      // [n, embed_dim] (OPT's project_in only)
  T* normed;            // [n, max(hidden, embed_dim)]: the next GEMM's input
  float* qkv;           // [n, qkv width]
  T* attention;         // [n, q width]
  float* fc1;           // [n, intermediate] (gated: 2 x)
  T* activation;        // [n, intermediate]
  float* workspace;     // attention partitions (decode rows)
  float* gemm_workspace;
  T* final_rows;        // [chunk rows, max(hidden, embed_dim)]
  float* projected;     // [chunk rows, embed_dim] (project_out only)
};

template <typename T>
LayerNormForward<T>::LayerNormForward(const BackendOptions& options, const Gemm& gemm, cudaStream_t stream)
    : model_(options.model), gemm_(gemm), stream_(stream), weights_(options, stream) {
  // rotary_dim 0 means no rotary here (OPT, GPT-2, the ALiBi models).
  const std::vector<float> inv_freq = model_.rotary_dim > 0 ? rope_inv_freq(model_) : std::vector<float>();
  std::vector<float> constants(inv_freq);
  constants.insert(constants.end(), model_.alibi_slopes.begin(), model_.alibi_slopes.end());
  if (constants.empty()) return;
  constants_.resize(constants.size() * sizeof(float));
  PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(constants_.data(), constants.data(), constants_.bytes(), cudaMemcpyHostToDevice, stream_));
  PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream_));
  if (!inv_freq.empty()) inv_freq_ = constants_.as<float>();
  if (!model_.alibi_slopes.empty()) alibi_slopes_ = constants_.as<float>() + inv_freq.size();
}

template <typename T>
typename LayerNormForward<T>::Buffers LayerNormForward<T>::carve(const LayerNormStep& step, char* scratch, size_t attention_workspace_bytes,
                                                                 size_t* total) const {
  const ModelConfig& m = model_;
  const size_t n = step.num_tokens, H = m.hidden_size, I = m.intermediate_size, E = m.embed_dim, V = m.vocab_size;
  const size_t q_width = size_t(m.num_heads) * m.head_dim, qkv_width = q_width + 2 * size_t(m.num_kv_heads) * m.head_dim;
  const size_t chunk_rows = std::min(step.num_logits, kLogitsChunkRows), widest = std::max(H, E);
  const size_t fc1_width = m.gated_mlp ? 2 * I : I;
  const int head_in = E > 0 ? int(E) : int(H), last_chunk = step.num_logits % kLogitsChunkRows;
  const size_t gemm_floats = std::max({gemm_.workspace_floats(n, qkv_width, H), gemm_.workspace_floats(n, H, q_width), gemm_.workspace_floats(n, fc1_width, H),
                                       gemm_.workspace_floats(n, H, I), E > 0 ? gemm_.workspace_floats(n, H, E) : size_t(0),
                                       E > 0 ? gemm_.workspace_floats(chunk_rows, E, H) : size_t(0), gemm_.workspace_floats(chunk_rows, V, head_in),
                                       gemm_.workspace_floats(last_chunk, V, head_in)});
  ScratchPlan plan;
  // In carving order; the logits chunk first, at offset 0 in every step.
  const size_t at[] = {plan.add(chunk_rows * V * 4), plan.add(n * H * 4), plan.add(n * H * 4), plan.add(n * H * 4), plan.add(n * E * 4),
                       plan.add(n * widest * sizeof(T)), plan.add(n * qkv_width * 4), plan.add(n * q_width * sizeof(T)), plan.add(n * fc1_width * 4),
                       plan.add(n * I * sizeof(T)), plan.add(attention_workspace_bytes), plan.add(gemm_floats * 4),
                       plan.add(chunk_rows * widest * sizeof(T)), plan.add(chunk_rows * E * 4)};
  *total = plan.total();
  if (scratch == nullptr) return {};  // sizing only
  const auto f = [scratch](size_t offset) { return reinterpret_cast<float*>(scratch + offset); };
  const auto t = [scratch](size_t offset) { return reinterpret_cast<T*>(scratch + offset); };
  return {f(at[0]), f(at[1]), f(at[2]), f(at[3]), f(at[4]), t(at[5]), f(at[6]), t(at[7]), f(at[8]), t(at[9]), f(at[10]), f(at[11]), t(at[12]), f(at[13])};
}

template <typename T>
size_t LayerNormForward<T>::scratch_bytes(const LayerNormStep& step, size_t attention_workspace_bytes) const {
  size_t total = 0;
  carve(step, nullptr, attention_workspace_bytes, &total);
  return total;
}

template <typename T>
void LayerNormForward<T>::attention(const LayerNormStep& step, const LayerNormLayer<T>& w, int layer, T* kv_pool, const KvLayout& layout,
                                    const Buffers& b) const {
  const ModelConfig& m = model_;
  const int n = step.num_tokens, H = m.hidden_size, D = m.head_dim;
  const int q_width = m.num_heads * D, kv_width = m.num_kv_heads * D, qkv_width = q_width + 2 * kv_width;
  gemm_.linear(b.normed, w.qkv, w.qkv_bias, n, qkv_width, H, b.qkv, b.gemm_workspace);
  if (m.clip_qkv > 0.f) clamp_values(b.qkv, size_t(n) * qkv_width, m.clip_qkv, stream_);  // MPT
  if (m.qk_norm)
    head_layer_norm(b.qkv, qkv_width, n, m.num_heads, m.num_kv_heads, D, w.head_norm_shared, w.q_norm, w.q_norm_bias, w.k_norm, w.k_norm_bias,
                    m.rms_norm_eps, stream_);
  if (m.rotary_dim > 0)
    rotary_embedding(b.qkv, qkv_width, step.positions, n, m.num_heads, m.num_kv_heads, D, inv_freq_, stream_, m.rope_attention_factor, m.rotary_dim);
  reshape_and_cache(b.qkv, qkv_width, q_width, q_width + kv_width, step.slot_mapping, n, kv_pool, layout, layer, stream_);
  // 1 / sqrt(head_dim) unless the config sets it (GPT-2's scale_attn_weights false: 1), then GPT-2's / (layer + 1).
  const float base_scale = m.attention_scale > 0.f ? m.attention_scale : 1.f / std::sqrt(float(D));
  const float scale = m.attention_scale_by_layer ? base_scale / float(layer + 1) : base_scale;
  AttentionRows rows = step.rows;
  rows.window = layer_window(m, layer);  // StarCoder2's sliding window
  rows.alibi_slopes = alibi_slopes_;
  paged_attention(b.qkv, qkv_width, m.num_heads, kv_pool, layout, layer, scale, rows, b.workspace, b.attention, stream_);
  gemm_.linear(b.attention, w.o_proj, w.o_bias, n, H, q_width, b.attention_out, b.gemm_workspace);
}

template <typename T>
void LayerNormForward<T>::mlp(int n, const LayerNormLayer<T>& w, const Buffers& b) const {
  const int H = model_.hidden_size, I = model_.intermediate_size;
  if (model_.gated_mlp) {  // StableLM: act(gate) * up, no biases
    gemm_.linear(b.normed, w.fc1, nullptr, n, 2 * I, H, b.fc1, b.gemm_workspace);
    gated_and_mul(model_.hidden_act, b.fc1, n, I, b.activation, stream_);
  } else {
    gemm_.linear(b.normed, w.fc1, w.fc1_bias, n, I, H, b.fc1, b.gemm_workspace);
    plain_activation(b.fc1, size_t(n) * I, model_.hidden_act, b.activation, stream_);
  }
  gemm_.linear(b.activation, w.fc2, w.fc2_bias, n, H, I, b.mlp_out, b.gemm_workspace);
}

template <typename T>
void LayerNormForward<T>::run(const LayerNormStep& step, T* kv_pool, const KvLayout& layout, char* scratch, size_t attention_workspace_bytes,
                              const LogitsChunkSink& sink) const {
  const ModelConfig& m = model_;
  const LayerNormWeights<T>& w = weights_;
  const int n = step.num_tokens, H = m.hidden_size, E = m.embed_dim;
  const size_t width = size_t(n) * H;
  const float eps = m.rms_norm_eps;
  size_t total = 0;
  const Buffers b = carve(step, scratch, attention_workspace_bytes, &total);
  // Token embeddings (through OPT's project_in when word_embed_proj_dim differs), learned positions, BLOOM's embedding norm.
  if (E > 0) {
    embedding_lookup(w.embed_tokens, step.token_ids, n, E, b.embedded, stream_);
    rows_to(b.embedded, nullptr, n, E, b.normed, stream_);
    gemm_.linear(b.normed, w.project_in, nullptr, n, H, E, b.residual, b.gemm_workspace);
  } else {
    embedding_lookup(w.embed_tokens, step.token_ids, n, H, b.residual, stream_);
  }
  if (w.positions) add_position_rows(b.residual, w.positions, step.positions, m.position_offset, n, H, stream_);
  if (w.embed_norm) layer_norm<T>(b.residual, nullptr, n, H, w.embed_norm, w.embed_norm_bias, eps, b.residual, nullptr, stream_);

  for (int l = 0; l < m.num_layers; ++l) {
    const LayerNormLayer<T>& lw = w.layers[l];
    if (m.post_norm) {
      // OPT-350m: attention and MLP read the stream itself; each norm follows its residual add.
      rows_to(b.residual, nullptr, n, H, b.normed, stream_);
      attention(step, lw, l, kv_pool, layout, b);
      residual_add(b.residual, b.attention_out, nullptr, width, stream_);
      layer_norm(b.residual, nullptr, n, H, lw.input_norm, lw.input_norm_bias, eps, b.residual, b.normed, stream_);
      mlp(n, lw, b);
      residual_add(b.residual, b.mlp_out, nullptr, width, stream_);
      layer_norm<T>(b.residual, nullptr, n, H, lw.post_norm, lw.post_norm_bias, eps, b.residual, nullptr, stream_);
      continue;
    }
    layer_norm(b.residual, nullptr, n, H, lw.input_norm, lw.input_norm_bias, eps, nullptr, b.normed, stream_);
    attention(step, lw, l, kv_pool, layout, b);
    if (m.shared_norm) {  // Phi, GPT-J, Falcon: the MLP reads the same normalised input
      mlp(n, lw, b);
      residual_add(b.residual, b.attention_out, b.mlp_out, width, stream_);
      continue;
    }
    if (m.parallel_residual) {  // GPT-NeoX
      layer_norm(b.residual, nullptr, n, H, lw.post_norm, lw.post_norm_bias, eps, nullptr, b.normed, stream_);
      mlp(n, lw, b);
      residual_add(b.residual, b.attention_out, b.mlp_out, width, stream_);
      continue;
    }
    residual_add(b.residual, b.attention_out, nullptr, width, stream_);
    layer_norm(b.residual, nullptr, n, H, lw.post_norm, lw.post_norm_bias, eps, nullptr, b.normed, stream_);
    mlp(n, lw, b);
    residual_add(b.residual, b.mlp_out, nullptr, width, stream_);
  }

  const int head_in = E > 0 ? E : H;
  for (int first = 0; first < step.num_logits; first += kLogitsChunkRows) {
    const int rows = std::min(kLogitsChunkRows, step.num_logits - first);
    const int32_t* wanted = step.logits_indices + first;
    if (m.final_norm) {
      layer_norm(b.residual, wanted, rows, H, w.final_norm, w.final_norm_bias, eps, nullptr, b.final_rows, stream_);
    } else {
      rows_to(b.residual, wanted, rows, H, b.final_rows, stream_);
    }
    if (E > 0) {
      gemm_.linear(b.final_rows, w.project_out, nullptr, rows, E, H, b.projected, b.gemm_workspace);
      rows_to(b.projected, nullptr, rows, E, b.final_rows, stream_);
    }
    gemm_.linear(b.final_rows, w.lm_head, w.lm_head_bias, rows, m.vocab_size, head_in, b.logits, b.gemm_workspace);
    sink(b.logits, first, rows);
  }
}

template class LayerNormForward<__half>;
template class LayerNormForward<__nv_bfloat16>;

}  // namespace pagedllm::cuda
