// Apertus (Swiss AI, ApertusForCausalLM): Llama's attention with per-head q/k norms before rope, Nemotron's ungated MLP
// down(xielu(up(x))) whose xIELU activation has four learned scalars per layer (mlp.act_fn.alpha_p, alpha_n, beta, eps),
// and llama3 rope by default. Read as transformers 5.18's ApertusConfig and XIELUActivation read them; rms-variants.ts
// carries the ungated MLP to the CPU backend, which applies xIELU (native/cpu/activation.cpp).
import type {TensorInfo} from './safetensors.js'

export const APERTUS = 'ApertusForCausalLM'

type Json = Record<string, unknown>

/** ApertusConfig's rope when config.json gives none: llama3 x8 over 8192 positions at base 1.2e7. */
const DEFAULT_ROPE: Json = {rope_type: 'llama3', rope_theta: 12e6, factor: 8, original_max_position_embeddings: 8192, low_freq_factor: 1, high_freq_factor: 4}

/** The config with ApertusConfig's defaults for what it leaves out: its rope whole (at its own base whatever rope_theta says, as the class builds it), or a given rope at base 1.2e7 (default_theta). */
export function apertusView(config: Json): Json {
  const hasRope = config.rope_parameters != null || config.rope_scaling != null
  return {
    hidden_act: 'xielu', rms_norm_eps: 1e-5, rope_theta: 12e6, bos_token_id: 1, eos_token_id: 2,
    ...config,
    ...(hasRope ? {} : {rope_parameters: DEFAULT_ROPE}),
  }
}

/** The learned scalars of a layer's xIELU, each read as [1]: alpha_p and alpha_n are stored [1], beta and eps 0-d. */
export function xieluTensorShapes(prefix: string): {name: string; shape: number[]}[] {
  return ['alpha_p', 'alpha_n', 'beta', 'eps'].map((name) => ({name: `${prefix}.mlp.act_fn.${name}`, shape: [1]}))
}

const SCALAR = /\.mlp\.act_fn\.(beta|eps)$/

/** The checkpoint's 0-d beta and eps as the [1] the loader checks (the same single value). */
export function xieluScalarsAsVectors(tensors: TensorInfo[]): TensorInfo[] {
  return tensors.map((t) => (SCALAR.test(t.name) && t.shape.length === 0 ? {...t, shape: [1]} : t))
}

/** The engine's [1] beta and eps as the 0-d buffers transformers saves (for writing test checkpoints). */
export function xieluCheckpointShapes<T extends {name: string; shape: number[]}>(tensors: T[]): T[] {
  return tensors.map((t) => (SCALAR.test(t.name) ? {...t, shape: []} : t))
}
