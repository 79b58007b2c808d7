// NVIDIA Nemotron-H (NemotronHForCausalLM: Nemotron-H 8B/47B/56B, Nemotron Nano 2) as transformers 5.18's NemotronHConfig
// reads it. Each checkpoint layer is one pre-norm residual block with a single mixer: a Mamba-2 mixer ("M"), attention
// without rope ("*"), or Nemotron's ungated relu2 MLP ("-"). The engine runs a mixer and the MLP layer right after it as
// one of its layers (norm, mixer, residual, norm, MLP, residual: the same sums), and a mixer followed by another mixer
// as a layer without an MLP (Mamba2Features.mlpLayers); a MoE layer ("E") after a mixer is that layer's sparse MLP
// (nemotronHMoe). nemotron-h-tensors.ts maps the names.
import {ModelLoadError, quotedValue} from '../errors.js'
import {timeStepLimit, type Mamba2Features} from './mamba2-config.js'
import type {MoeConfig} from './moe-config.js'
import type {HybridFeatures} from './qwen35-config.js'
import {switchOn, switchValue} from './config-switch.js'
import {configSize} from './config-size.js'

type Json = Record<string, unknown>

export const NEMOTRON_H = 'NemotronHForCausalLM'

type BlockType = 'mamba' | 'attention' | 'mlp' | 'moe'
const PATTERN: Record<string, BlockType> = {'M': 'mamba', '*': 'attention', '-': 'mlp', 'E': 'moe'}
const NAMED: Record<string, BlockType> = {linear_attention: 'mamba', mamba: 'mamba', full_attention: 'attention', attention: 'attention', mlp: 'mlp', moe: 'moe'}

/** The checkpoint's layers: layers_block_type (layer_types), else hybrid_override_pattern, else NemotronHConfig's default. */
function blockTypes(config: Json, source: string): BlockType[] {
  const listed = config.layers_block_type ?? config.layer_types
  if (listed != null) {
    if (!Array.isArray(listed) || listed.length === 0 || listed.some((t) => typeof t !== 'string' || !(t in NAMED))) {
      throw new ModelLoadError(`${source}: "layers_block_type" must list "linear_attention", "full_attention", "mlp" or "moe" for each layer, got ${quotedValue(listed)}.`)
    }
    return listed.map((t) => NAMED[t as string]!)
  }
  const pattern = config.hybrid_override_pattern
  if (pattern == null) return ['mamba', 'moe', 'attention', 'mlp']
  if (typeof pattern !== 'string' || pattern.length === 0 || [...pattern].some((c) => !(c in PATTERN))) {
    throw new ModelLoadError(`${source}: "hybrid_override_pattern" must be a string of M (Mamba-2), * (attention), - (MLP) and E (MoE), got ${quotedValue(pattern)}.`)
  }
  return [...pattern].map((c) => PATTERN[c]!)
}

type EngineLayer = {mixer: 'mamba' | 'attention'; mlp: 'mlp' | 'moe' | null}

/** The engine's layers: each mixer with the MLP (or MoE) layer after it, if any. */
function engineLayers(types: BlockType[], source: string): EngineLayer[] {
  const layers: EngineLayer[] = []
  types.forEach((type, i) => {
    if (type === 'mamba' || type === 'attention') layers.push({mixer: type, mlp: null})
    else if (types[i - 1] === 'mamba' || types[i - 1] === 'attention') layers.at(-1)!.mlp = type
    else throw new ModelLoadError(`${source}: layer ${i} is an MLP layer that does not follow a Mamba-2 or attention layer; the engine runs each MLP layer with the mixer before it.`)
  })
  return layers
}

/** The config with NemotronHConfig's defaults and names as the shared parser reads them (one engine layer per mixer). */
export function nemotronHView(config: Json, source: string): Json {
  for (const [key, what] of [['use_bias', 'biases on the Mamba-2 in_proj / out_proj'], ['mlp_bias', 'biases on the MLPs']] as const) {
    if (switchOn(config, key, source)) throw new ModelLoadError(`${source}: "${key}" true (${what}) is not supported for ${NEMOTRON_H}.`)
  }
  const act = config.mamba_hidden_act ?? 'silu'
  if (act !== 'silu' && act !== 'swish') throw new ModelLoadError(`${source}: "mamba_hidden_act" ${quotedValue(act)} is not supported for ${NEMOTRON_H} (its Mamba-2 conv1d runs the activation; only silu is).`)
  const layers = engineLayers(blockTypes(config, source), source)
  // Attention has no biases (attention_bias is not read) and no window; the MLP's activation is mlp_hidden_act. NVIDIA's
  // configs name the head size attention_head_dim (transformers reads head_dim, 128 by default: the same in their checkpoints).
  return {
    num_attention_heads: 32, num_key_value_heads: 8, max_position_embeddings: 4096, intermediate_size: 21504, vocab_size: 131072, hidden_size: 4096,
    ...config, head_dim: config.head_dim ?? config.attention_head_dim ?? 128, num_hidden_layers: layers.length, rms_norm_eps: config.layer_norm_epsilon ?? 1e-5, hidden_act: config.mlp_hidden_act ?? 'relu2',
    attention_bias: false, mlp_bias: false, sliding_window: null, use_sliding_window: false,
  }
}

/** The engine layers' mixers (linearLayers: the Mamba-2 ones), which have an MLP, and the mixers' sizes. */
export function nemotronHHybrid(config: Json, source: string): HybridFeatures {
  const layers = engineLayers(blockTypes(config, source), source)
  // NemotronHConfig takes the older mamba_* names over the current ones when both are given.
  const size = (key: string, legacy: string | null, fallback: number): number => {
    const name = legacy !== null && config[legacy] !== undefined ? legacy : key
    return configSize(config, name, fallback, source)
  }
  const heads = size('mamba_num_heads', null, 128)
  const groups = size('n_groups', 'mamba_n_groups', 8)
  if (heads % groups !== 0) throw new ModelLoadError(`${source}: "mamba_num_heads" (${heads}) is not a multiple of "n_groups" (${groups}).`)
  const headDim = size('mamba_head_dim', null, 64)
  const convKernel = size('conv_kernel', 'mamba_d_conv', 4)
  const convBias = config.mamba_conv_bias ?? config.use_conv_bias ?? true
  if (typeof convBias !== 'boolean') throw new ModelLoadError(`${source}: "use_conv_bias" must be true or false, got ${quotedValue(convBias)}.`)
  const limit = config.mamba_dt_limit ?? config.time_step_limit
  // The gated RMSNorm normalises each group's heads apart (Zamba2's RMSNormGated with group_size inner / n_groups).
  const mamba2: Mamba2Features = {
    heads, headDim, groups, stateSize: size('ssm_state_size', null, 128), convKernel, normGroup: (heads * headDim) / groups, convBias,
    ...timeStepLimit({time_step_limit: limit}, source), noMlp: false, mlpLayers: layers.map((l) => l.mlp !== null),
  }
  return {
    linearLayers: layers.map((l) => l.mixer === 'mamba'), attentionOutputGate: false,
    linearNumKeyHeads: 0, linearNumValueHeads: 0, linearKeyHeadDim: 0, linearValueHeadDim: 0, convKernel, groupedProjections: false, mamba2,
  }
}

/**
 * The MoE layers' experts (NemotronHMoE: DeepSeek-V3's sigmoid routing with a correction bias over n_group groups, each
 * expert and the shared one Nemotron's ungated MLP; with moe_latent_size, the routed experts between latent projections);
 * undefined without MoE layers.
 */
export function nemotronHMoe(config: Json, source: string): MoeConfig | undefined {
  const layers = engineLayers(blockTypes(config, source), source)
  if (!layers.some((l) => l.mlp === 'moe')) return undefined
  const positive = (key: string, fallback: number): number => {
    const value = config[key] ?? fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new ModelLoadError(`${source}: "${key}" must be a positive integer, got ${quotedValue(value)}.`)
    return value
  }
  const numExperts = positive(config.n_routed_experts === undefined && config.num_local_experts !== undefined ? 'num_local_experts' : 'n_routed_experts', 8)
  const numExpertsPerToken = positive('num_experts_per_tok', 2)
  const groups = positive('n_group', 1)
  const topkGroups = positive('topk_group', 1)
  if (numExperts > 4096 || numExpertsPerToken > numExperts || numExperts % groups !== 0 || topkGroups > groups || (groups > 1 && numExperts / groups < 2) || (numExperts / groups) * topkGroups < numExpertsPerToken) {
    throw new ModelLoadError(`${source}: ${numExperts} experts ("n_routed_experts", at most 4096) in "n_group" ${groups} groups (at least 2 each), "topk_group" ${topkGroups} of them, must hold "num_experts_per_tok" ${numExpertsPerToken}.`)
  }
  const normTopk = switchValue(config, 'norm_topk_prob', true, source)
  const factor = config.routed_scaling_factor ?? 1
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0) throw new ModelLoadError(`${source}: "routed_scaling_factor" must be a positive number, got ${quotedValue(factor)}.`)
  return {
    numExperts, numExpertsPerToken, normTopkProb: normTopk, expertIntermediateSize: positive('moe_intermediate_size', 7688),
    sharedExpertIntermediateSize: positive('moe_shared_expert_intermediate_size', 7688), ungatedSharedExpert: true, ungatedExperts: true,
    sparseLayers: layers.map((l) => l.mlp === 'moe'), mixtralNames: false,
    grouped: {groups, topkGroups, sigmoid: true, groupTop2: true, routerBias: true, routedScalingFactor: factor},
    ...(config.moe_latent_size == null ? {} : {latentSize: positive('moe_latent_size', 0)}),
  }
}

/** No layer rotates (Nemotron-H's attention has no position embedding). */
export function nemotronHRopeLayers(config: Json): boolean[] | undefined {
  const layers = config.num_hidden_layers
  if (typeof layers !== 'number' || !Number.isInteger(layers) || layers <= 0) return undefined // the shared parser names a bad count
  return Array<boolean>(layers).fill(false)
}
