// Mamba-2 mixers of hybrid state-space models (Granite 4.0 hybrid, Bamba, Mamba2; native/cpu/mamba2_mixer.h runs them):
// the sizes of one mixer. When enabled, the layers ModelConfig::linear_layers marks are Mamba-2 mixers, not Gated
// DeltaNet ones; their per-sequence conv and SSM states live in the same state slots.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace pagedllm {

// Falcon-H1: every layer runs attention and the mixer side by side on the same normed input (each holds a KV cache and
// a mixer state), their outputs added, with muP multipliers on the way in and out of each and on the MLP.
struct FalconH1Multipliers {
  bool enabled = false;
  float in_proj[5] = {1.f, 1.f, 1.f, 1.f, 1.f};  // the z, x, B, C, dt rows of in_proj: ssm_in_multiplier x ssm_multipliers
  float ssm_out = 1.f;
  float attention_in = 1.f, attention_out = 1.f, key = 1.f;
  float mlp_gate = 1.f, mlp_down = 1.f;  // mlp_multipliers: gate_proj's output (before the activation), down_proj's
};

// How the mixer's output y meets its gate z before out_proj.
enum class Mamba2GatedNorm {
  kGateThenNorm,  // weight * rms_groups(y * silu(z)) (Bamba, Granite 4.0, Mamba2, Nemotron-H)
  kNormThenGate,  // weight * rms_groups(y) * silu(z) (Falcon-H1's mamba_norm_before_gate)
  kGateOnly,      // y * silu(z), no norm (Falcon-H1 without mamba_rms_norm)
};

struct Mamba2Config {
  int heads = 0;        // mamba_n_heads (num_heads)
  int head_dim = 0;     // mamba_d_head
  int groups = 0;       // n_groups: heads / groups heads share one B and one C
  int state_size = 0;   // d_state
  int conv_kernel = 0;  // d_conv
  int norm_group = 0;   // the gated RMSNorm normalises groups of this many values (the whole inner width for most)
  bool conv_bias = false;
  float dt_min = 0.f;   // time_step_limit: softplus(dt + dt_bias) clamped to [dt_min, dt_max]
  float dt_max = std::numeric_limits<float>::infinity();
  bool no_mlp = false;  // Mamba2ForCausalLM: a layer is its norm and mixer only
  // [num_layers], 0 = that layer is its norm and mixer only (Nemotron-H: a mixer not followed by an MLP layer); empty: all have one
  std::vector<uint8_t> mlp_layers;
  Mamba2GatedNorm gated_norm = Mamba2GatedNorm::kGateThenNorm;
  FalconH1Multipliers falcon_h1;
  bool enabled() const { return heads > 0; }
  bool has_mlp(int layer) const { return !no_mlp && (mlp_layers.empty() || mlp_layers.at(layer) != 0); }
  int inner() const { return heads * head_dim; }
  int conv_channels() const { return inner() + 2 * groups * state_size; }  // x, B, C
  int in_proj_rows() const { return inner() + conv_channels() + heads; }   // z, xBC, dt
  size_t conv_state_floats() const { return static_cast<size_t>(conv_channels()) * (conv_kernel - 1); }
  size_t ssm_state_floats() const { return static_cast<size_t>(heads) * head_dim * state_size; }
};

}  // namespace pagedllm
