// CWM (Meta's Code World Model, CwmForCausalLM): Llama's layers without attention biases, a window of sliding_window
// (8192) on three layers in four (layer 0 and every 4th after it full), llama3 rope scaling by default. Read as
// transformers 5.18's CwmConfig reads it; the shared parser and sliding-windows.ts run the rest.
export const CWM = 'CwmForCausalLM'

type Json = Record<string, unknown>

/** CwmConfig's rope when config.json gives none: llama3 x16 over 8192 positions at base 1e6. */
const DEFAULT_ROPE: Json = {rope_type: 'llama3', rope_theta: 1e6, factor: 16, high_freq_factor: 4, low_freq_factor: 1, original_max_position_embeddings: 8192}

/**
 * The config with CwmConfig's defaults for what it leaves out: layer_types (i % 4 == 0 full, the others sliding), eos
 * [128001, 128008, 128009], head_dim 128, 8 KV heads, and its rope (at base 1e6 whatever rope_theta says, as CwmConfig
 * builds it). attention_bias is not read (CwmAttention's projections have no biases).
 */
export function cwmView(config: Json): Json {
  const {attention_bias: _ignored, ...rest} = config
  const layers = typeof config.num_hidden_layers === 'number' && Number.isInteger(config.num_hidden_layers) && config.num_hidden_layers > 0 ? config.num_hidden_layers : 0
  const hasRope = config.rope_parameters != null || config.rope_scaling != null
  return {
    num_key_value_heads: 8, head_dim: 128, rms_norm_eps: 1e-5, bos_token_id: 128000, eos_token_id: [128001, 128008, 128009], sliding_window: 8192,
    layer_types: Array.from({length: layers}, (_, i) => (i % 4 === 0 ? 'full_attention' : 'sliding_attention')),
    ...rest,
    ...(hasRope ? {} : {rope_parameters: DEFAULT_ROPE}),
  }
}
