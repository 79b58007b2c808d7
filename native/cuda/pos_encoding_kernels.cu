// Rotary position embedding (HF rotate_half layout) with linear, llama3 or per-frequency divisor (yarn, longrope)
// rope scaling, in place on q and k.
#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "pos_encoding_kernels.cuh"

namespace pagedllm::cuda {

std::vector<float> rope_inv_freq(const ModelConfig& model) {
  std::vector<float> inv_freq((model.rotary_dim > 0 ? model.rotary_dim : model.head_dim) / 2);
  for (size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] = float(rope_frequency(model, int(i)));
  return inv_freq;
}

void rotary_embedding(float* qkv, int row_stride, const int32_t* positions, int num_tokens, int num_heads, int num_kv_heads,
                      int head_dim, const float* inv_freq, cudaStream_t stream, float attention_factor, int rotary_dim) {
  if (num_tokens == 0) return;
  const int rotated = rotary_dim > 0 ? rotary_dim : head_dim;
  if (rotated % 2 != 0 || rotated > head_dim) throw std::runtime_error("rotary_embedding: rotary_dim must be even and at most head_dim");
  rotary_kernel<<<num_tokens, rotary_threads(num_heads, num_kv_heads, rotated), rotated * sizeof(float), stream>>>(
      qkv, row_stride, positions, num_heads, num_kv_heads, head_dim, rotated, inv_freq, attention_factor);
  PAGEDLLM_CUDA_CHECK_LAUNCH("rotary_kernel");
}

}  // namespace pagedllm::cuda
