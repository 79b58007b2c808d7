// Nemotron, Arcee (AFM) and Jais 2: Llama with Nemotron's ungated MLP, down(relu2(up(x))) (relu2: relu(x)^2); Nemotron normalises
// with LayerNorm1P (LayerNorm with bias, scaled by weight + 1) and rotates half of each head, Jais 2 with nn.LayerNorm
// (weight and bias). Read as transformers 5.18's NemotronConfig, ArceeConfig and Jais2Config read them; rms-variants.ts carries them to the backends (ungatedMlp: CPU only).
import {withPartialRotaryDefault} from './partial-rotary.js'

export const ARCEE = 'ArceeForCausalLM'
export const NEMOTRON = 'NemotronForCausalLM'
const JAIS2 = 'Jais2ForCausalLM'

export function isRelu2Family(architecture: string): boolean {
  return architecture === ARCEE || architecture === NEMOTRON || architecture === JAIS2
}

type Json = Record<string, unknown>

/** The config classes' defaults where the shared parser's differ: hidden_act relu2, eps 1e-5 (Nemotron's norm_eps), Nemotron's half-rotated heads. */
export function relu2View(config: Json, architecture: string): Json {
  const common = {...config, hidden_act: config.hidden_act ?? 'relu2'}
  if (architecture === ARCEE) return {...common, rms_norm_eps: config.rms_norm_eps ?? 1e-5}
  // Jais2Config: LayerNorm eps layer_norm_eps, every projection biased by default (attention_bias, mlp_bias).
  if (architecture === JAIS2) {
    return {bos_token_id: 0, eos_token_id: 150024, ...common, rms_norm_eps: config.layer_norm_eps ?? 1e-5, attention_bias: config.attention_bias ?? true, mlp_bias: config.mlp_bias ?? true}
  }
  return withPartialRotaryDefault({...common, rms_norm_eps: config.norm_eps ?? 1e-5}, 0.5)
}

/** Nemotron's LayerNorm1P: mean-subtracting with bias (PhiMoE's normMean + normBias), its weight + 1 added at load (normWeightOffset); Jais 2's the same without the + 1. */
export function nemotronNorms(architecture: string): {normMean?: true; normBias?: true; normWeightOffset?: number} {
  if (architecture === JAIS2) return {normMean: true, normBias: true}
  return architecture === NEMOTRON ? {normMean: true, normBias: true, normWeightOffset: 1} : {}
}
