// DeepSeek's multi-head latent attention, served from the paged cache in its expanded form (as early vLLM did): each
// token's latents are projected up into ordinary heads, so the cache, rope and attention kernels stay the Llama ones.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "kernels.h"
#include "moe.h"  // MatrixLoader

namespace pagedllm {
namespace cpu {

struct MlaWeights {
  WeightMatrix q_a;                // [q_lora_rank, hidden]; empty when q_lora_rank is 0
  std::vector<float> q_a_norm;     // [q_lora_rank]
  WeightMatrix q_b;                // [num_heads * head_dim, q_lora_rank], or q_proj's [num_heads * head_dim, hidden]
  WeightMatrix kv_a;               // [kv_lora_rank + rotary_dim, hidden]: the latent, then the shared k_pe
  std::vector<float> kv_a_norm;    // [kv_lora_rank]
  WeightMatrix kv_b;               // [num_heads * (nope + v_head_dim), kv_lora_rank]: per head k_nope rows, then v rows
  uint64_t bytes() const;
};

using VectorLoader = std::function<std::vector<float>(const std::string& name, int size)>;

// One layer's attention weights under `prefix` ("model.layers.N."), matrices in `format`; `has` says whether a tensor
// is listed (kv_b_proj whole, or a GGUF file's k_b / v_b cut per head).
MlaWeights load_mla_weights(const ModelConfig& config, const std::string& prefix, WeightFormat format, const MatrixLoader& load,
                            const VectorLoader& load_vector, const std::function<bool(const std::string&)>& has);

struct MlaScratch {
  std::vector<float> q_latent, q, kv_latent, kv;
};

// qkv [num_rows, 3 * num_heads * head_dim] in the Llama layout the cache takes, each head's rope values first so the
// partial rotary kernel turns them (de-interleaved where DeepSeek rotates interleaved pairs): q = [q_pe | q_nope],
// k = [k_pe | k_nope] (k_pe shared by every head), v = [v | zeros]. q.k sums over the same pairs as transformers'.
void mla_qkv(ThreadPool& pool, const MlaWeights& w, const ModelConfig& config, const float* x, int num_rows, float* qkv,
             LinearOrder order, MlaScratch& scratch);

// The attention output's heads [v | zeros] packed in place to [v] per head, o_proj's input.
void mla_pack_heads(const ModelConfig& config, float* out, int num_rows);

}  // namespace cpu
}  // namespace pagedllm
