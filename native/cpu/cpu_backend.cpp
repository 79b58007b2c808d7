// The CPU backend: owns the weights, the KV pool (device + swap) and the thread pool, validates each batch,
// applies block moves and chains the ops of kernels.h into a Llama forward pass (Qwen2's q/k/v biases, Qwen3's q/k norms,
// sparse MoE MLPs: moe.h, DeepSeek's latent attention: mla.h, per-layer sliding windows and Gemma 3's local rope, Qwen 3.5's
// Gated DeltaNet layers and gated attention: hybrid_layers.h, Llama 4's NoPE temperature and weightless q/k norms:
// llama4_layers.h), or hands the LayerNorm family (OPT, GPT-NeoX, GPT-2) to
// layernorm_family.cpp, Gemma 4 to gemma4_forward.cpp and Gemma 3n to gemma3n_forward.cpp.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

#include "gated_delta.h"
#include "gemma3n_forward.h"
#include "gemma4_forward.h"
#include "hybrid_layers.h"
#include "layernorm_family.h"
#include "llama4_layers.h"
#include "model_weights.h"
#include "prompt_ranking.h"
#include "quant_formats.h"
#include "rms_variants.h"
#include "sampler.h"
#include "scaled_rows.h"
#include "zamba2_forward.h"

namespace pagedllm {
namespace cpu {

namespace {

// One layer's K or V pool; pages are zero and untouched until a block is first written.
class KvArray {
 public:
  explicit KvArray(size_t floats) : buffer_(floats * sizeof(float)) {}
  float* get() const { return static_cast<float*>(buffer_.data()); }

 private:
  HugeBuffer buffer_;
};

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "CPU";
}

void check(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& options)
      : config_(options.model),
        cache_(options.cache),
        weights_(load_model_weights(options.model, options.tensors, options.weight_format)),
        pool_(options.num_threads),
        // A quantized model's float matrices (rows no block format divides stay f32: fitting_format) sum in one order
        // too, so its logits stay independent of the batch as its block-quantized matrices' are.
        linear_order_(options.batch_invariant || is_quantized(options.weight_format) ? LinearOrder::kBatchInvariant : LinearOrder::kFastest),
        inv_freq_(rope_inv_freq(options.model)),
        local_inv_freq_(local_rope_inv_freq(options.model)),
        layer_norm_(options.model.layer_norm ? std::make_unique<LayerNormForward>(options.model) : nullptr),
        gemma4_(options.model.gemma4.enabled() ? std::make_unique<Gemma4Forward>(options.model) : nullptr),
        gemma3n_(options.model.gemma4.gemma3n.enabled() ? std::make_unique<Gemma3nForward>(options.model) : nullptr),
        zamba2_(options.model.zamba2.enabled() ? std::make_unique<Zamba2Forward>(options.model) : nullptr),
        hybrid_(config_, cache_) {
    check(config_.num_heads % config_.num_kv_heads == 0, "num_heads must be a multiple of num_kv_heads");
    check(config_.head_dim % 2 == 0, "head_dim must be even for rotary embeddings");
    check(cache_.block_size > 0 && cache_.num_blocks >= 0 && cache_.num_swap_blocks >= 0, "invalid KV cache sizes");
    check(config_.layer_windows.empty() || static_cast<int>(config_.layer_windows.size()) == config_.num_layers,
          "layer_windows must name a window for every layer");
    layout_ = {cache_.block_size, config_.num_kv_heads, config_.head_dim};
    // When every layer slides, no layer reads behind the widest window (0: some layer reads the whole context).
    widest_window_ = widest_window_if_all_slide(config_.layer_windows);
    for (int l = 0; l < config_.num_layers; ++l) {
      // Gemma 4's KV-shared layers read another layer's pool and hold none; a hybrid model's linear layers hold none.
      const size_t block_floats = holds_kv(l) ? layer_layout(l).block_floats() : 0;
      const size_t device_floats = block_floats * cache_.num_blocks, swap_floats = block_floats * cache_.num_swap_blocks;
      key_cache_.emplace_back(device_floats);
      value_cache_.emplace_back(device_floats);
      key_swap_.emplace_back(swap_floats);
      value_swap_.emplace_back(swap_floats);
    }
  }

  BackendInfo info() const override {
    BackendInfo out;
    out.name = "cpu";
    out.device_name = cpu_model_name() + "; " + cpu_kernels_label();
    out.num_threads = pool_.size();
    out.weight_bytes = weights_.bytes();
    out.kv_bytes_per_block = 0;
    for (int l = 0; l < config_.num_layers; ++l) out.kv_bytes_per_block += holds_kv(l) ? layer_layout(l).block_floats() * 4 * 2 : 0;
    return out;
  }

  void step(const BlockMoves& moves, const ForwardBatch& batch, float* logits_out, const SampleBatch* sampling,
            const SampleOutputs* sampled) override {
    apply_moves(moves);
    if (batch.num_tokens == 0) return;
    forward(batch);
    if (!sampling) return lm_head(batch.logits_indices, batch.num_logits, logits_out);
    // Sampled in the backend: the logits stay in a buffer of ours and only the host rows are copied out.
    const size_t vocab = config_.vocab_size;
    logits_.resize(static_cast<size_t>(batch.num_logits) * vocab);
    lm_head(batch.logits_indices, batch.num_logits, logits_.data());
    sample_rows(pool_, logits_.data(), config_.vocab_size, *sampling, *sampled);
    for (int i = 0; i < sampling->num_host_rows; ++i)
      std::copy_n(logits_.data() + sampling->host_rows[i] * vocab, vocab, logits_out + i * vocab);
  }

  // The prompt rows' logits come a chunk at a time from the LM head and are ranked in place (prompt_ranking.h).
  bool step_ranked(const BlockMoves& moves, const ForwardBatch& batch, float* logits_out, const SampleBatch* sampling,
                   const SampleOutputs* sampled, const PromptRanking& ranking) override {
    step(moves, batch, logits_out, sampling, sampled);
    if (batch.num_tokens == 0) return true;
    const LmHead head = [this](const int32_t* rows, int count, float* out) { lm_head(rows, count, out); };
    rank_prompt_rows(pool_, config_.vocab_size, ranking.asked, ranking.out, head, ranking_logits_);
    return true;
  }

  void read_kv_block(int model_layer, int block, bool from_swap, float* k_out, float* v_out) override {
    check(model_layer >= 0 && model_layer < config_.num_layers, "layer out of range");
    check(holds_kv(model_layer) || config_.has_attention(model_layer), "layer " + std::to_string(model_layer) + " is a linear-attention layer: it has no KV cache");
    const int layer = model_layer;
    check(block >= 0 && block < (from_swap ? cache_.num_swap_blocks : cache_.num_blocks), "block out of range");
    const int32_t pair[2] = {block, 0};
    const int source = kv_source(layer);
    copy_blocks(from_swap ? key_swap_[source].get() : key_cache_[source].get(), k_out, pair, 1, layer_layout(layer));
    copy_blocks(from_swap ? value_swap_[source].get() : value_cache_[source].get(), v_out, pair, 1, layer_layout(layer));
  }

 private:
  // Swap-outs first (they free device blocks a swap-in or copy of the same step may reuse), then swap-ins,
  // then copy-on-write copies.
  void apply_moves(const BlockMoves& moves) {
    check_pairs(moves.swap_out_pairs, moves.num_swap_out, cache_.num_blocks, cache_.num_swap_blocks, "swapOut");
    check_pairs(moves.swap_in_pairs, moves.num_swap_in, cache_.num_swap_blocks, cache_.num_blocks, "swapIn");
    check_pairs(moves.copy_pairs, moves.num_copies, cache_.num_blocks, cache_.num_blocks, "copies");
    hybrid_.copy_states(moves);
    for (int l = 0; l < config_.num_layers; ++l) {
      if (!holds_kv(l)) continue;
      const KvLayout layout = layer_layout(l);
      copy_blocks(key_cache_[l].get(), key_swap_[l].get(), moves.swap_out_pairs, moves.num_swap_out, layout);
      copy_blocks(value_cache_[l].get(), value_swap_[l].get(), moves.swap_out_pairs, moves.num_swap_out, layout);
      copy_blocks(key_swap_[l].get(), key_cache_[l].get(), moves.swap_in_pairs, moves.num_swap_in, layout);
      copy_blocks(value_swap_[l].get(), value_cache_[l].get(), moves.swap_in_pairs, moves.num_swap_in, layout);
      copy_blocks(key_cache_[l].get(), key_cache_[l].get(), moves.copy_pairs, moves.num_copies, layout);
      copy_blocks(value_cache_[l].get(), value_cache_[l].get(), moves.copy_pairs, moves.num_copies, layout);
    }
  }

  static void check_pairs(const int32_t* pairs, int count, int src_limit, int dst_limit, const char* what) {
    for (int i = 0; i < count; ++i) {
      check(pairs[2 * i] >= 0 && pairs[2 * i] < src_limit && pairs[2 * i + 1] >= 0 && pairs[2 * i + 1] < dst_limit,
            std::string(what) + " pair " + std::to_string(i) + " (" + std::to_string(pairs[2 * i]) + ", " +
                std::to_string(pairs[2 * i + 1]) + ") is outside the pool");
    }
  }

  // Rejects a batch that would read or write outside the pools (a scheduler bug must not corrupt memory).
  void validate(const ForwardBatch& b) const {
    const long num_slots = static_cast<long>(cache_.num_blocks) * cache_.block_size;
    check(b.num_seqs >= 0 && b.query_start_loc[0] == 0 && b.query_start_loc[b.num_seqs] == b.num_tokens,
          "queryStartLoc must start at 0 and end at the number of tokens");
    for (int t = 0; t < b.num_tokens; ++t) {
      check(b.token_ids[t] >= 0 && b.token_ids[t] < config_.vocab_size, "token id " + std::to_string(b.token_ids[t]) + " is outside the vocabulary");
      check(b.slot_mapping[t] >= -1 && b.slot_mapping[t] < num_slots, "slot " + std::to_string(b.slot_mapping[t]) + " is outside the KV pool");
      check(b.positions[t] >= 0, "negative position");
    }
    for (int s = 0; s < b.num_seqs; ++s) {
      const int begin = b.query_start_loc[s], end = b.query_start_loc[s + 1];
      check(begin <= end, "queryStartLoc must not decrease");
      int max_position = -1, min_position = std::numeric_limits<int>::max();
      for (int t = begin; t < end; ++t) {
        max_position = std::max(max_position, static_cast<int>(b.positions[t]));
        min_position = std::min(min_position, static_cast<int>(b.positions[t]));
      }
      check(max_position < b.context_lens[s], "sequence " + std::to_string(s) + " has a position beyond its context length");
      const int blocks_needed = max_position / cache_.block_size + 1;
      check(end == begin || blocks_needed <= b.max_blocks_per_seq, "sequence " + std::to_string(s) + " needs more blocks than maxBlocksPerSeq");
      // Blocks behind every layer's window of the first row are never read: the engine may have released them (-1).
      const int unread_blocks = end > begin ? unread_leading_blocks(min_position, widest_window_, cache_.block_size) : 0;
      for (int j = 0; end > begin && j < blocks_needed; ++j) {
        const int32_t block = b.block_tables[static_cast<size_t>(s) * b.max_blocks_per_seq + j];
        check((block >= 0 && block < cache_.num_blocks) || (block == -1 && j < unread_blocks),
              "block table of sequence " + std::to_string(s) + " points outside the pool");
      }
    }
    for (int i = 0; i < b.num_logits; ++i) {
      check(b.logits_indices[i] >= 0 && b.logits_indices[i] < b.num_tokens, "logits index outside the batch");
    }
    hybrid_.validate(b);
  }

  // The layers over every row of the batch; lm_head then gives the logits of the rows wanted.
  void forward(const ForwardBatch& b) {
    validate(b);
    if (layer_norm_) return forward_layer_norm(b);
    if (gemma4_) return forward_gemma4(b);
    if (zamba2_) return forward_zamba2(b);
    const int tokens = b.num_tokens;
    const int hidden = config_.hidden_size;
    const int q_width = config_.num_heads * config_.head_dim;
    const int kv_width = config_.num_kv_heads * config_.head_dim;
    const int qkv_width = q_width + 2 * kv_width + (config_.attention_output_gate ? q_width : 0);  // Qwen 3.5: + gates
    const int inter = config_.intermediate_size;
    const float eps = config_.rms_norm_eps;
    residual_.resize(static_cast<size_t>(tokens) * hidden);
    hidden_.resize(static_cast<size_t>(tokens) * hidden);
    qkv_.resize(static_cast<size_t>(tokens) * qkv_width);
    attention_out_.resize(static_cast<size_t>(tokens) * q_width);
    gate_up_.resize(static_cast<size_t>(tokens) * 2 * inter);
    activated_.resize(static_cast<size_t>(tokens) * inter);
    const int rotated = config_.rotary_dim > 0 ? config_.rotary_dim : config_.head_dim;  // Phi-3's partial rotary
    cos_sin_.resize(static_cast<size_t>(tokens) * rotated);

    for (int t = 0; t < tokens; ++t) weights_.embed_tokens.load_row(b.token_ids[t], residual_.data() + static_cast<size_t>(t) * hidden);
    if (config_.embedding_scale != 1.f) {
      for (float& x : residual_) x *= config_.embedding_scale;
    }
    // NanoChat: model.norm (weightless) on the embeddings too.
    if (config_.embedding_norm) rms_norm(pool_, residual_.data(), weights_.final_norm.data(), residual_.data(), tokens, hidden, eps);
    rope_cos_sin(b.positions, tokens, inv_freq_, cos_sin_.data(), config_.rope_attention_factor);
    if (config_.reversed_rope) {
      // NanoChat: rotate_half as (x2, -x1) turns each pair by -angle, which is the same rotation with its sines negated.
      for (int t = 0; t < tokens; ++t) {
        float* sines = cos_sin_.data() + static_cast<size_t>(t) * rotated + rotated / 2;
        for (int i = 0; i < rotated / 2; ++i) sines[i] = -sines[i];
      }
    }
    if (!local_inv_freq_.empty()) {
      local_cos_sin_.resize(cos_sin_.size());
      rope_cos_sin(b.positions, tokens, local_inv_freq_, local_cos_sin_.data());
    }
    hybrid_.start_fresh_sequences(b);
    AttentionBatch attention_batch{b.num_seqs, b.query_start_loc, b.positions, b.block_tables, b.max_blocks_per_seq};
    const float scale = config_.attention_scale > 0.f ? config_.attention_scale : 1.f / std::sqrt(static_cast<float>(config_.head_dim));

    for (int l = 0; l < config_.num_layers; ++l) {
      const LayerWeights& w = weights_.layers[l];
      // hidden_ holds the previous layer's MLP output; fold it into the residual while normalising.
      residual_step(pool_, config_, hidden_.data(), residual_.data(), w.input_norm, w.input_norm_bias, tokens, l == 0);
      // Cohere: the MLP reads the attention's normed input.
      if (config_.parallel_residual) parallel_input_.assign(hidden_.begin(), hidden_.begin() + static_cast<size_t>(tokens) * hidden);
      const FalconH1Multipliers& falcon = config_.mamba2.falcon_h1;
      if (config_.is_linear_layer(l) && config_.short_conv_kernel > 0) {
        hybrid_.short_conv_layer(pool_, w.short_conv, l, b, hidden_.data(), linear_order_);  // LFM2: out_proj's output in hidden_
      } else if (config_.is_linear_layer(l) && config_.mamba1.enabled()) {
        hybrid_.mamba1_layer(pool_, w.mamba1, l, b, hidden_.data(), linear_order_);
      } else if (config_.is_linear_layer(l) && config_.mamba2.enabled()) {
        // Falcon-H1: the mixer runs on a copy; the attention below reads the normed input in hidden_.
        if (falcon.enabled) mixer_out_.assign(hidden_.begin(), hidden_.begin() + static_cast<size_t>(tokens) * hidden);
        hybrid_.mamba2_layer(pool_, w.mamba, l, b, falcon.enabled ? mixer_out_.data() : hidden_.data(), linear_order_);
      } else if (config_.is_linear_layer(l) && config_.kimi_delta) {
        hybrid_.kimi_delta_layer(pool_, w.kimi_delta, l, b, hidden_.data(), linear_order_);
      } else if (config_.is_linear_layer(l)) {
        // Gated DeltaNet: its output takes o_proj's place in hidden_.
        hybrid_.linear_layer(pool_, w.linear_attn, l, b, hidden_.data(), linear_order_);
      }
      if (config_.has_attention(l)) {
        if (falcon.enabled) scale_values(hidden_.data(), static_cast<size_t>(tokens) * hidden, falcon.attention_in);
        if (config_.mla_kv_lora_rank > 0) mla_qkv(pool_, w.mla, config_, hidden_.data(), tokens, qkv_.data(), linear_order_, mla_scratch_);
        else {
          if (config_.bit_linear) int8_fake_quant_rows(pool_, hidden_.data(), tokens, hidden);  // BitNet: q/k/v's int8 input
          linear(pool_, hidden_.data(), tokens, w.qkv, w.qkv_bias.empty() ? nullptr : w.qkv_bias.data(), qkv_.data(), linear_order_);
        }
        float* keys = qkv_.data() + q_width;
        if (falcon.key != 1.f) scale_columns(keys, tokens, qkv_width, kv_width, falcon.key);
        if (config_.qk_norm && config_.whole_qk_norm) {
          // OLMo2: one RMSNorm over all of q and one over all of k.
          head_rms_norm(pool_, qkv_.data(), tokens, qkv_width, 1, q_width, w.q_norm.data(), eps);
          head_rms_norm(pool_, keys, tokens, qkv_width, 1, kv_width, w.k_norm.data(), eps);
        } else if (config_.qk_norm && config_.head_mean_qk_norm) {
          // Cohere's use_qk_norm: a LayerNorm of each head (mean subtracted), each head its own weights.
          head_layer_norm(pool_, qkv_.data(), tokens, qkv_width, config_.num_heads, config_.head_dim, w.q_norm.data(), w.q_norm_bias.data(), eps);
          head_layer_norm(pool_, keys, tokens, qkv_width, config_.num_kv_heads, config_.head_dim, w.k_norm.data(), w.k_norm_bias.data(), eps);
        } else if (config_.qk_norm && !config_.qk_norm_after_rope) {
          head_rms_norm(pool_, qkv_.data(), tokens, qkv_width, config_.num_heads, config_.head_dim, w.q_norm.data(), eps);
          head_rms_norm(pool_, keys, tokens, qkv_width, config_.num_kv_heads, config_.head_dim, w.k_norm.data(), eps);
        }
        // OLMo, OLMoE: after the q/k norms, as transformers clamps.
        clip_qkv(config_, qkv_.data(), static_cast<size_t>(tokens) * qkv_width);
        attention_batch.sliding_window = layer_window(config_, l);
        attention_batch.sinks = w.attn_sinks.empty() ? nullptr : w.attn_sinks.data();  // GPT-OSS
        // Gemma 3: sliding layers rotate with the local base.
        const float* cos_sin = attention_batch.sliding_window > 0 && !local_inv_freq_.empty() ? local_cos_sin_.data() : cos_sin_.data();
        if (layer_has_rope(config_, l)) {
          rotary(pool_, qkv_.data(), tokens, qkv_width, config_.num_heads, rotated, cos_sin, config_.head_dim);
          rotary(pool_, keys, tokens, qkv_width, config_.num_kv_heads, rotated, cos_sin, config_.head_dim);
        }
        if (config_.qk_norm && config_.qk_norm_after_rope) {
          // HunYuan dense: the rotated heads are normalised.
          head_rms_norm(pool_, qkv_.data(), tokens, qkv_width, config_.num_heads, config_.head_dim, w.q_norm.data(), eps);
          head_rms_norm(pool_, keys, tokens, qkv_width, config_.num_kv_heads, config_.head_dim, w.k_norm.data(), eps);
        }
        // Llama 4: rope layers' q/k normalised without weights; NoPE layers' queries take a temperature by position.
        if (config_.rope_layer_qk_norm && layer_has_rope(config_, l)) unit_qk_norm(pool_, config_, qkv_.data(), tokens, qkv_width);
        if (config_.attn_temperature_scale > 0.f && !layer_has_rope(config_, l)) temperature_tune_queries(config_, qkv_.data(), tokens, qkv_width, b.positions);
        reshape_and_cache(keys, keys + kv_width, qkv_width, key_cache_[l].get(), value_cache_[l].get(), b.slot_mapping,
                          tokens, layout_);
        if (config_.diff_attention) {
          differential_attention(pool_, qkv_.data(), qkv_width, key_cache_[l].get(), value_cache_[l].get(), attention_batch,
                                 config_.num_heads, layout_, scale, w.diff_lambda, eps, tokens, attention_out_.data(), diff_scratch_);
        } else {
          paged_attention(pool_, qkv_.data(), qkv_width, key_cache_[l].get(), value_cache_[l].get(), attention_batch,
                          config_.num_heads, layout_, scale, attention_out_.data(), config_.attn_logit_softcap);
        }
        if (config_.mla_kv_lora_rank > 0) mla_pack_heads(config_, attention_out_.data(), tokens);
        if (config_.attention_output_gate) sigmoid_gate(pool_, qkv_.data() + q_width + 2 * kv_width, qkv_width, attention_out_.data(), tokens, q_width);
        if (!w.attn_sub_norm.empty()) rms_norm(pool_, attention_out_.data(), w.attn_sub_norm.data(), attention_out_.data(), tokens, q_width, eps);
        if (config_.bit_linear) int8_fake_quant_rows(pool_, attention_out_.data(), tokens, q_width);
        linear(pool_, attention_out_.data(), tokens, w.o_proj, w.o_bias.empty() ? nullptr : w.o_bias.data(), hidden_.data(), linear_order_);
        if (falcon.enabled) add_scaled_pair(hidden_.data(), falcon.attention_out, mixer_out_.data(), falcon.ssm_out, static_cast<size_t>(tokens) * hidden);
      }
      // Mamba2, Mamba, Nemotron-H: a layer without an MLP; the next layer's residual_step adds the mixer's output.
      if (!config_.has_mlp(l)) continue;
      if (config_.parallel_residual) {
        // transformers' residual + attention + mlp: the attention output added first.
        add_to_residual(config_, hidden_.data(), residual_.data(), tokens);
        std::copy(parallel_input_.begin(), parallel_input_.end(), hidden_.begin());
      } else {
        if (!w.attention_out_norm.empty()) rms_norm(pool_, hidden_.data(), w.attention_out_norm.data(), hidden_.data(), tokens, hidden, eps);
        residual_step(pool_, config_, hidden_.data(), residual_.data(), w.post_attention_norm, w.post_attention_norm_bias, tokens, false);
      }
      if (config_.is_sparse_layer(l)) {
        moe_mlp(pool_, w.moe, config_, hidden_.data(), tokens, hidden_.data(), linear_order_, moe_scratch_);
      } else {
        // Llama's mlp_bias: [gate | up] biases in fc1_bias, down's in fc2_bias (empty without).
        const float* fc1_bias = w.fc1_bias.empty() ? nullptr : w.fc1_bias.data();
        if (config_.ungated_mlp) {
          // Nemotron, Arcee, Apertus: act(up(x)) with no gate.
          linear(pool_, hidden_.data(), tokens, w.gate_up, fc1_bias, activated_.data(), linear_order_);
          if (config_.hidden_act == Activation::Xielu) xielu(pool_, activated_.data(), tokens, inter, w.xielu);
          else plain_activation(pool_, activated_.data(), tokens, inter, config_.hidden_act);
        } else {
          if (config_.bit_linear) int8_fake_quant_rows(pool_, hidden_.data(), tokens, hidden);
          linear(pool_, hidden_.data(), tokens, w.gate_up, fc1_bias, gate_up_.data(), linear_order_);
          if (falcon.mlp_gate != 1.f) scale_columns(gate_up_.data(), tokens, 2 * inter, inter, falcon.mlp_gate);
          gated_and_mul(pool_, config_.hidden_act, gate_up_.data(), activated_.data(), tokens, inter);
          // BitNet: normed, then int8, before down_proj.
          if (!w.ffn_sub_norm.empty()) rms_norm(pool_, activated_.data(), w.ffn_sub_norm.data(), activated_.data(), tokens, inter, eps);
          if (config_.bit_linear) int8_fake_quant_rows(pool_, activated_.data(), tokens, inter);
        }
        linear(pool_, activated_.data(), tokens, w.down, w.fc2_bias.empty() ? nullptr : w.fc2_bias.data(), hidden_.data(), linear_order_);
        if (falcon.mlp_down != 1.f) scale_values(hidden_.data(), static_cast<size_t>(tokens) * hidden, falcon.mlp_down);
      }
      if (!w.mlp_out_norm.empty()) rms_norm(pool_, hidden_.data(), w.mlp_out_norm.data(), hidden_.data(), tokens, hidden, eps);
    }
  }

  // Final norm and LM head of batch rows rows[0, count) into out [count, vocab].
  void lm_head(const int32_t* rows, int count, float* out) {
    if (layer_norm_) return layer_norm_->head(pool_, weights_, linear_order_, rows, count, out);
    const int hidden = config_.hidden_size;
    final_rows_.resize(static_cast<size_t>(count) * hidden);
    final_residual_.resize(static_cast<size_t>(count) * hidden);
    for (int i = 0; i < count; ++i) {
      const size_t src = static_cast<size_t>(rows[i]) * hidden;
      std::copy(hidden_.begin() + src, hidden_.begin() + src + hidden, final_rows_.begin() + static_cast<size_t>(i) * hidden);
      std::copy(residual_.begin() + src, residual_.begin() + src + hidden, final_residual_.begin() + static_cast<size_t>(i) * hidden);
    }
    residual_step(pool_, config_, final_rows_.data(), final_residual_.data(), weights_.final_norm, weights_.final_norm_bias, count, false);
    const float* head_bias = weights_.lm_head_bias.empty() ? nullptr : weights_.lm_head_bias.data();  // PhiMoE's lm_head_bias
    linear(pool_, final_rows_.data(), count, weights_.output_matrix(), head_bias, out, linear_order_);
    const size_t logits = static_cast<size_t>(count) * config_.vocab_size;
    scale_logits(config_, out, logits);
    if (config_.final_logit_softcap > 0.f) {
      for (size_t i = 0; i < logits; ++i) out[i] = softcap_score(out[i], config_.final_logit_softcap);
    }
  }

  // OPT, GPT-NeoX, GPT-2: their own chain of the same ops (layernorm_family.cpp).
  void forward_layer_norm(const ForwardBatch& b) {
    std::vector<LayerKv> kv;
    for (int l = 0; l < config_.num_layers; ++l) kv.push_back({key_cache_[l].get(), value_cache_[l].get()});
    layer_norm_->layers(pool_, weights_, kv, layout_, linear_order_, b);
  }

  // Gemma 4 and Gemma 3n: each layer's K/V pool is its source layer's, in that layer's block shape.
  void forward_gemma4(const ForwardBatch& b) {
    std::vector<Gemma4Kv> kv;
    for (int l = 0; l < config_.num_layers; ++l) kv.push_back({key_cache_[kv_source(l)].get(), value_cache_[kv_source(l)].get(), layer_layout(l)});
    if (gemma3n_) return gemma3n_->layers(pool_, weights_, kv, linear_order_, b, residual_, hidden_);
    gemma4_->layers(pool_, weights_, kv, linear_order_, b, residual_, hidden_);
  }

  // Zamba2: its Mamba-2 layers, shared transformer blocks on some (zamba2_forward.cpp).
  void forward_zamba2(const ForwardBatch& b) {
    hybrid_.start_fresh_sequences(b);
    std::vector<LayerKv> kv;
    for (int l = 0; l < config_.num_layers; ++l) kv.push_back({key_cache_[l].get(), value_cache_[l].get()});
    zamba2_->layers(pool_, weights_, hybrid_, kv, layout_, inv_freq_, linear_order_, b, residual_, hidden_);
  }

  KvLayout layer_layout(int layer) const { return gemma4_ ? gemma4_kv_layout(config_, cache_.block_size, layer) : layout_; }
  int kv_source(int layer) const { return gemma4_ ? config_.gemma4.layers[layer].kv_source : layer; }
  // Whether layer `layer` owns a KV pool (indexed by model layer): not Gemma 4's KV-shared layers nor a hybrid model's
  // linear ones, but Falcon-H1's mixer layers (they attend too: has_attention) and Zamba2's layers with a shared block.
  bool holds_kv(int layer) const { return (config_.gemma4.writes_kv(layer) && config_.has_attention(layer)) || config_.zamba2.attends(layer); }

  ModelConfig config_;
  CacheConfig cache_;
  ModelWeights weights_;
  ThreadPool pool_;
  LinearOrder linear_order_;
  std::vector<double> inv_freq_, local_inv_freq_;
  KvLayout layout_;
  int widest_window_ = 0;
  std::vector<KvArray> key_cache_, value_cache_, key_swap_, value_swap_;
  std::unique_ptr<LayerNormForward> layer_norm_;
  std::unique_ptr<Gemma4Forward> gemma4_;
  std::unique_ptr<Gemma3nForward> gemma3n_;  // Gemma 3n: its layers around gemma4_'s
  std::unique_ptr<Zamba2Forward> zamba2_;
  HybridLayers hybrid_;
  // Activations, grown to the largest batch seen and reused.
  std::vector<float> residual_, hidden_, qkv_, attention_out_, gate_up_, activated_, cos_sin_, final_rows_, final_residual_, logits_, local_cos_sin_, parallel_input_, mixer_out_;
  std::vector<float> ranking_logits_;  // one chunk of prompt rows (prompt_ranking.h)
  MoeScratch moe_scratch_;
  MlaScratch mla_scratch_;
  DiffAttentionScratch diff_scratch_;
};

}  // namespace
}  // namespace cpu

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options) {
  return std::make_unique<cpu::CpuBackend>(options);
}

}  // namespace pagedllm
