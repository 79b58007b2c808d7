// Mamba-1 mixers (the original selective scan: Mamba, Falcon-Mamba, Jamba; native/cpu/mamba1_mixer.h runs them): the
// sizes of one mixer. When enabled, the layers ModelConfig::linear_layers marks are Mamba-1 mixers; their per-sequence
// conv and SSM states live in the hybrid state slots as the Mamba-2 ones do.
#pragma once
#include <cstddef>

namespace pagedllm {

// The RMSNorms on the selective scan's dt, B and C (x_proj's outputs): none (Mamba), without weights (Falcon-Mamba),
// with weights (Jamba's dt_layernorm, b_layernorm, c_layernorm).
enum class Mamba1DtBcNorm { kNone = 0, kUnweighted = 1, kWeighted = 2 };

struct Mamba1Config {
  int inner = 0;        // intermediate_size: expand x hidden_size
  int state_size = 0;   // d_state
  int conv_kernel = 0;  // d_conv
  int dt_rank = 0;      // time_step_rank: x_proj's dt rows, dt_proj's input width
  bool conv_bias = false;
  Mamba1DtBcNorm dt_bc_norm = Mamba1DtBcNorm::kNone;
  float dt_bc_norm_eps = 1e-6f;
  bool no_mlp = false;  // Mamba, Falcon-Mamba: a layer is its norm and mixer only
  // Zamba's n_mamba_heads: the channels split into this many runs, each with its own x_proj (so its own dt, B and C) and
  // dt_proj, as independent mixers between one in_proj, conv and out_proj.
  int heads = 1;
  bool enabled() const { return inner > 0; }
  int head_dim() const { return inner / heads; }
  int x_proj_rows() const { return dt_rank + 2 * state_size; }  // dt, B, C (per head)
  size_t conv_state_floats() const { return static_cast<size_t>(inner) * (conv_kernel - 1); }
  size_t ssm_state_floats() const { return static_cast<size_t>(inner) * state_size; }
};

}  // namespace pagedllm
