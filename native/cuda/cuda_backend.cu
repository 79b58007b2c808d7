// The CUDA backend: owns weights, the paged KV pool and a pinned host swap pool; runs one forward pass per step of the
// Llama family (with Qwen2/3's, Phi-3's, Mistral's sliding windows, Gemma / Gemma 2 / Gemma 3's, Granite's, OLMo / OLMo2's,
// Cohere's and SmolLM3's layer features, and Mixtral's / Qwen-MoE's sparse MLPs) or the LayerNorm family (layernorm_forward.cu).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cuda_common.cuh"
#include "cuda_memory.h"
#include "cuda_ops.h"
#include "cuda_weights.h"
#include "decode_graphs.h"
#include "device_prompt_ranker.h"
#include "device_sampler.h"
#include "gemm.h"
#include "layernorm_forward.h"
#include "mean_norm_steps.h"
#include "norm_bias_weights.h"
#include "pagedllm/backend.h"
#include "pagedllm/sliding_window.h"
#include "pagedllm/prompt_chunks.h"
#include "scratch_plan.h"

namespace pagedllm {

namespace {

using namespace pagedllm::cuda;

template <typename T>
float host_to_float(T value);
template <>
float host_to_float<__half>(__half value) { return __half2float(value); }
template <>
float host_to_float<__nv_bfloat16>(__nv_bfloat16 value) { return __bfloat162float(value); }

template <typename T>
class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const BackendOptions& options)
      : model_(options.model), cache_(options.cache) {
    PAGEDLLM_CUDA_CHECK(cudaSetDevice(0));
    cudaDeviceProp prop{};
    PAGEDLLM_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    device_name_ = prop.name;
    num_sms_ = prop.multiProcessorCount;
    if (model_.head_dim > kMaxAttentionHeadDim) throw std::runtime_error("CUDA backend: head_dim must be at most 256 (use --device cpu)");
    if (model_.num_kv_heads <= 0 || model_.num_heads % model_.num_kv_heads != 0)
      throw std::runtime_error("CUDA backend: num_heads must be a multiple of num_kv_heads");
    if (model_.layer_norm) check_layernorm_family_support(model_);  // before any weight is read
    if (!model_.linear_layers.empty())
      throw std::runtime_error("CUDA backend: Gated DeltaNet (linear attention) layers are not implemented (use --device cpu)");
    if (model_.gpt_oss_experts)
      throw std::runtime_error("CUDA backend: GPT-OSS's attention sinks and clamped-SwiGLU experts are not implemented (use --device cpu)");
    if (model_.sub_norms || model_.bit_linear)
      throw std::runtime_error("CUDA backend: BitNet's sub-norms and BitLinear quantization are not implemented (use --device cpu)");
    if (model_.diff_attention)
      throw std::runtime_error("CUDA backend: DiffLlama's differential attention is not implemented (use --device cpu)");
    if (model_.embedding_norm || model_.reversed_rope)
      throw std::runtime_error("CUDA backend: NanoChat's embedding norm and sign-flipped rope are not implemented (use --device cpu)");
    if (model_.hidden_act == Activation::Xielu)
      throw std::runtime_error("CUDA backend: Apertus's xIELU activation is not implemented (use --device cpu)");
    if (!model_.layer_norm && model_.ungated_mlp)
      throw std::runtime_error("CUDA backend: Nemotron's and Arcee's ungated MLP is not implemented (use --device cpu)");
    if (model_.qk_norm_after_rope)
      throw std::runtime_error("CUDA backend: HunYuan's q/k norms after rope are not implemented (use --device cpu)");
    if (model_.attention_output_gate)
      throw std::runtime_error("CUDA backend: an attention output gate (AFMoE) is not implemented (use --device cpu)");
    if (model_.shared_expert_average)
      throw std::runtime_error("CUDA backend: Cohere2-MoE's averaged shared expert is not implemented (use --device cpu)");
    if (model_.expert_gate_up_fused)  // the device loader reads each expert's gate_proj and up_proj apart
      throw std::runtime_error("CUDA backend: experts with gate and up fused (Llama 4, Qwen3-VL-MoE) are not implemented (use --device cpu)");
    if (model_.post_norms_only && model_.num_experts > 0)  // moe_forward.cu norms the residual the MLP should read as is
      throw std::runtime_error("CUDA backend: sparse MLPs under post-norms only (FlexOlmo) are not implemented (use --device cpu)");
    if (!model_.layer_norm) check_mean_norm_support(options);  // Cohere's, OLMo's and PhiMoE's LayerNorms
    if (!model_.layer_windows.empty() && int(model_.layer_windows.size()) != model_.num_layers)
      throw std::runtime_error("CUDA backend: layer_windows must name a window for every layer");
    widest_window_ = widest_window_if_all_slide(model_.layer_windows);
    PAGEDLLM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    if (!model_.layer_norm) weights_ = std::make_unique<DeviceWeights<T>>(options, stream_);
    if (!model_.layer_norm) norm_biases_ = std::make_unique<NormBiasWeights>(options, stream_);  // PhiMoE's; none elsewhere
    gemm_ = std::make_unique<Gemm>(gemm_setting(), num_sms_, stream_);
    if (model_.layer_norm) layernorm_ = std::make_unique<LayerNormForward<T>>(options, *gemm_, stream_);
    // A sparse layer reads its expert row counts on the host (moe_forward.h), which a graph cannot capture.
    use_graphs_ = cuda_graphs_enabled() && model_.num_experts == 0;
    if (model_.num_experts > 0) moe_ = std::make_unique<MoeForward<T>>(model_, stream_);
    layout_ = {model_.num_layers, cache_.block_size, model_.num_kv_heads, model_.head_dim};
    const size_t block_bytes = layout_.block_stride() * sizeof(T);
    kv_pool_.resize(size_t(cache_.num_blocks) * block_bytes);
    // Zeroed so that a bug reading an unwritten slot gives finite numbers the tests can compare, not NaN noise.
    PAGEDLLM_CUDA_CHECK(cudaMemsetAsync(kv_pool_.data(), 0, kv_pool_.bytes(), stream_));
    swap_pool_.resize(size_t(cache_.num_swap_blocks) * block_bytes);
    const std::vector<float> inv_freq = rope_inv_freq(model_);
    inv_freq_.resize(inv_freq.size() * sizeof(float));
    PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(inv_freq_.data(), inv_freq.data(), inv_freq_.bytes(), cudaMemcpyHostToDevice, stream_));
    // Gemma 3's sliding layers rotate with a second table; like inv_freq, the host copy lives until the sync below.
    const std::vector<float> local = model_.rope_local_theta > 0.f ? rope_inv_freq(local_rope_config(model_)) : std::vector<float>();
    if (!local.empty()) {
      local_inv_freq_.resize(local.size() * sizeof(float));
      PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(local_inv_freq_.data(), local.data(), local_inv_freq_.bytes(), cudaMemcpyHostToDevice, stream_));
    }
    PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  ~CudaBackend() override {
    graphs_.clear();
    moe_.reset();
    layernorm_.reset();
    gemm_.reset();
    weights_.reset();
    if (stream_) cudaStreamDestroy(stream_);
  }

  BackendInfo info() const override {
    BackendInfo info;
    info.name = "cuda";
    info.device_name = device_name_ + "; " + gemm_->description() +
                       (use_graphs_ ? "; CUDA graphs for decode" : model_.num_experts > 0 ? "; eager (MoE: expert row counts read per layer)" : "; eager (--enforce-eager)");
    info.num_threads = 1;
    info.weight_bytes = layernorm_ ? layernorm_->weight_bytes() : weights_->bytes() + norm_biases_->bytes();
    info.kv_bytes_per_block = layout_.block_stride() * sizeof(T);
    return info;
  }

  void step(const BlockMoves& moves, const ForwardBatch& batch, float* logits_out, const SampleBatch* sampling,
            const SampleOutputs* sampled) override {
    validate(batch);
    if (sampling) sampler_.upload(*sampling, model_.vocab_size, stream_);
    const int bucket = use_graphs_ && !ranker_.active() ? graph_bucket(batch) : 0;
    if (bucket > 0) {
      step_decode_graph(moves, batch, bucket, logits_out, sampling);
    } else {
      upload_indices(moves, batch);
      apply_moves(moves);
      if (batch.num_tokens > 0) forward(batch, logits_out, sampling);
    }
    PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream_));
    if (sampling) sampler_.download(*sampled, stream_);
  }

  // The prompt rows join the LM head after the step's own logits rows and are ranked chunk by chunk on the device
  // (device_prompt_ranker.h); a top-N over the kernel's kMaxTopK declines, for the host path (ranked_step.cpp).
  bool step_ranked(const BlockMoves& moves, const ForwardBatch& batch, float* logits_out, const SampleBatch* sampling,
                   const SampleOutputs* sampled, const PromptRanking& ranking) override {
    if (!device_ranks(ranking.asked, kMaxTopK)) return false;
    const std::vector<int32_t> rows = logits_rows_with_prompt_rows(batch, ranking.asked);
    ForwardBatch with_prompt_rows = batch;
    with_prompt_rows.logits_indices = rows.data();
    with_prompt_rows.num_logits = int(rows.size());
    ranker_.begin(ranking.asked, batch.num_logits, model_.vocab_size, stream_);
    try {
      step(moves, with_prompt_rows, logits_out, sampling, sampled);
    } catch (...) {
      ranker_.cancel();
      throw;
    }
    ranker_.finish(ranking.out, stream_);
    return true;
  }

  void read_kv_block(int layer, int block, bool from_swap, float* k_out, float* v_out) override {
    const int limit = from_swap ? cache_.num_swap_blocks : cache_.num_blocks;
    if (layer < 0 || layer >= model_.num_layers || block < 0 || block >= limit)
      throw std::runtime_error("read_kv_block: layer or block out of range");
    const size_t elems = layout_.block_elems();
    std::vector<T> keys(elems), values(elems);
    const size_t base = size_t(block) * layout_.block_stride();
    if (from_swap) {
      PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream_));
      std::memcpy(keys.data(), swap_pool_.as<T>() + base + layout_.key_offset(layer), elems * sizeof(T));
      std::memcpy(values.data(), swap_pool_.as<T>() + base + layout_.value_offset(layer), elems * sizeof(T));
    } else {
      PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(keys.data(), kv_pool_.as<T>() + base + layout_.key_offset(layer), elems * sizeof(T),
                                          cudaMemcpyDeviceToHost, stream_));
      PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(values.data(), kv_pool_.as<T>() + base + layout_.value_offset(layer),
                                          elems * sizeof(T), cudaMemcpyDeviceToHost, stream_));
      PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    for (size_t i = 0; i < elems; ++i) {
      k_out[i] = host_to_float(keys[i]);
      v_out[i] = host_to_float(values[i]);
    }
  }

 private:
  // An out-of-range index would fault inside a kernel and leave the CUDA context unusable, so indices are
  // checked on the host first (a few thousand integers per step).
  void validate(const ForwardBatch& batch) const {
    auto fail = [](const char* what) { throw std::runtime_error(std::string("step: ") + what); };
    if (batch.num_logits > 0 && batch.num_tokens == 0) fail("logits asked of an empty batch");
    if (batch.num_seqs == 0 ? batch.num_tokens != 0
                            : batch.query_start_loc[0] != 0 || batch.query_start_loc[batch.num_seqs] != batch.num_tokens)
      fail("query_start_loc does not cover the batch");
    const int64_t num_slots = int64_t(cache_.num_blocks) * cache_.block_size;
    for (int t = 0; t < batch.num_tokens; ++t) {
      if (batch.slot_mapping[t] < -1 || batch.slot_mapping[t] >= num_slots) fail("slot out of range");
      if (batch.token_ids[t] < 0 || batch.token_ids[t] >= model_.vocab_size) fail("token id out of range");
    }
    check_learned_positions(model_, batch.positions, batch.num_tokens);
    for (int i = 0; i < batch.num_logits; ++i)
      if (batch.logits_indices[i] < 0 || batch.logits_indices[i] >= batch.num_tokens) fail("logits index out of range");
    for (int s = 0; s < batch.num_seqs; ++s) {
      const int query_len = batch.query_start_loc[s + 1] - batch.query_start_loc[s];
      const int context = batch.context_lens[s];
      if (query_len < 0 || context < query_len) fail("context shorter than the query chunk");
      const int used_blocks = ceil_div(context, cache_.block_size);
      if (used_blocks > batch.max_blocks_per_seq) fail("block table shorter than the context");
      // Blocks behind every layer's window of the chunk's first row are never read: the engine may have released them (-1).
      const int unread = query_len > 0 ? unread_leading_blocks(context - query_len, widest_window_, cache_.block_size) : used_blocks;
      const int32_t* table = batch.block_tables + int64_t(s) * batch.max_blocks_per_seq;
      for (int j = 0; j < used_blocks; ++j)
        if ((table[j] < 0 || table[j] >= cache_.num_blocks) && !(table[j] == -1 && j < unread)) fail("block table entry out of range");
    }
  }

  // All integer inputs of a step travel in one pinned buffer and one copy.
  void upload_indices(const BlockMoves& moves, const ForwardBatch& batch) {
    const int rows = batch.num_tokens;
    // Per query row: its sequence and how many cached tokens it may see (causal inside a prefill chunk).
    row_seq_.assign(rows, 0);
    row_kv_len_.assign(rows, 0);
    max_kv_len_ = 0;
    for (int s = 0; s < batch.num_seqs; ++s) {
      const int begin = batch.query_start_loc[s], end = batch.query_start_loc[s + 1];
      const int context = batch.context_lens[s];
      max_kv_len_ = std::max(max_kv_len_, context);
      for (int r = begin; r < end; ++r) {
        row_seq_[r] = s;
        row_kv_len_[r] = context - (end - 1 - r);
      }
    }
    // Decode rows go to the per-row kernel, prefill chunks to the tiled one (prefill_attention_kernels.cu).
    attention_split_ = split_attention_rows(batch.query_start_loc, batch.context_lens, batch.num_seqs, attention_tiles_only(model_.head_dim));
    struct Part {
      const int32_t* data;
      size_t count;
      size_t* offset;
    };
    const Part parts[] = {
        {batch.token_ids, size_t(rows), &token_ids_at_},
        {batch.positions, size_t(rows), &positions_at_},
        {batch.slot_mapping, size_t(rows), &slot_mapping_at_},
        {row_seq_.data(), size_t(rows), &row_seq_at_},
        {row_kv_len_.data(), size_t(rows), &row_kv_len_at_},
        {batch.block_tables, size_t(batch.num_seqs) * batch.max_blocks_per_seq, &block_tables_at_},
        {batch.logits_indices, size_t(batch.num_logits), &logits_indices_at_},
        {attention_split_.decode_rows.data(), attention_split_.decode_rows.size(), &decode_rows_at_},
        {attention_split_.prefill_tiles.data(), attention_split_.prefill_tiles.size(), &prefill_tiles_at_},
        // Last: every offset a decode graph reads then depends on the padded batch alone, not on the moves.
        {moves.copy_pairs, size_t(2) * moves.num_copies, &copy_pairs_at_},
    };
    size_t total = 0;
    for (const Part& part : parts) {
      *part.offset = total;
      total += (part.count + 63) / 64 * 64;  // 256-byte aligned starts
    }
    if (host_indices_.bytes() < total * sizeof(int32_t)) host_indices_.resize(total * sizeof(int32_t) * 2);
    if (device_indices_.bytes() < total * sizeof(int32_t)) {
      device_indices_.resize(total * sizeof(int32_t) * 2);
      graphs_.clear();  // they read indices at the old address
    }
    // The previous step's copy out of host_indices_ finished at its final synchronize, so it can be overwritten.
    for (const Part& part : parts)
      if (part.count > 0) std::memcpy(host_indices_.as<int32_t>() + *part.offset, part.data, part.count * sizeof(int32_t));
    if (total > 0)
      PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(device_indices_.data(), host_indices_.data(), total * sizeof(int32_t),
                                          cudaMemcpyHostToDevice, stream_));
  }

  // Decode-only steps (one query row per sequence, logits of at most every row) of up to 256 sequences.
  static int graph_bucket(const ForwardBatch& batch) {
    if (batch.num_seqs == 0 || batch.num_tokens != batch.num_seqs || batch.num_logits == 0) return 0;
    for (int s = 0; s < batch.num_seqs; ++s)
      if (batch.query_start_loc[s + 1] - batch.query_start_loc[s] != 1) return 0;
    return decode_bucket(batch.num_seqs);
  }

  // The step padded to its bucket runs as a CUDA graph keyed by (bucket, band of the longest context:
  // pagedllm/decode_partitions.h); index upload and block moves stay outside it, the wanted logits rows are copied out after it.
  void step_decode_graph(const BlockMoves& moves, const ForwardBatch& batch, int bucket, float* logits_out, const SampleBatch* sampling) {
    const int max_context = *std::max_element(batch.context_lens, batch.context_lens + batch.num_seqs);
    const DecodeGraphKey key = decode_graph_key(bucket, max_context);
    padded_.fill(batch, key, cache_.block_size);
    upload_indices(moves, padded_.batch());
    // The attention (and its workspace) is planned for the key's whole band, so a replay's launch fits this step.
    attention_split_.max_decode_kv_len = key.covered_tokens();
    apply_moves(moves);
    graphs_.run(key, stream_, [&] { forward(padded_.batch(), nullptr, nullptr); });
    const size_t row_bytes = size_t(model_.vocab_size) * sizeof(float);
    if (sampling) {  // sampled after the graph (the samples change every step); only JS's rows are copied out
      const int logits_rows = *std::max_element(batch.logits_indices, batch.logits_indices + batch.num_logits) + 1;
      sampler_.sample(logits_scratch(), 0, batch.num_logits, batch.logits_indices, logits_rows, stream_);
      for (int k = 0; k < sampling->num_host_rows; ++k)
        PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(logits_out + size_t(k) * model_.vocab_size,
                                            logits_scratch() + size_t(batch.logits_indices[sampling->host_rows[k]]) * model_.vocab_size,
                                            row_bytes, cudaMemcpyDeviceToHost, stream_));
      return;
    }
    for (int i = 0; i < batch.num_logits; ++i)  // decode steps ask for rows 0..n-1 in order: one copy then
      if (i == 0 || batch.logits_indices[i] != batch.logits_indices[i - 1] + 1) {
        int run = 1;
        while (i + run < batch.num_logits && batch.logits_indices[i + run] == batch.logits_indices[i] + run) ++run;
        PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(logits_out + size_t(i) * model_.vocab_size,
                                            logits_scratch() + size_t(batch.logits_indices[i]) * model_.vocab_size,
                                            run * row_bytes, cudaMemcpyDeviceToHost, stream_));
      }
  }

  const int32_t* device_index(size_t offset) const { return device_indices_.as<int32_t>() + offset; }
  // The last LM-head chunk: forward() puts it at offset 0 of the scratch. A replayed graph runs no forward(), and an
  // eager step of another shape may have run since its capture, so the place must not depend on the step's shape.
  const float* logits_scratch() const { return scratch_.as<float>(); }

  // Swap-outs first (they free device blocks a swap-in may reuse), then swap-ins, then copy-on-write copies.
  void apply_moves(const BlockMoves& moves) {
    const size_t block_bytes = layout_.block_stride() * sizeof(T);
    auto check_pair = [&](int device_block, int host_block) {
      if (device_block < 0 || device_block >= cache_.num_blocks || host_block < 0 || host_block >= cache_.num_swap_blocks)
        throw std::runtime_error("swap: block id out of range");
    };
    for (int i = 0; i < moves.num_swap_out; ++i) {
      const int device_block = moves.swap_out_pairs[2 * i], host_block = moves.swap_out_pairs[2 * i + 1];
      check_pair(device_block, host_block);
      PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(swap_pool_.as<char>() + host_block * block_bytes,
                                          kv_pool_.as<char>() + device_block * block_bytes, block_bytes,
                                          cudaMemcpyDeviceToHost, stream_));
    }
    for (int i = 0; i < moves.num_swap_in; ++i) {
      const int host_block = moves.swap_in_pairs[2 * i], device_block = moves.swap_in_pairs[2 * i + 1];
      check_pair(device_block, host_block);
      PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(kv_pool_.as<char>() + device_block * block_bytes,
                                          swap_pool_.as<char>() + host_block * block_bytes, block_bytes,
                                          cudaMemcpyHostToDevice, stream_));
    }
    for (int i = 0; i < 2 * moves.num_copies; ++i)
      if (moves.copy_pairs[i] < 0 || moves.copy_pairs[i] >= cache_.num_blocks)
        throw std::runtime_error("copy_blocks: block id out of range");
    copy_blocks(kv_pool_.as<T>(), device_index(copy_pairs_at_), moves.num_copies, layout_, stream_);
  }

  // The scratch, grown (with headroom, dropping the graphs that use the old one) to at least `bytes`.
  char* scratch_for(size_t bytes) {
    if (scratch_.bytes() < bytes) {
      scratch_.resize(bytes + bytes / 2);  // headroom: fewer reallocations
      graphs_.clear();  // they use the old scratch
    }
    return scratch_.as<char>();
  }

  AttentionRows attention_rows(const ForwardBatch& batch) const {
    AttentionRows rows{batch.num_tokens, max_kv_len_, device_index(row_seq_at_), device_index(row_kv_len_at_),
                       device_index(block_tables_at_), batch.max_blocks_per_seq};
    rows.split = true;
    rows.decode_rows = device_index(decode_rows_at_);
    rows.num_decode_rows = int(attention_split_.decode_rows.size());
    rows.max_decode_kv_len = attention_split_.max_decode_kv_len;
    rows.prefill_tiles = device_index(prefill_tiles_at_);
    rows.num_prefill_tiles = int(attention_split_.prefill_tiles.size() / 2);
    rows.softcap = model_.attn_logit_softcap;
    return rows;
  }

  // One LM-head chunk (rows [first, first + rows) of the logits rows): its prompt rows ranked on the device (after the
  // step's own rows: step_ranked); the own rows sampled on the device with only the host rows copied to logits_out, or
  // copied out whole; nothing while a decode graph is captured (its caller copies the rows).
  void emit_logits(const float* logits, int num_logits, int first, int rows, float* logits_out, const SampleBatch* sampling) {
    const int V = model_.vocab_size;
    ranker_.rank_chunk(logits, first, rows, stream_);
    const int own_rows = plan_prompt_chunk(ranker_.own_rows(num_logits), first, rows).own_rows;
    if (sampling) {
      if (own_rows > 0) sampler_.sample(logits, first, own_rows, nullptr, own_rows, stream_);
      for (int k = 0; k < sampling->num_host_rows; ++k) {
        const int row = sampling->host_rows[k];
        if (row >= first && row < first + rows)
          PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(logits_out + size_t(k) * V, logits + size_t(row - first) * V, size_t(V) * sizeof(float),
                                              cudaMemcpyDeviceToHost, stream_));
      }
    } else if (logits_out != nullptr) {
      PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(logits_out + size_t(first) * V, logits, size_t(own_rows) * V * sizeof(float),
                                          cudaMemcpyDeviceToHost, stream_));
    }
  }

  void forward_layernorm(const ForwardBatch& batch, float* logits_out, const SampleBatch* sampling) {
    LayerNormStep step{batch.num_tokens, batch.num_logits, device_index(token_ids_at_), device_index(positions_at_),
                       device_index(slot_mapping_at_), device_index(logits_indices_at_), attention_rows(batch)};
    const size_t workspace = paged_attention_workspace_bytes(step.rows.num_decode_rows, model_.num_heads, model_.head_dim, step.rows.max_decode_kv_len);
    char* scratch = scratch_for(layernorm_->scratch_bytes(step, workspace));
    layernorm_->run(step, kv_pool_.as<T>(), layout_, scratch, workspace,
                    [&](const float* logits, int first, int rows) { emit_logits(logits, batch.num_logits, first, rows, logits_out, sampling); });
  }

  // With sampling: each LM-head chunk is sampled on the device and only the host rows are copied to logits_out.
  void forward(const ForwardBatch& batch, float* logits_out, const SampleBatch* sampling) {
    if (layernorm_) return forward_layernorm(batch, logits_out, sampling);
    const int n = batch.num_tokens, H = model_.hidden_size, I = model_.intermediate_size, D = model_.head_dim;
    const int q_width = model_.num_heads * D, kv_width = model_.num_kv_heads * D, qkv_width = q_width + 2 * kv_width;
    const int num_logits = batch.num_logits, V = model_.vocab_size;
    const int chunk_rows = std::min(num_logits, kLogitsChunkRows);
    ScratchPlan plan;
    // The LM-head chunk first: at offset 0 in every step, so a replayed decode graph's logits are at logits_scratch().
    const size_t logits_at = plan.add(size_t(chunk_rows) * V * sizeof(float));
    const size_t residual_at = plan.add(size_t(n) * H * sizeof(float));
    const size_t delta_at = plan.add(size_t(n) * H * sizeof(float));
    const size_t normed_at = plan.add(size_t(n) * std::max(H, q_width) * sizeof(T));
    const size_t qkv_at = plan.add(size_t(n) * qkv_width * sizeof(float));
    const size_t attention_at = plan.add(size_t(n) * q_width * sizeof(T));
    const size_t gate_up_at = plan.add(size_t(n) * 2 * I * sizeof(float));
    // Gemma 2's sandwich norms: a sublayer's output normed in fp32 before its residual add.
    const size_t sandwich_at = plan.add(model_.sandwich_norms || model_.post_norms_only ? size_t(n) * H * sizeof(float) : 0);
    const size_t activation_at = plan.add(size_t(n) * I * sizeof(T));
    // Partitioned partials for decode rows only: prefill rows take the tiled kernel, which needs no workspace.
    const int num_decode_rows = int(attention_split_.decode_rows.size());
    const size_t workspace_at = plan.add(
        paged_attention_workspace_bytes(num_decode_rows, model_.num_heads, D, attention_split_.max_decode_kv_len));
    // WMMA split-K partials (decode shapes); one buffer serves every GEMM of the step, as they run in stream order.
    // The LM head's last chunk is asked for too: fewer rows give fewer tiles, and so possibly more splits x rows.
    const size_t gemm_floats = std::max({gemm_->workspace_floats(n, qkv_width, H), gemm_->workspace_floats(n, H, q_width),
                                         gemm_->workspace_floats(n, 2 * I, H), gemm_->workspace_floats(n, H, I),
                                         gemm_->workspace_floats(chunk_rows, V, H),
                                         gemm_->workspace_floats(num_logits % kLogitsChunkRows, V, H)});
    const size_t gemm_workspace_at = plan.add(gemm_floats * sizeof(float));
    const size_t final_rows_at = plan.add(size_t(chunk_rows) * H * sizeof(T));
    char* base = scratch_for(plan.total());
    float* residual = reinterpret_cast<float*>(base + residual_at);
    float* delta = reinterpret_cast<float*>(base + delta_at);
    T* normed = reinterpret_cast<T*>(base + normed_at);
    float* qkv = reinterpret_cast<float*>(base + qkv_at);
    T* attention = reinterpret_cast<T*>(base + attention_at);
    float* gate_up = reinterpret_cast<float*>(base + gate_up_at);
    float* sandwiched = reinterpret_cast<float*>(base + sandwich_at);
    T* activation = reinterpret_cast<T*>(base + activation_at);
    float* workspace = reinterpret_cast<float*>(base + workspace_at);
    T* final_rows = reinterpret_cast<T*>(base + final_rows_at);
    float* logits = reinterpret_cast<float*>(base + logits_at);
    float* gemm_workspace = reinterpret_cast<float*>(base + gemm_workspace_at);

    AttentionRows rows = attention_rows(batch);  // its window is set per layer
    // Gemma 2: query_pre_attn_scalar^-0.5 in place of head_dim^-0.5.
    const float scale = model_.attention_scale > 0.f ? model_.attention_scale : 1.f / std::sqrt(float(D));
    const float eps = model_.rms_norm_eps;
    // A sublayer's output as the next residual add reads it: Gemma 2 norms it first (fp32 in, fp32 out); Granite scales it.
    auto sublayer_out = [&](const float* out_norm) -> const float* {
      float* out = delta;
      if (out_norm != nullptr) {
        rms_norm(delta, nullptr, n, H, out_norm, eps, sandwiched, stream_);
        out = sandwiched;
      }
      if (model_.residual_multiplier != 1.f) scale_values(out, size_t(n) * H, model_.residual_multiplier, stream_);
      return out;
    };
    const float* layer_out = delta;  // the previous layer's MLP output, added to the residual by the next norm
    embedding_lookup(weights_->embed_tokens(), device_index(token_ids_at_), n, H, residual, stream_, model_.embedding_scale);
    for (int l = 0; l < model_.num_layers; ++l) {
      const LayerWeights<T>& w = weights_->layer(l);
      if (model_.post_norms_only) {  // OLMo2: the attention reads the residual itself
        add_to_residual(residual, l == 0 ? nullptr : layer_out, size_t(n) * H, normed, stream_);
      } else if (model_.norm_mean) {  // Cohere, OLMo
        add_mean_norm(residual, l == 0 ? nullptr : layer_out, n, H, w.input_norm, eps, normed, stream_, norm_biases_->input_norm(l));
      } else if (l == 0) {
        rms_norm(residual, nullptr, n, H, w.input_norm, eps, normed, stream_);
      } else {
        fused_add_rms_norm(residual, layer_out, nullptr, n, H, w.input_norm, eps, normed, stream_);  // previous MLP output
      }
      gemm_->linear(normed, w.qkv, w.qkv_bias, n, qkv_width, H, qkv, gemm_workspace);
      if (model_.qk_norm && model_.whole_qk_norm) {  // OLMo2: all of q as one head, then all of k
        head_rms_norm(qkv, qkv_width, n, 1, 0, q_width, w.q_norm, nullptr, eps, stream_);
        head_rms_norm(qkv + q_width, qkv_width, n, 1, 0, kv_width, w.k_norm, nullptr, eps, stream_);
      } else if (model_.qk_norm && model_.head_mean_qk_norm) {
        head_mean_norm(qkv, qkv_width, n, model_.num_heads, model_.num_kv_heads, D, w.q_norm, w.k_norm, eps, stream_);
      } else if (model_.qk_norm) {
        head_rms_norm(qkv, qkv_width, n, model_.num_heads, model_.num_kv_heads, D, w.q_norm, w.k_norm, eps, stream_);
      }
      if (model_.clip_qkv > 0.f) clamp_values(qkv, size_t(n) * qkv_width, model_.clip_qkv, stream_);  // OLMo(E), after the q/k norms
      rows.window = layer_window(model_, l);
      const bool local_rope = rows.window > 0 && model_.rope_local_theta > 0.f;  // Gemma 3's sliding layers
      if (model_.rope_layers.empty() || model_.rope_layers[l] != 0)  // SmolLM3: some layers attend without rope
        rotary_embedding(qkv, qkv_width, device_index(positions_at_), n, model_.num_heads, model_.num_kv_heads, D,
                         local_rope ? local_inv_freq_.as<float>() : inv_freq_.as<float>(), stream_,
                         local_rope ? 1.f : model_.rope_attention_factor, model_.rotary_dim);
      reshape_and_cache(qkv, qkv_width, q_width, q_width + kv_width, device_index(slot_mapping_at_), n, kv_pool_.as<T>(),
                        layout_, l, stream_);
      paged_attention(qkv, qkv_width, model_.num_heads, kv_pool_.as<T>(), layout_, l, scale, rows, workspace, attention,
                      stream_);
      gemm_->linear(attention, w.o_proj, w.o_bias, n, H, q_width, delta, gemm_workspace);
      if (model_.parallel_residual) {  // Cohere: residual + attention, then + MLP of the same normed input (still in `normed`)
        residual_add(residual, delta, nullptr, size_t(n) * H, stream_);
      } else if (model_.post_norms_only) {  // OLMo2: the MLP reads the residual itself
        add_to_residual(residual, sublayer_out(w.attention_out_norm), size_t(n) * H, normed, stream_);
      } else if (model_.norm_mean) {
        add_mean_norm(residual, sublayer_out(w.attention_out_norm), n, H, w.post_attention_norm, eps, normed, stream_,
                      norm_biases_->post_attention_norm(l));
      } else {
        fused_add_rms_norm(residual, sublayer_out(w.attention_out_norm), nullptr, n, H, w.post_attention_norm, eps, normed, stream_);
      }
      if (const MoeLayerWeights<T>* moe = weights_->moe_layer(l)) {
        moe_->run(*moe, residual, w.post_attention_norm, eps, normed, n, *gemm_, delta, norm_biases_->post_attention_norm(l));
      } else {
        gemm_->linear(normed, w.gate_up, w.gate_up_bias, n, 2 * I, H, gate_up, gemm_workspace);
        gated_and_mul(model_.hidden_act, gate_up, n, I, activation, stream_);
        gemm_->linear(activation, w.down_proj, w.down_bias, n, H, I, delta, gemm_workspace);
      }
      layer_out = sublayer_out(w.mlp_out_norm);
    }
    // Only the rows whose logits are returned get the last residual add, the final norm and the LM head, in chunks
    // of kLogitsChunkRows; each chunk is copied out before the next one overwrites it (same stream, in order).
    // Cohere's and OLMo's LayerNorm gathers from the residual, so the last add is made once, before the chunks.
    if (model_.norm_mean) residual_add(residual, layer_out, nullptr, size_t(n) * H, stream_);
    for (int first = 0; first < num_logits; first += kLogitsChunkRows) {
      const int rows = std::min(kLogitsChunkRows, num_logits - first);
      if (model_.norm_mean)
        layer_norm<T>(residual, device_index(logits_indices_at_) + first, rows, H, weights_->final_norm(), norm_biases_->final_norm(), eps,
                      nullptr, final_rows, stream_);
      else
        fused_add_rms_norm(residual, layer_out, device_index(logits_indices_at_) + first, rows, H, weights_->final_norm(), eps,
                           final_rows, stream_);
      gemm_->linear(final_rows, weights_->lm_head(), norm_biases_->lm_head(), rows, V, H, logits, gemm_workspace);  // PhiMoE: biased
      if (model_.logits_multiplier != 1.f) scale_values(logits, size_t(rows) * V, model_.logits_multiplier, stream_);  // Granite, Cohere
      if (model_.final_logit_softcap > 0.f) softcap_values(logits, size_t(rows) * V, model_.final_logit_softcap, stream_);
      emit_logits(logits, num_logits, first, rows, logits_out, sampling);
    }
  }

  const ModelConfig model_;
  const CacheConfig cache_;
  std::string device_name_;
  int num_sms_ = 1;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<DeviceWeights<T>> weights_;
  std::unique_ptr<NormBiasWeights> norm_biases_;  // PhiMoE's LayerNorm and lm_head biases (all null elsewhere)
  std::unique_ptr<Gemm> gemm_;
  std::unique_ptr<MoeForward<T>> moe_;  // sparse layers' MLPs (Mixtral, Qwen-MoE); null for a dense model
  std::unique_ptr<LayerNormForward<T>> layernorm_;  // the LayerNorm family's forward and weights (weights_ then null)
  bool use_graphs_ = true;
  DecodeGraphs graphs_;
  PaddedDecodeBatch padded_;
  DeviceSampler sampler_;
  DevicePromptRanker ranker_;
  KvLayout layout_;
  DeviceMemory kv_pool_;
  PinnedMemory swap_pool_;
  DeviceMemory inv_freq_, local_inv_freq_;
  DeviceMemory scratch_;
  PinnedMemory host_indices_;
  DeviceMemory device_indices_;
  std::vector<int32_t> row_seq_, row_kv_len_;
  AttentionSplit attention_split_;
  int max_kv_len_ = 0;
  int widest_window_ = 0;  // every layer slides: blocks behind this window may be released (-1); else 0
  size_t token_ids_at_ = 0, positions_at_ = 0, slot_mapping_at_ = 0, row_seq_at_ = 0, row_kv_len_at_ = 0,
         block_tables_at_ = 0, logits_indices_at_ = 0, copy_pairs_at_ = 0, decode_rows_at_ = 0, prefill_tiles_at_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options, std::string* why) {
  std::string reason;
  if (!cuda_device_available(&reason)) {
    if (why) *why = reason;
    return nullptr;
  }
  switch (options.weight_format) {
    case WeightFormat::BF16:
      return std::make_unique<CudaBackend<__nv_bfloat16>>(options);
    case WeightFormat::F16:
      return std::make_unique<CudaBackend<__half>>(options);
    case WeightFormat::F32:
      break;
  }
  throw std::runtime_error("the CUDA backend keeps weights in bf16 or f16 (weight dtype 'auto' picks bf16); f32 is CPU-only");
}

}  // namespace pagedllm
