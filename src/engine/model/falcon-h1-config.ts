// TII Falcon-H1 (FalconH1ForCausalLM) as transformers 5.18's FalconH1Config reads it: every layer runs a Mamba-2 mixer
// and Llama's attention side by side on the same normed input, their outputs added (each layer holds a KV cache and a
// mixer state), then a SwiGLU MLP; muP multipliers scale the embeddings, the mixer's input and in_proj's z / x / B / C /
// dt parts (ssm_in_multiplier x ssm_multipliers), its output, the attention's input, keys and output, the MLP's gate
// and down outputs, and the logits. The mixer's gated RMSNorm (mamba_rms_norm) normalises each of mamba_n_groups apart,
// before the gate by default (mamba_norm_before_gate); without it, y * silu(z) goes to out_proj as is.
import {ModelLoadError, quotedValue} from '../errors.js'
import {timeStepLimit, type FalconH1Multipliers, type Mamba2Features} from './mamba2-config.js'
import type {HybridFeatures} from './qwen35-config.js'
import {switchOn, switchValue} from './config-switch.js'
import {configSize} from './config-size.js'

type Json = Record<string, unknown>

export const FALCON_H1 = 'FalconH1ForCausalLM'

/** The config with FalconH1Config's defaults where the shared parser's differ. */
export function falconH1View(config: Json, source: string): Json {
  for (const [key, what] of [['mamba_proj_bias', 'a bias on the Mamba-2 in_proj'], ['projectors_bias', 'a bias on the Mamba-2 out_proj'], ['attention_bias', 'attention biases'], ['mlp_bias', 'MLP biases']] as const) {
    if (switchOn(config, key, source)) throw new ModelLoadError(`${source}: "${key}" true (${what}) is not supported for ${FALCON_H1}.`)
  }
  // hidden_act is the MLP's and the mixer's conv1d activation; the native conv applies silu.
  const act = config.hidden_act ?? 'silu'
  if (act !== 'silu' && act !== 'swish') throw new ModelLoadError(`${source}: "hidden_act" ${quotedValue(act)} is not supported for ${FALCON_H1} (its Mamba-2 conv1d runs the activation; only silu is).`)
  return {vocab_size: 128000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, max_position_embeddings: 8192, rms_norm_eps: 1e-5, ...config}
}

function positive(config: Json, key: string, fallback: number, source: string): number {
  const value = config[key] ?? fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ModelLoadError(`${source}: "${key}" must be a positive number, got ${quotedValue(value)}.`)
  return value
}

function multipliers(config: Json, key: string, count: number, source: string): number[] {
  const value = config[key] ?? Array(count).fill(1)
  if (!Array.isArray(value) || value.length !== count || value.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    throw new ModelLoadError(`${source}: "${key}" must list ${count} numbers, got ${quotedValue(value)}.`)
  }
  return value as number[]
}

/** Every layer a mixer (with attention beside it: falconH1), the mixers' sizes and the multipliers inside the layers. */
export function falconH1Hybrid(config: Json, numLayers: number, hiddenSize: number, source: string): HybridFeatures {
  const size = (key: string, fallback: number): number => configSize(config, key, fallback, source)
  // mamba_d_ssm (1024 by default; null: mamba_expand x hidden_size) is the inner width.
  const inner = config.mamba_d_ssm === null ? size('mamba_expand', 2) * hiddenSize : size('mamba_d_ssm', 1024)
  const heads = size('mamba_n_heads', 128)
  const headDim = (config.mamba_d_head ?? 'auto') === 'auto' ? Math.floor(inner / heads) : size('mamba_d_head', 0)
  if (headDim * heads !== inner) throw new ModelLoadError(`${source}: ${heads} Mamba heads of ${headDim} ("mamba_n_heads", "mamba_d_head") must make the inner width ${inner} ("mamba_d_ssm").`)
  const groups = size('mamba_n_groups', 1)
  if (heads % groups !== 0 || inner % groups !== 0) throw new ModelLoadError(`${source}: "mamba_n_heads" (${heads}) is not a multiple of "mamba_n_groups" (${groups}).`)
  const flag = (key: string, fallback: boolean) => switchValue(config, key, fallback, source)
  const convKernel = size('mamba_d_conv', 4)
  const ssmIn = positive(config, 'ssm_in_multiplier', 1, source)
  const [mlpGate, mlpDown] = multipliers(config, 'mlp_multipliers', 2, source) as [number, number]
  const falconH1: FalconH1Multipliers = {
    inProj: multipliers(config, 'ssm_multipliers', 5, source).map((m) => m * ssmIn), ssmOut: positive(config, 'ssm_out_multiplier', 1, source),
    attentionIn: positive(config, 'attention_in_multiplier', 1, source), attentionOut: positive(config, 'attention_out_multiplier', 1, source),
    key: positive(config, 'key_multiplier', 1, source), mlpGate, mlpDown,
  }
  const gatedNorm = !flag('mamba_rms_norm', false) ? 'gate-only' : flag('mamba_norm_before_gate', true) ? 'norm-then-gate' : 'gate-then-norm'
  const mamba2: Mamba2Features = {
    heads, headDim, groups, stateSize: size('mamba_d_state', 256), convKernel, normGroup: inner / groups, convBias: flag('mamba_conv_bias', true),
    ...timeStepLimit(config, source), noMlp: false, gatedNorm, falconH1,
  }
  return {
    linearLayers: Array<boolean>(numLayers).fill(true), attentionOutputGate: false,
    linearNumKeyHeads: 0, linearNumValueHeads: 0, linearKeyHeadDim: 0, linearValueHeadDim: 0, convKernel, groupedProjections: false, mamba2,
  }
}

/** embedding_multiplier and lm_head_multiplier, as the RMS variants carry them (rms-variants.ts). */
export function falconH1Scales(config: Json, source: string): {embeddingScale: number; logitsMultiplier: number} {
  return {embeddingScale: positive(config, 'embedding_multiplier', 1, source), logitsMultiplier: positive(config, 'lm_head_multiplier', 1, source)}
}
