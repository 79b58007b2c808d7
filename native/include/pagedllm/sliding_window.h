// What a sliding-window layer differs in, shared by both backends: the keys a query sees, the leading blocks no query
// of a chunk reads (the engine may have released them: -1 in the block table), and Gemma 3's second rope. Plain C++
// (callable from CUDA kernels too), so the CPU build and its tests exercise what the CUDA backend relies on.
#pragma once
#include "pagedllm/backend.h"
#include "pagedllm/host_device.h"

namespace pagedllm {

// The first position a query at `position` sees: keys (position - window, position], transformers'
// kv_idx > q_idx - sliding_window; 0 without a window (window 0). A negative window is Llama 4's attention chunk of
// -window positions: keys from the start of the query's chunk on (kv_idx // chunk == q_idx // chunk), never earlier
// than the same-sized window's, so blocks released behind a window of that size are never read.
PAGEDLLM_HOST_DEVICE inline int first_visible_position(int position, int sliding_window) {
  if (sliding_window < 0) return position - position % -sliding_window;
  return sliding_window > 0 && position >= sliding_window ? position - sliding_window + 1 : 0;
}

// Layer l's window as the kernels take it (0: full attention; negative: Llama 4's chunk, see above).
inline int layer_window(const ModelConfig& config, int layer) {
  const int window = config.layer_windows.empty() ? 0 : config.layer_windows[layer];
  return config.chunked_attention ? -window : window;
}

// Leading blocks of a sequence that no query at `first_position` or later reads on any layer (widest_window 0: some
// layer reads the whole context, so none). Their table entries may be released (-1) and must never be read.
inline int unread_leading_blocks(int first_position, int widest_window, int block_size) {
  return first_visible_position(first_position, widest_window) / block_size;
}

// The widest window when every layer slides, else 0 (a full-attention layer reads every block).
inline int widest_window_if_all_slide(const std::vector<int>& layer_windows) {
  int widest = 0;
  for (int window : layer_windows) {
    if (window <= 0) return 0;
    widest = window > widest ? window : widest;
  }
  return widest;
}

// Gemma 3's sliding layers rotate with plain frequencies of rope_local_base_freq (no scaling, no attention factor):
// the config whose rope those layers use.
inline ModelConfig local_rope_config(const ModelConfig& config) {
  ModelConfig local;
  local.head_dim = config.head_dim;
  local.rotary_dim = config.rotary_dim;
  local.rope_theta = config.rope_local_theta;
  return local;
}

}  // namespace pagedllm
