// Gated DeltaNet kernels (gated_delta.h), portable C++: the work per token is heads x k_dim x v_dim, parallel over heads.
#include "gated_delta.h"
#include "scalar_activations.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace pagedllm {
namespace cpu {


void causal_conv1d_silu(ThreadPool& pool, const float* in, int rows, int in_stride, int channels, const float* weight,
                        int kernel, float* state, float* out, int out_stride, const float* bias, bool apply_silu) {
  const int history = kernel - 1;
  const int tasks = std::min(channels, pool.size() * 4);
  pool.parallel_for(tasks, [&](int task) {
    std::vector<float> window(static_cast<size_t>(history + rows));
    for (int c = task; c < channels; c += tasks) {
      float* carried = state + static_cast<size_t>(c) * history;
      std::copy(carried, carried + history, window.begin());
      for (int t = 0; t < rows; ++t) window[history + t] = in[static_cast<size_t>(t) * in_stride + c];
      const float* w = weight + static_cast<size_t>(c) * kernel;
      for (int t = 0; t < rows; ++t) {
        float sum = bias ? bias[c] : 0.f;
        for (int j = 0; j < kernel; ++j) sum += w[j] * window[t + j];
        out[static_cast<size_t>(t) * out_stride + c] = apply_silu ? silu(sum) : sum;
      }
      std::copy(window.end() - history, window.end(), carried);
    }
  });
}

void gated_delta_rule(ThreadPool& pool, const DeltaRuleRows& in, int k_heads, int v_heads, int k_dim, int v_dim,
                      float* state, float* out, bool tiled_heads) {
  const int group = v_heads / k_heads;
  pool.parallel_for(v_heads, [&](int h) {
    float* s = state + static_cast<size_t>(h) * k_dim * v_dim;
    std::vector<float> delta(v_dim);
    const int key_head = tiled_heads ? h % k_heads : h / group;
    for (int t = 0; t < in.rows; ++t) {
      const float* q = in.q + static_cast<size_t>(t) * in.q_stride + static_cast<size_t>(key_head) * k_dim;
      const float* k = in.k + static_cast<size_t>(t) * in.k_stride + static_cast<size_t>(key_head) * k_dim;
      const float* v = in.v + static_cast<size_t>(t) * in.v_stride + static_cast<size_t>(h) * v_dim;
      const size_t gate_row = static_cast<size_t>(t) * v_heads + h;
      const float* channel_g = in.channel_decay ? in.g + gate_row * k_dim : nullptr;
      const float decay = in.channel_decay ? 0.f : std::exp(in.g[gate_row]);
      const float beta = in.beta[gate_row];
      // Decay, then read what the state predicts for k (kv_mem), one pass over S.
      std::fill(delta.begin(), delta.end(), 0.f);
      for (int i = 0; i < k_dim; ++i) {
        float* row = s + static_cast<size_t>(i) * v_dim;
        const float row_decay = channel_g ? std::exp(channel_g[i]) : decay;
        for (int j = 0; j < v_dim; ++j) {
          row[j] *= row_decay;
          delta[j] += row[j] * k[i];
        }
      }
      for (int j = 0; j < v_dim; ++j) delta[j] = (v[j] - delta[j]) * beta;
      // Write the correction, then read the output with q, a second pass.
      float* o = out + static_cast<size_t>(t) * v_heads * v_dim + static_cast<size_t>(h) * v_dim;
      std::fill(o, o + v_dim, 0.f);
      for (int i = 0; i < k_dim; ++i) {
        float* row = s + static_cast<size_t>(i) * v_dim;
        for (int j = 0; j < v_dim; ++j) {
          row[j] += k[i] * delta[j];
          o[j] += row[j] * q[i];
        }
      }
    }
  });
}

void rms_norm_gated(ThreadPool& pool, const float* x, const float* z, const float* weight, int rows, int dim, float eps,
                    float* out, bool sigmoid_gate) {
  const int tasks = std::max(1, std::min(rows, pool.size() * 4));
  pool.parallel_for(tasks, [&](int task) {
    for (int r = task; r < rows; r += tasks) {
      const float* xr = x + static_cast<size_t>(r) * dim;
      const float* zr = z + static_cast<size_t>(r) * dim;
      float sum = 0.f;
      for (int i = 0; i < dim; ++i) sum += xr[i] * xr[i];
      const float scale = 1.f / std::sqrt(sum / dim + eps);
      float* o = out + static_cast<size_t>(r) * dim;
      for (int i = 0; i < dim; ++i) o[i] = weight[i] * (xr[i] * scale) * (sigmoid_gate ? 1.f / (1.f + std::exp(-zr[i])) : silu(zr[i]));
    }
  });
}

void sigmoid_gate(ThreadPool& pool, const float* gate, int gate_stride, float* out, int rows, int width) {
  const int tasks = std::max(1, std::min(rows, pool.size() * 4));
  pool.parallel_for(tasks, [&](int task) {
    for (int r = task; r < rows; r += tasks) {
      const float* g = gate + static_cast<size_t>(r) * gate_stride;
      float* o = out + static_cast<size_t>(r) * width;
      for (int i = 0; i < width; ++i) o[i] *= 1.f / (1.f + std::exp(-g[i]));
    }
  });
}

}  // namespace cpu
}  // namespace pagedllm
