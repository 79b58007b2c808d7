// Loads Llama-family weights (safetensors, or float GGUF) into one device allocation, converting to bf16/fp16 on the GPU.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cuda_common.cuh"
#include "cuda_weights.h"
#include "pagedllm/tensor_rows.h"
#include "weight_plan.h"

namespace pagedllm::cuda {

namespace {

template <typename Dst>
__global__ void convert_kernel(const void* __restrict__ src, int dtype, int64_t count, float add, Dst* __restrict__ dst) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    float value;
    if (dtype == int(DType::F32)) {
      value = static_cast<const float*>(src)[i];
    } else if (dtype == int(DType::F16)) {
      value = __half2float(static_cast<const __half*>(src)[i]);
    } else {
      value = __bfloat162float(static_cast<const __nv_bfloat16*>(src)[i]);
    }
    if (add != 0.f) value += add;  // Gemma's norm weight offset, in fp32
    dst[i] = from_float<Dst>(value);
  }
}

// A sparse layer's regions (MoeLayerWeights): the fp32 router with the shared expert's gate as one more row, each
// expert's gate/up fused row-wise as the dense MLP's, its down, and the shared expert's.
struct MoeOffsets {
  size_t router = SIZE_MAX, shared_gate_up = SIZE_MAX, shared_down = SIZE_MAX;
  std::vector<size_t> gate_up, down;
};

MoeOffsets reserve_moe_layer(Planner& plan, const ModelConfig& m, const std::string& p, size_t element_bytes) {
  const int64_t H = m.hidden_size, I = m.moe_intermediate_size, S = m.shared_expert_intermediate_size;
  MoeOffsets o;
  std::vector<std::pair<std::string, std::vector<int64_t>>> router = {{p + "mlp.gate.weight", {m.num_experts, H}}};
  if (S > 0 && m.shared_expert_gated) router.push_back({p + "mlp.shared_expert_gate.weight", {1, H}});
  o.router = plan.reserve(router, sizeof(float), true);
  for (int e = 0; e < m.num_experts; ++e) {
    const std::string expert = p + "mlp.experts." + std::to_string(e) + ".";
    o.gate_up.push_back(plan.reserve({{expert + "gate_proj.weight", {I, H}}, {expert + "up_proj.weight", {I, H}}}, element_bytes, false));
    o.down.push_back(plan.reserve({{expert + "down_proj.weight", {H, I}}}, element_bytes, false));
  }
  if (S > 0) {
    o.shared_gate_up = plan.reserve({{p + "mlp.shared_expert.gate_proj.weight", {S, H}}, {p + "mlp.shared_expert.up_proj.weight", {S, H}}},
                                    element_bytes, false);
    o.shared_down = plan.reserve({{p + "mlp.shared_expert.down_proj.weight", {H, S}}}, element_bytes, false);
  }
  return o;
}

void read_file_range(const TensorSource& tensor, void* out) {
  FILE* file = std::fopen(tensor.path.c_str(), "rb");
  if (!file) throw std::runtime_error("CUDA backend: cannot open " + tensor.path);
  const bool ok = fseeko(file, off_t(tensor.offset), SEEK_SET) == 0 && std::fread(out, 1, tensor.nbytes, file) == tensor.nbytes;
  std::fclose(file);
  if (!ok) throw std::runtime_error("CUDA backend: short read of " + tensor.name + " in " + tensor.path);
}

}  // namespace

template <typename T>
void upload_planned_weights(const Planner& plan, DeviceMemory& storage, cudaStream_t stream) {
  storage.resize(plan.total());
  size_t largest = 0;
  for (const Placement& placement : plan.placements()) largest = std::max<size_t>(largest, placement.source->nbytes);
  PinnedMemory host_staging(largest);
  DeviceMemory device_staging(largest);
  char* base = storage.as<char>();
  for (const Placement& placement : plan.placements()) {
    const TensorSource& source = *placement.source;
    read_file_range(source, host_staging.data());
    if (source.rope_interleaved_heads > 0 || source.transposed || source.qkv_interleaved_heads > 0) {
      const std::vector<uint8_t> rows = compute_order_rows(source, std::vector<uint8_t>(host_staging.as<uint8_t>(), host_staging.as<uint8_t>() + source.nbytes));
      std::memcpy(host_staging.data(), rows.data(), rows.size());
    }
    PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(device_staging.data(), host_staging.data(), source.nbytes, cudaMemcpyHostToDevice, stream));
    const int64_t count = placement.rows * placement.cols;
    const int blocks = int(std::min<int64_t>(4096, (count + 255) / 256));
    if (placement.as_float) {
      convert_kernel<float><<<blocks, 256, 0, stream>>>(device_staging.data(), int(source.dtype), count, placement.add,
                                                        reinterpret_cast<float*>(base + placement.offset));
    } else {
      convert_kernel<T><<<blocks, 256, 0, stream>>>(device_staging.data(), int(source.dtype), count, placement.add,
                                                    reinterpret_cast<T*>(base + placement.offset));
    }
    PAGEDLLM_CUDA_CHECK_LAUNCH("convert_kernel");
    // The staging buffers are reused by the next tensor: wait for this one to be converted.
    PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
}

template void upload_planned_weights<__half>(const Planner&, DeviceMemory&, cudaStream_t);
template void upload_planned_weights<__nv_bfloat16>(const Planner&, DeviceMemory&, cudaStream_t);

template <typename T>
DeviceWeights<T>::DeviceWeights(const BackendOptions& options, cudaStream_t stream) {
  const ModelConfig& m = options.model;
  const int64_t H = m.hidden_size, I = m.intermediate_size, q_rows = int64_t(m.num_heads) * m.head_dim,
                kv_rows = int64_t(m.num_kv_heads) * m.head_dim;
  Planner plan(options.tensors);
  const size_t t = sizeof(T);
  const size_t embed_offset = plan.reserve({{"model.embed_tokens.weight", {m.vocab_size, H}}}, t, false);
  // Norm weights in fp32 with Gemma's offset added (0 elsewhere), as the CPU loader's norm().
  // OLMo's LayerNorms have no weights: none stored (null: 1, as the CPU's ones).
  const auto norm = [&](const std::string& name, int64_t size) {
    if (!m.norm_affine) return SIZE_MAX;
    return plan.reserve({{name, {size}}}, sizeof(float), true, m.norm_weight_offset);
  };
  const auto bias = [&](const std::string& name, int64_t size) { return plan.reserve({{name, {size}}}, sizeof(float), true); };
  const size_t final_norm_offset = norm("model.norm.weight", H);
  const bool tied = m.tie_word_embeddings || !plan.has("lm_head.weight");
  const size_t lm_head_offset = tied ? embed_offset : plan.reserve({{"lm_head.weight", {m.vocab_size, H}}}, t, false);
  struct LayerOffsets {
    size_t input_norm, qkv, qkv_bias, q_norm, k_norm, o_proj, o_bias, attention_out_norm, post_norm, gate_up, gate_up_bias,
        down, down_bias, mlp_out_norm;
  };
  std::vector<LayerOffsets> offsets(m.num_layers);
  std::vector<MoeOffsets> moe_offsets(m.num_layers);
  for (int i = 0; i < m.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerOffsets& o = offsets[i];
    o.input_norm = m.post_norms_only ? SIZE_MAX : norm(p + "input_layernorm.weight", H);  // OLMo2 has no pre-norms
    o.qkv = plan.reserve({{p + "self_attn.q_proj.weight", {q_rows, H}},
                          {p + "self_attn.k_proj.weight", {kv_rows, H}},
                          {p + "self_attn.v_proj.weight", {kv_rows, H}}},
                         t, false);
    o.qkv_bias = m.attention_bias ? plan.reserve({{p + "self_attn.q_proj.bias", {q_rows}},
                                                  {p + "self_attn.k_proj.bias", {kv_rows}},
                                                  {p + "self_attn.v_proj.bias", {kv_rows}}},
                                                 sizeof(float), true)
                                  : SIZE_MAX;
    // They scale the fp32 QKV rows: each head (Qwen3), or all of q and all of k (OLMo2: whole_qk_norm).
    // Command R+'s per-head LayerNorms (head_mean_qk_norm) hold each head's own weights: OLMo2's sizes.
    const bool every_head_own = m.whole_qk_norm || m.head_mean_qk_norm;
    o.q_norm = m.qk_norm ? norm(p + "self_attn.q_norm.weight", every_head_own ? q_rows : m.head_dim) : SIZE_MAX;
    o.k_norm = m.qk_norm ? norm(p + "self_attn.k_norm.weight", every_head_own ? kv_rows : m.head_dim) : SIZE_MAX;
    o.o_proj = plan.reserve({{p + "self_attn.o_proj.weight", {H, q_rows}}}, t, false);
    o.o_bias = m.attention_output_bias ? bias(p + "self_attn.o_proj.bias", H) : SIZE_MAX;
    // Gemma 2: post_attention_layernorm is on the attention output; pre_feedforward_layernorm precedes the MLP.
    // OLMo2: the same two norms on the sublayer outputs, and no pre-MLP norm.
    const bool out_norms = m.sandwich_norms || m.post_norms_only;
    o.attention_out_norm = out_norms ? norm(p + "post_attention_layernorm.weight", H) : SIZE_MAX;
    o.post_norm = m.post_norms_only || m.parallel_residual ? SIZE_MAX  // Cohere: one input_layernorm for both
                                    : norm(p + (m.sandwich_norms ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"), H);
    o.mlp_out_norm = out_norms ? norm(p + "post_feedforward_layernorm.weight", H) : SIZE_MAX;
    // A sparse layer: the router and experts take the dense MLP's place (moe_forward.h).
    const bool sparse = m.is_sparse_layer(i);
    if (sparse) moe_offsets[i] = reserve_moe_layer(plan, m, p, t);
    o.gate_up = sparse ? SIZE_MAX : plan.reserve({{p + "mlp.gate_proj.weight", {I, H}}, {p + "mlp.up_proj.weight", {I, H}}}, t, false);
    // gate_up's rows are gate's then up's; so is its bias.
    o.gate_up_bias = m.mlp_bias && !sparse ? plan.reserve({{p + "mlp.gate_proj.bias", {I}}, {p + "mlp.up_proj.bias", {I}}}, sizeof(float), true)
                                           : SIZE_MAX;
    o.down = sparse ? SIZE_MAX : plan.reserve({{p + "mlp.down_proj.weight", {H, I}}}, t, false);
    o.down_bias = m.mlp_bias && !sparse ? bias(p + "mlp.down_proj.bias", H) : SIZE_MAX;
  }

  upload_planned_weights<T>(plan, storage_, stream);
  char* base = storage_.as<char>();
  auto at = [base](size_t offset) { return offset == SIZE_MAX ? nullptr : reinterpret_cast<const T*>(base + offset); };
  embed_tokens_ = at(embed_offset);
  lm_head_ = at(lm_head_offset);
  auto floats_at = [base](size_t offset) { return offset == SIZE_MAX ? nullptr : reinterpret_cast<const float*>(base + offset); };
  final_norm_ = floats_at(final_norm_offset);
  for (const LayerOffsets& o : offsets) {
    layers_.push_back({floats_at(o.input_norm), at(o.qkv), floats_at(o.qkv_bias), floats_at(o.q_norm), floats_at(o.k_norm),
                       at(o.o_proj), floats_at(o.o_bias), floats_at(o.attention_out_norm), floats_at(o.post_norm), at(o.gate_up),
                       floats_at(o.gate_up_bias), at(o.down), floats_at(o.down_bias), floats_at(o.mlp_out_norm)});
  }
  for (const MoeOffsets& o : moe_offsets) {
    MoeLayerWeights<T> moe{floats_at(o.router), {}, {}, at(o.shared_gate_up), at(o.shared_down)};
    for (size_t offset : o.gate_up) moe.gate_up.push_back(at(offset));
    for (size_t offset : o.down) moe.down.push_back(at(offset));
    moe_layers_.push_back(std::move(moe));
  }
}

template class DeviceWeights<__half>;
template class DeviceWeights<__nv_bfloat16>;

}  // namespace pagedllm::cuda
