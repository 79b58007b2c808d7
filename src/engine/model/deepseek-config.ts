// DeepSeek V2 / V3 (and the models on V3's code: Kimi K2, Moonlight; GLM-4.7-Flash's Glm4MoeLite): multi-head latent attention and grouped expert
// routing, read as transformers 5.18's DeepseekV2Config / DeepseekV3Config read them. native/cpu/mla.cpp runs the
// attention (expanded into ordinary heads in the paged cache), native/cpu/grouped_topk.cpp the routing.
import {ModelLoadError, quotedValue} from '../errors.js'
import {isObject} from './rope-scaling.js'
import {SOLAR_OPEN} from './solar-open-config.js'
import {EXAONE_MOE} from './exaone-moe-config.js'
import {MINICPM3} from './minicpm3-config.js'
import {KIMI_LINEAR} from './kimi-linear-config.js'
import {MISTRAL4} from './mistral4-config.js'
import {HYV3} from './hy-v3-config.js'
import {switchOn, switchValue} from './config-switch.js'

export const DEEPSEEK_V2 = 'DeepseekV2ForCausalLM'
export const DEEPSEEK_V3 = 'DeepseekV3ForCausalLM'

/** GLM-4.5 (GLM-4-MoE): Llama-style attention over V3's routing and shared experts (glm4-moe-config.ts). */
export const GLM4_MOE = 'Glm4MoeForCausalLM'

/** dots.llm1: Qwen3's attention over V3's routing and shared experts (dots1-config.ts). */
export const DOTS1 = 'Dots1ForCausalLM'

/** GLM-4.7-Flash: DeepSeek-V3's layers under other defaults, its sparse layers listed in mlp_layer_types. */
export const GLM4_MOE_LITE = 'Glm4MoeLiteForCausalLM'

/** Youtu-LLM: DeepSeek-V3's latent attention over dense MLPs in every layer (YoutuConfig: V3's with the experts' keys removed). */
export const YOUTU = 'YoutuForCausalLM'

/** A.X K1: DeepSeek-V3's layers with q always through its latent and an RMSNorm on each sparse layer's MLP output (MoeConfig.postMlpNorm). */
export const AXK1 = 'AXK1ForCausalLM'

export function isDeepseek(architecture: string): boolean {
  return architecture === YOUTU || architecture === AXK1 || architecture === DEEPSEEK_V2 || architecture === DEEPSEEK_V3 || architecture === GLM4_MOE_LITE || architecture === MINICPM3 || architecture === KIMI_LINEAR || architecture === MISTRAL4
}

/** Each config class's attention and expert defaults. */
const DEFAULTS: Record<string, {nope: number; rope: number; v: number; qLora: number; experts: number}> = {
  [DEEPSEEK_V2]: {nope: 128, rope: 64, v: 128, qLora: 1536, experts: 64},
  [DEEPSEEK_V3]: {nope: 128, rope: 64, v: 128, qLora: 1536, experts: 256},
  [GLM4_MOE_LITE]: {nope: 192, rope: 64, v: 256, qLora: 768, experts: 64},
  [MINICPM3]: {nope: 64, rope: 32, v: 64, qLora: 768, experts: 0}, // dense MLPs (minicpm3-config.ts)
  [KIMI_LINEAR]: {nope: 128, rope: 64, v: 128, qLora: 0, experts: 256}, // its view sets q_lora_rank (kimi-linear-config.ts)
  [MISTRAL4]: {nope: 64, rope: 64, v: 128, qLora: 1024, experts: 128}, // its view sets kv_lora_rank (mistral4-config.ts)
  [YOUTU]: {nope: 128, rope: 64, v: 128, qLora: 1536, experts: 0}, // dense MLPs
  [AXK1]: {nope: 128, rope: 64, v: 128, qLora: 1536, experts: 192},
}

/** Multi-head latent attention; ModelConfig.headDim is qk_nope_head_dim + qk_rope_head_dim, rotaryDim qk_rope_head_dim. */
export interface MlaConfig {
  kvLoraRank: number
  /** 0: a plain q_proj (q_lora_rank null: DeepSeek-V2-Lite, Moonlight). */
  qLoraRank: number
  /** V's head size; the cache pads V with zeros to headDim (K's), so each token's V takes headDim / vHeadDim its bytes. */
  vHeadDim: number
  /** q_pe / k_pe rotate interleaved pairs (V2 always; V3 with rope_interleave, its default). */
  ropeInterleaved: boolean
  /** q_a_layernorm's and kv_a_layernorm's eps: every family's RMSNorm class default, 1e-6, whatever rms_norm_eps says. */
  latentNormEps: number
  /** A GGUF file's kv_b as per-head k_b_proj.H / v_b_proj.H tensors (gguf-deepseek.ts), not one kv_b_proj. */
  kvBApart?: boolean
}

/** DeepSeek's routing: scores, a choice within the best groups, weights scaled (MoeConfig.grouped). */
export interface GroupedRouting {
  groups: number
  topkGroups: number
  /** V3: sigmoid scores, the choice by score + e_score_correction_bias; V2, Mistral Small 4: softmax scores. */
  sigmoid: boolean
  /** V3, Mistral Small 4: a group ranks by the sum of its best two scores; V2: by its best one. */
  groupTop2: boolean
  routerBias: boolean
  routedScalingFactor: number
  /** Added to the chosen weights' sum before renormalising; absent: 1e-20 (LFM2-MoE: 1e-6). */
  topkNormEps?: number
}

type Json = Record<string, unknown>

function positiveInteger(config: Json, key: string, fallback: number, source: string): number {
  const value = config[key] ?? fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new ModelLoadError(`${source}: "${key}" must be a positive integer, got ${quotedValue(value)}.`)
  return value
}

/**
 * The config with DeepseekV2Config's / DeepseekV3Config's defaults and each head as the cache holds it: head_dim
 * qk_nope + qk_rope, as many KV heads as query heads (the latent is expanded for every head), the expert count under
 * the shared parser's key. MTP layers (num_nextn_predict_layers) are past num_hidden_layers and never read.
 */
export function deepseekView(config: Json, architecture: string, source: string): Json {
  const v3 = architecture !== DEEPSEEK_V2
  const defaults = DEFAULTS[architecture]!
  if (switchOn(config, 'attention_bias', source)) throw new ModelLoadError(`${source}: attention_bias=true is not supported for ${architecture} (no released DeepSeek model has it).`)
  const heads = config.num_attention_heads
  if (config.num_key_value_heads != null && config.num_key_value_heads !== heads) {
    throw new ModelLoadError(`${source}: num_key_value_heads ${quotedValue(config.num_key_value_heads)} must equal num_attention_heads ${quotedValue(heads)} for ${architecture} (latent attention expands keys and values for every head).`)
  }
  const nope = positiveInteger(config, 'qk_nope_head_dim', defaults.nope, source)
  const rope = positiveInteger(config, 'qk_rope_head_dim', defaults.rope, source)
  if (rope % 2 !== 0) throw new ModelLoadError(`${source}: "qk_rope_head_dim" ${rope} must be even for rotary embeddings.`)
  const experts = config.n_routed_experts ?? defaults.experts
  if (!v3 && config.num_experts_per_tok == null) throw new ModelLoadError(`${source} is missing "num_experts_per_tok" (a positive integer) for ${architecture}.`)
  return {
    ...config,
    head_dim: nope + rope,
    qk_nope_head_dim: nope,
    qk_rope_head_dim: rope,
    num_key_value_heads: heads,
    num_experts: experts,
    ...(architecture === GLM4_MOE_LITE ? {rms_norm_eps: config.rms_norm_eps ?? 1e-5} : {}),
  }
}

/** Latent attention's ranks, rotary part and softmax scale: qk_head_dim^-0.5, times mscale^2 of YaRN's mscale_all_dim (yarn_apply_mscale). */
export function deepseekAttention(config: Json, architecture: string, source: string): {mla: MlaConfig; attentionScale: number} {
  const nope = config.qk_nope_head_dim as number
  const rope = config.qk_rope_head_dim as number
  const defaults = DEFAULTS[architecture]!
  const vHeadDim = positiveInteger(config, 'v_head_dim', defaults.v, source)
  if (vHeadDim > nope + rope) throw new ModelLoadError(`${source}: "v_head_dim" ${vHeadDim} above qk_nope_head_dim + qk_rope_head_dim (${nope + rope}) is not supported (the cache pads V to K's head size).`)
  // AXK1Attention always projects q through its latent (q_a_proj): a null rank cannot build it.
  if (architecture === AXK1 && config.q_lora_rank === null) throw new ModelLoadError(`${source}: "q_lora_rank" must be a positive integer for ${AXK1} (its queries always pass through the latent), got null.`)
  const qLoraRank = config.q_lora_rank === null ? 0 : positiveInteger(config, 'q_lora_rank', defaults.qLora, source)
  const interleave = switchValue(config, 'rope_interleave', true, source)
  const mla = {kvLoraRank: positiveInteger(config, 'kv_lora_rank', 512, source), qLoraRank, vHeadDim, ropeInterleaved: architecture === DEEPSEEK_V2 || interleave, latentNormEps: 1e-6}
  let attentionScale = (nope + rope) ** -0.5
  const ropeParameters = isObject(config.rope_parameters) ? config.rope_parameters : isObject(config.rope_scaling) ? config.rope_scaling : null
  const ropeType = ropeParameters?.rope_type ?? ropeParameters?.type ?? 'default'
  const mscaleAllDim = ropeParameters?.mscale_all_dim
  const factor = ropeParameters?.factor
  if (ropeType !== 'default' && typeof mscaleAllDim === 'number' && mscaleAllDim !== 0 && typeof factor === 'number') {
    const mscale = factor <= 1 ? 1 : 0.1 * mscaleAllDim * Math.log(factor) + 1
    attentionScale *= mscale * mscale
  }
  return {mla, attentionScale}
}

/** The experts' routing, as DeepseekV2TopkRouter (topk_method greedy or group_limited_greedy), DeepseekV3TopkRouter (GLM-4-MoE's too) and Mistral4TopkRouter (V3's groups over softmax scores, no bias) run it. */
export function deepseekRouting(config: Json, architecture: string, numExperts: number, topK: number, source: string): GroupedRouting {
  const v3 = architecture !== DEEPSEEK_V2
  // GLM's, dots.llm1's and Solar Open's config classes default to one group.
  const glm = architecture === GLM4_MOE || architecture === GLM4_MOE_LITE || architecture === DOTS1 || architecture === SOLAR_OPEN || architecture === EXAONE_MOE || architecture === KIMI_LINEAR || architecture === MISTRAL4 || architecture === HYV3
  const method = v3 ? 'noaux_tc' : (config.topk_method ?? 'greedy')
  if (method !== 'greedy' && method !== 'group_limited_greedy' && method !== 'noaux_tc') {
    throw new ModelLoadError(`${source}: topk_method ${quotedValue(method)} is not supported for ${architecture} (greedy, group_limited_greedy).`)
  }
  if (!v3 && method === 'noaux_tc') throw new ModelLoadError(`${source}: topk_method "noaux_tc" is DeepSeek-V3's routing; ${architecture} runs greedy or group_limited_greedy.`)
  const grouped = method !== 'greedy'
  const groups = grouped ? positiveInteger(config, 'n_group', glm ? 1 : 8, source) : 1
  const topkGroups = grouped ? positiveInteger(config, 'topk_group', glm ? 1 : 4, source) : 1
  if (numExperts % groups !== 0 || topkGroups > groups) throw new ModelLoadError(`${source}: n_group ${groups} must divide the ${numExperts} experts and be at least topk_group ${topkGroups}.`)
  if (v3 && groups > 1 && numExperts / groups < 2) throw new ModelLoadError(`${source}: ${architecture} ranks a group by its best two experts; ${numExperts} experts in ${groups} groups leave one per group.`)
  if ((numExperts / groups) * topkGroups < topK) throw new ModelLoadError(`${source}: topk_group ${topkGroups} of ${groups} groups hold fewer than num_experts_per_tok ${topK} experts.`)
  const factor = config.routed_scaling_factor ?? {[DEEPSEEK_V3]: 2.5, [AXK1]: 2.5, [GLM4_MOE_LITE]: 1.8, [EXAONE_MOE]: 2.5}[architecture] ?? 1
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0) throw new ModelLoadError(`${source}: "routed_scaling_factor" must be a positive number, got ${quotedValue(factor)}.`)
  const sigmoid = v3 && architecture !== MISTRAL4
  return {groups, topkGroups, sigmoid, groupTop2: v3, routerBias: sigmoid, routedScalingFactor: factor}
}

/** Dense until first_k_dense_replace, then every moe_layer_freq-th layer sparse (DeepSeek's own rule; every released model has freq 1). */
export function deepseekSparseLayers(config: Json, numLayers: number, architecture: string, source: string): boolean[] {
  const dense = config.first_k_dense_replace ?? {[DEEPSEEK_V3]: 3, [GLM4_MOE]: 1, [AXK1]: 1}[architecture] ?? 0
  if (typeof dense !== 'number' || !Number.isInteger(dense) || dense < 0) throw new ModelLoadError(`${source}: "first_k_dense_replace" must be a non-negative integer, got ${quotedValue(dense)}.`)
  if (architecture === GLM4_MOE_LITE || architecture === EXAONE_MOE || architecture === KIMI_LINEAR || architecture === HYV3) return liteSparseLayers(config, numLayers, source)
  const freq = positiveInteger(config, 'moe_layer_freq', 1, source)
  return Array.from({length: numLayers}, (_, layer) => layer >= dense && layer % freq === 0)
}

/** Glm4MoeLiteConfig's (and HYV3Config's) mlp_layer_types ("dense" / "sparse" per layer), by default dense first and sparse after. */
function liteSparseLayers(config: Json, numLayers: number, source: string): boolean[] {
  const types = config.mlp_layer_types ?? ['dense', ...Array<string>(numLayers - 1).fill('sparse')]
  if (!Array.isArray(types) || types.length !== numLayers || types.some((t) => t !== 'dense' && t !== 'sparse')) {
    throw new ModelLoadError(`${source}: "mlp_layer_types" must list "dense" or "sparse" for each of the ${numLayers} layers.`)
  }
  return types.map((t) => t === 'sparse')
}

/** n_shared_experts always-on experts as one ungated MLP of n_shared_experts * moe_intermediate_size (0: none). */
export function deepseekSharedSize(config: Json, architecture: string, expertWidth: number, source: string): number {
  const count = config.n_shared_experts ?? (architecture === DEEPSEEK_V2 ? 2 : 1)
  if (count === null || count === 0) return 0
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) throw new ModelLoadError(`${source}: "n_shared_experts" must be a non-negative integer, got ${quotedValue(count)}.`)
  return count * expertWidth
}

/** The attention tensors latent attention has in place of q/k/v (engine names, [out, in]), and V3's router bias. */
export function deepseekTensorShapes(config: {mla?: MlaConfig; numHeads: number; headDim: number; hiddenSize: number; rotaryDim?: number; moe?: {numExperts: number; grouped?: GroupedRouting; ernieStatics?: true}}, shapes: {name: string; shape: number[]}[]): {name: string; shape: number[]}[] {
  const mla = config.mla
  if (!mla && !config.moe?.grouped?.routerBias) return shapes
  const {numHeads: heads, headDim, hiddenSize: hidden} = config
  const rope = config.rotaryDim ?? headDim
  return shapes.flatMap(({name, shape}) => {
    const prefix = name.replace(/(self_attn|mlp)\.[^.]+\.weight$/, '')
    if (name.endsWith('.mlp.gate.weight') && config.moe?.grouped?.routerBias) return [{name, shape}, {name: `${prefix}mlp.gate.e_score_correction_bias`, shape: config.moe.ernieStatics ? [1, config.moe.numExperts] : [config.moe.numExperts]}]
    if (!mla) return [{name, shape}]
    if (name.endsWith('.self_attn.q_proj.weight') && mla.qLoraRank > 0) {
      return [{name: `${prefix}self_attn.q_a_proj.weight`, shape: [mla.qLoraRank, hidden]}, {name: `${prefix}self_attn.q_a_layernorm.weight`, shape: [mla.qLoraRank]},
        {name: `${prefix}self_attn.q_b_proj.weight`, shape: [heads * headDim, mla.qLoraRank]}]
    }
    if (name.endsWith('.self_attn.k_proj.weight')) {
      const kvB = mla.kvBApart
        ? Array.from({length: heads}, (_, h) => [{name: `${prefix}self_attn.k_b_proj.${h}.weight`, shape: [headDim - rope, mla.kvLoraRank]}, {name: `${prefix}self_attn.v_b_proj.${h}.weight`, shape: [mla.vHeadDim, mla.kvLoraRank]}]).flat()
        : [{name: `${prefix}self_attn.kv_b_proj.weight`, shape: [heads * (headDim - rope + mla.vHeadDim), mla.kvLoraRank]}]
      return [{name: `${prefix}self_attn.kv_a_proj_with_mqa.weight`, shape: [mla.kvLoraRank + rope, hidden]}, {name: `${prefix}self_attn.kv_a_layernorm.weight`, shape: [mla.kvLoraRank]}, ...kvB]
    }
    if (name.endsWith('.self_attn.v_proj.weight')) return []
    if (name.endsWith('.self_attn.o_proj.weight')) return [{name, shape: [hidden, heads * mla.vHeadDim]}]
    return [{name, shape}]
  })
}

/** The native loader reads V3's router bias as a one-row matrix (moe.cpp); the bytes are the same (ERNIE's is one already). */
export function deepseekTensors<T extends {name: string; shape: number[]}>(tensors: T[]): T[] {
  return tensors.map((t) => (t.name.endsWith('.mlp.gate.e_score_correction_bias') && t.shape.length === 1 ? {...t, shape: [1, ...t.shape]} : t))
}
