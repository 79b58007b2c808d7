// Granite (and GraniteMoE, GraniteMoeShared), OLMo2 (and OLMo 3), SmolLM3, Cohere (and Cohere2), OLMo, OLMoE, PhiMoE, EXAONE 4, Arcee, Nemotron and
// Hunyuan dense: the Llama-layout architectures with a twist each, read as transformers 5.18's config classes read them.
import {ModelLoadError, quotedValue} from '../errors.js'
import type {TensorInfo} from './safetensors.js'
import {COHERE2, cohere2RopeLayers, cohere2View} from './cohere2-config.js'
import {OLMO3} from './olmo3-config.js'
import {EXAONE4, exaone4RopeLayers, exaone4View} from './exaone4-config.js'
import {EXAONE_MOE, exaoneMoeView} from './exaone-moe-config.js'
import {isRelu2Family, nemotronNorms, relu2View} from './relu2-families.js'
import {HUNYUAN_DENSE, hunyuanView} from './hunyuan-config.js'
import {HUNYUAN_MOE, hunyuanMoeView} from './hunyuan-moe-config.js'
import {PHIMOE_ARCHITECTURES, isPhimoe, phimoeHeadBias, phimoeView} from './phimoe-config.js'
import {GRANITE_HYBRID, graniteHybridRopeLayers} from './mamba2-config.js'
import {NEMOTRON_H, nemotronHRopeLayers} from './nemotron-h-config.js'
import {FALCON_H1, falconH1Scales} from './falcon-h1-config.js'
import {APERTUS} from './apertus-config.js'
import {BITNET} from './bitnet-config.js'
import {NANOCHAT} from './nanochat-config.js'
import {DIFFLLAMA} from './diffllama-config.js'
import {DBRX, dbrxView} from './dbrx-config.js'
import {COHERE2_MOE, cohere2MoeRopeLayers, cohere2MoeView} from './cohere2-moe-config.js'
import {AFMOE, afmoeAttention, afmoeView} from './afmoe-config.js'
import {rowWindows} from './fused-tensors.js'
import {switchOn} from './config-switch.js'
import {HYPERCLOVAX, hyperclovaxView} from './hyperclovax-config.js'
import {GRANITE_MOE_SWA} from './granite-swa-config.js'

/** What sets Granite, OLMo2 or SmolLM3 apart from Llama; ModelConfig.rmsVariant holds it (native/cpu/rms_variants.h runs it). */
export interface RmsVariantFeatures {
  /** Granite: each attention and MLP output is multiplied by it before its residual add (1: none). */
  residualMultiplier: number
  /** Granite: logits times it, 1 / logits_scaling; Cohere: logit_scale (1: none). */
  logitsMultiplier: number
  /** OLMo2: no input_layernorm; post_attention_layernorm and post_feedforward_layernorm normalise the sublayer outputs. */
  postNormsOnly: boolean
  /** OLMo2: q_norm and k_norm (qkNorm) normalise the whole q and k projections, not each head. */
  wholeQkNorm: boolean
  /** SmolLM3: per layer, whether it rotates q and k (its no_rope_layers); absent: every layer does. */
  ropeLayers?: boolean[]
  /** Cohere: LayerNorm without bias (mean-subtracting, weight only) in place of RMSNorm; rmsNormEps holds layer_norm_eps. */
  normMean: boolean
  /** Cohere: x + attention(norm(x)) + mlp(norm(x)) with the one input_layernorm (no post_attention_layernorm). */
  parallelBlock: boolean
  /** OLMo: false for its LayerNorms without weights (no norm tensors in the checkpoint). */
  normAffine: boolean
  /** OLMo, OLMoE: q, k and v clamped to [-clipQkv, clipQkv] after their projections; 0: none. */
  clipQkv: number
  /** Cohere's use_qk_norm (qkNorm on): q_norm / k_norm are LayerNorms without bias of each head, each head its own [head_dim] weights. */
  headMeanQkNorm?: true
  /** PhiMoE: its LayerNorms (normMean) have biases (input_layernorm, post_attention_layernorm, model.norm). */
  normBias?: true
  /** PhiMoE's lm_head_bias: lm_head.bias is added to the logits. */
  headBias?: true
  /** Nemotron, Arcee, Jais 2, Apertus: the MLP is down(act(up(x))), no gate_proj (relu2-families.ts, apertus-config.ts). */
  ungatedMlp?: true
  /** HunYuan dense: the per-head q/k norms (qkNorm) normalise q and k after rope, not before (hunyuan-config.ts). */
  qkNormAfterRope?: true
  /** BitNet: RMSNorms on the attention output before o_proj (self_attn.attn_sub_norm) and on act(gate) * up before down_proj (mlp.ffn_sub_norm). */
  subNorms?: true
  /** BitNet's online AutoBitLinear: every q/k/v/o/gate/up/down weight ternarized by its absmean, their inputs int8 per token (bitnet-config.ts). */
  bitLinear?: true
  /** NanoChat: the embeddings are RMS-normed by the final norm (model.norm) before the first layer. */
  embeddingNorm?: true
  /** NanoChat: its rotate_half is (x2, -x1), a turn by -angle: the rope's sines negated. */
  reversedRope?: true
  /** DiffLlama: differential attention with each layer's lambda vectors (diffllama-config.ts). */
  diffAttention?: true
  /** AFMoE: the attention output times sigmoid(self_attn.gate_proj x), one gate per value (Qwen 3.5's output gate). */
  attentionOutputGate?: true
}

export const RMS_VARIANT_ARCHITECTURES = ['GraniteForCausalLM', 'Olmo2ForCausalLM', 'SmolLM3ForCausalLM', 'CohereForCausalLM', 'OlmoForCausalLM', 'OlmoeForCausalLM', 'GraniteMoeForCausalLM', COHERE2, OLMO3, 'GraniteMoeSharedForCausalLM', ...PHIMOE_ARCHITECTURES, EXAONE4, 'ArceeForCausalLM', 'NemotronForCausalLM', HUNYUAN_DENSE, GRANITE_HYBRID, 'FlexOlmoForCausalLM', HUNYUAN_MOE, EXAONE_MOE, 'Jais2ForCausalLM', 'GraniteSWAForCausalLM', NEMOTRON_H, FALCON_H1, APERTUS, BITNET, NANOCHAT, DIFFLLAMA, DBRX, COHERE2_MOE, AFMOE, HYPERCLOVAX, GRANITE_MOE_SWA] as const

export function isRmsVariantArchitecture(architecture: string): boolean {
  return (RMS_VARIANT_ARCHITECTURES as readonly string[]).includes(architecture)
}

type Json = Record<string, unknown>

/** The config.json with its config class's defaults where they differ from what the shared parser assumes (OLMo2's eps, SmolLM3's layer_types). */
export function rmsVariantView(config: Json, architecture: string, source: string): Json {
  if (architecture === 'Olmo2ForCausalLM' || architecture === 'OlmoeForCausalLM') return {...config, rms_norm_eps: config.rms_norm_eps ?? 1e-5}
  // OlmoLayerNorm's eps is fixed at 1e-5 (OlmoConfig has none).
  if (architecture === 'OlmoForCausalLM') return {...config, rms_norm_eps: 1e-5}
  // CohereConfig names its LayerNorm's eps layer_norm_eps; its rope base defaults to 500000 (default_theta).
  if (architecture === 'CohereForCausalLM') return {...config, rms_norm_eps: config.layer_norm_eps ?? 1e-5, rope_theta: config.rope_theta ?? 500000}
  if (architecture === COHERE2) return cohere2View(config, source)
  if (isPhimoe(architecture)) return phimoeView(config, source)
  if (architecture === EXAONE4) return exaone4View(config, source)
  if (architecture === EXAONE_MOE) return exaoneMoeView(config, source)
  if (isRelu2Family(architecture)) return relu2View(config, architecture)
  if (architecture === HUNYUAN_DENSE) return hunyuanView(config, source)
  if (architecture === HUNYUAN_MOE) return hunyuanView(hunyuanMoeView(config, source), source)
  if (architecture === DBRX) return dbrxView(config, source)
  if (architecture === COHERE2_MOE) return cohere2MoeView(config, source)
  if (architecture === AFMOE) return afmoeView(config, source)
  if (architecture === HYPERCLOVAX) return hyperclovaxView(config, source)
  if (architecture !== 'SmolLM3ForCausalLM' || config.layer_types != null) return config
  // SmolLM3Config: with use_sliding_window and a window, the layers without rope slide.
  const rope = smolLm3RopeLayers(config, source)
  const slides = switchOn(config, 'use_sliding_window', source) && config.sliding_window != null
  return {...config, layer_types: rope?.map((hasRope) => (slides && !hasRope ? 'sliding_attention' : 'full_attention'))}
}

/** The features and the two scales Granite sets (attentionScale 0: 1 / sqrt(head_dim); embeddingScale 1: none). */
export function parseRmsVariant(config: Json, architecture: string, source: string): {rmsVariant: RmsVariantFeatures; attentionScale: number; embeddingScale: number; qkNorm?: true; normWeightOffset?: number} {
  const rmsVariant: RmsVariantFeatures = {residualMultiplier: 1, logitsMultiplier: 1, postNormsOnly: false, wholeQkNorm: false, normMean: false, parallelBlock: false, normAffine: true, clipQkv: 0}
  if (architecture === 'GraniteForCausalLM' || architecture === 'GraniteMoeForCausalLM' || architecture === 'GraniteMoeSharedForCausalLM' || architecture === GRANITE_HYBRID || architecture === 'GraniteSWAForCausalLM' || architecture === GRANITE_MOE_SWA || architecture === HYPERCLOVAX) {
    // GraniteConfig defaults every multiplier to 1, the attention one included (not 1 / sqrt(head_dim); HyperCLOVAX's view sets its own).
    const multiplier = (key: string): number => {
      const value = config[key] ?? 1
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ModelLoadError(`${source}: "${key}" must be a positive number, got ${quotedValue(value)}.`)
      return value
    }
    rmsVariant.residualMultiplier = multiplier('residual_multiplier')
    // HyperCLOVAX multiplies the logits by logits_scaling where Granite divides.
    rmsVariant.logitsMultiplier = architecture === HYPERCLOVAX ? multiplier('logits_scaling') : 1 / multiplier('logits_scaling')
    const rope = architecture === GRANITE_HYBRID ? graniteHybridRopeLayers(config) : undefined
    if (rope) rmsVariant.ropeLayers = rope
    return {rmsVariant, attentionScale: multiplier('attention_multiplier'), embeddingScale: multiplier('embedding_multiplier')}
  }
  // Nemotron-H: Nemotron's ungated MLP, attention without rope.
  if (architecture === NEMOTRON_H) {
    const rope = nemotronHRopeLayers(config)
    return {rmsVariant: {...rmsVariant, ungatedMlp: true, ...(rope ? {ropeLayers: rope} : {})}, attentionScale: 0, embeddingScale: 1}
  }
  // Falcon-H1: its embedding and lm_head multipliers (those inside the layers: falcon-h1-config.ts).
  if (architecture === FALCON_H1) {
    const {embeddingScale, logitsMultiplier} = falconH1Scales(config, source)
    return {rmsVariant: {...rmsVariant, logitsMultiplier}, attentionScale: 0, embeddingScale}
  }
  // FlexOlmo: OLMo2's block over OLMoE's sparse MLPs.
  if (architecture === 'Olmo2ForCausalLM' || architecture === OLMO3 || architecture === 'FlexOlmoForCausalLM') {
    rmsVariant.postNormsOnly = true
    rmsVariant.wholeQkNorm = true
  }
  // EXAONE 4: OLMo2's post-norms with per-head q/k norms, rope on the sliding layers only (exaone4-config.ts).
  // K-EXAONE: the same attention under Llama's pre-norms (OLMoE's block).
  if (architecture === EXAONE_MOE) {
    const rope = exaone4RopeLayers(config)
    if (rope) rmsVariant.ropeLayers = rope
  }
  if (architecture === EXAONE4) {
    rmsVariant.postNormsOnly = true
    const rope = exaone4RopeLayers(config)
    if (rope) rmsVariant.ropeLayers = rope
  }
  if (architecture === HUNYUAN_DENSE || architecture === HUNYUAN_MOE) rmsVariant.qkNormAfterRope = true
  if (architecture === APERTUS) rmsVariant.ungatedMlp = true
  if (architecture === BITNET) rmsVariant.subNorms = true
  if (architecture === DIFFLLAMA) rmsVariant.diffAttention = true
  // NanoChat: weightless RMSNorms (q/k's too), the final one on the embeddings as well, q/k norms after its reversed rope.
  if (architecture === NANOCHAT) Object.assign(rmsVariant, {normAffine: false, ungatedMlp: true, qkNormAfterRope: true, embeddingNorm: true, reversedRope: true})
  if (isRelu2Family(architecture)) {
    const {normWeightOffset, ...norms} = nemotronNorms(architecture)
    Object.assign(rmsVariant, {ungatedMlp: true}, norms)
    if (normWeightOffset !== undefined) return {rmsVariant, attentionScale: 0, embeddingScale: 1, normWeightOffset}
  }
  if (architecture === 'SmolLM3ForCausalLM') {
    const rope = smolLm3RopeLayers(config, source)
    if (rope && rope.some((hasRope) => !hasRope)) rmsVariant.ropeLayers = rope
  }
  if (architecture === 'OlmoForCausalLM' || architecture === 'OlmoeForCausalLM' || architecture === DBRX) {
    const clip = config.clip_qkv ?? 0
    if (typeof clip !== 'number' || !Number.isFinite(clip) || clip < 0) throw new ModelLoadError(`${source}: "clip_qkv" must be a positive number or null, got ${quotedValue(clip)}.`)
    rmsVariant.clipQkv = clip
    // OLMo: LayerNorm without weight or bias; OLMoE: OLMo2's whole-width q/k norms under Llama's pre-norms.
    if (architecture === 'OlmoForCausalLM') Object.assign(rmsVariant, {normMean: true, normAffine: false})
    else if (architecture === DBRX) rmsVariant.normMean = true // nn.LayerNorm(bias=False)
    else rmsVariant.wholeQkNorm = true
  }
  if (architecture === AFMOE) {
    const {embeddingScale, ropeLayers} = afmoeAttention(config, source)
    return {rmsVariant: {...rmsVariant, attentionOutputGate: true, ...(ropeLayers ? {ropeLayers} : {})}, attentionScale: 0, embeddingScale}
  }
  // Cohere2-MoE: Cohere2's block, its norms LayerNorms only where the view kept layer_norm_eps (else RMSNorms).
  if (architecture === COHERE2_MOE) {
    const scale = config.logit_scale === undefined ? 0.0625 : config.logit_scale
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new ModelLoadError(`${source}: "logit_scale" must be a number, got ${quotedValue(scale)}.`)
    const rope = cohere2MoeRopeLayers(config)
    Object.assign(rmsVariant, {logitsMultiplier: scale, normMean: config.layer_norm_eps !== undefined, parallelBlock: true}, rope ? {ropeLayers: rope} : {})
  }
  if (architecture === 'CohereForCausalLM' || architecture === COHERE2) {
    const qkNorm = architecture === 'CohereForCausalLM' && switchOn(config, 'use_qk_norm', source)
    const scale = config.logit_scale === undefined ? 0.0625 : config.logit_scale
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new ModelLoadError(`${source}: "logit_scale" must be a number, got ${quotedValue(scale)}.`)
    Object.assign(rmsVariant, {logitsMultiplier: scale, normMean: true, parallelBlock: true})
    if (architecture === COHERE2) rmsVariant.ropeLayers = cohere2RopeLayers(config)
    // Command R+: per-head LayerNorms of q and k ([heads, head_dim] weights) before rope.
    if (qkNorm) return {rmsVariant: {...rmsVariant, headMeanQkNorm: true}, attentionScale: 0, embeddingScale: 1, qkNorm: true}
  }
  // PhiMoE: nn.LayerNorm with weight and bias.
  if (isPhimoe(architecture)) Object.assign(rmsVariant, {normMean: true, normBias: true}, phimoeHeadBias(config, source) ? {headBias: true} : {})
  return {rmsVariant, attentionScale: 0, embeddingScale: 1}
}

/** SmolLM3's no_rope_layers (1: rope, 0: none), by default every no_rope_layer_interval-th layer (4) without rope. */
function smolLm3RopeLayers(config: Json, source: string): boolean[] | undefined {
  const layers = config.num_hidden_layers
  if (typeof layers !== 'number' || !Number.isInteger(layers) || layers <= 0) return undefined // the shared parser names it
  const given = config.no_rope_layers
  if (given != null) {
    if (!Array.isArray(given) || given.length !== layers || given.some((v) => v !== 0 && v !== 1 && typeof v !== 'boolean')) {
      throw new ModelLoadError(`${source}: "no_rope_layers" must list 1 (rope) or 0 (no rope) for each of the ${layers} layers.`)
    }
    return given.map((v) => v === 1 || v === true)
  }
  const interval = config.no_rope_layer_interval ?? 4
  if (typeof interval !== 'number' || !Number.isInteger(interval) || interval <= 0) {
    throw new ModelLoadError(`${source}: "no_rope_layer_interval" must be a positive integer, got ${quotedValue(interval)}.`)
  }
  return Array.from({length: layers}, (_, i) => (i + 1) % interval !== 0)
}

/** The tensors these architectures hold in place of Llama's: OLMo2's post_feedforward_layernorm for input_layernorm, and whole-width q/k norms. */
export function rmsVariantTensorShapes(rmsVariant: RmsVariantFeatures, shapes: {name: string; shape: number[]}[], qSize: number, kvSize: number): {name: string; shape: number[]}[] {
  return shapes.map(({name, shape}) => {
    if (rmsVariant.postNormsOnly && name.endsWith('.input_layernorm.weight')) return {name: name.replace('.input_layernorm.', '.post_feedforward_layernorm.'), shape}
    if (rmsVariant.wholeQkNorm && name.endsWith('.self_attn.q_norm.weight')) return {name, shape: [qSize]}
    if (rmsVariant.wholeQkNorm && name.endsWith('.self_attn.k_norm.weight')) return {name, shape: [kvSize]}
    if (rmsVariant.headMeanQkNorm && name.endsWith('.self_attn.q_norm.weight')) return {name, shape: [qSize / shape[0]!, shape[0]!]}
    if (rmsVariant.headMeanQkNorm && name.endsWith('.self_attn.k_norm.weight')) return {name, shape: [kvSize / shape[0]!, shape[0]!]}
    return {name, shape}
  }).filter(({name}) => !(rmsVariant.parallelBlock && name.endsWith('.post_attention_layernorm.weight')) && (rmsVariant.normAffine || !/norm\.weight$/.test(name)) &&
    !(rmsVariant.ungatedMlp && /\.mlp\.gate_proj\.(weight|bias)$/.test(name)))
    .flatMap((tensor) => [tensor, ...phimoeBiases(rmsVariant, tensor), ...subNorms(rmsVariant, tensor), ...outputGate(rmsVariant, tensor)])
}

/** BitNet's sub-norms, each as wide as the input of the projection it precedes (o_proj's, down_proj's). */
function subNorms(rmsVariant: RmsVariantFeatures, {name, shape}: {name: string; shape: number[]}): {name: string; shape: number[]}[] {
  if (!rmsVariant.subNorms) return []
  if (name.endsWith('.self_attn.o_proj.weight')) return [{name: name.replace('o_proj.weight', 'attn_sub_norm.weight'), shape: [shape[1]!]}]
  return name.endsWith('.mlp.down_proj.weight') ? [{name: name.replace('down_proj.weight', 'ffn_sub_norm.weight'), shape: [shape[1]!]}] : []
}

/** AFMoE's output gate projection beside q_proj, as wide. */
function outputGate(rmsVariant: RmsVariantFeatures, {name, shape}: {name: string; shape: number[]}): {name: string; shape: number[]}[] {
  return rmsVariant.attentionOutputGate && name.endsWith('.self_attn.q_proj.weight') ? [{name: name.replace('.q_proj.', '.gate_proj.'), shape}] : []
}

/** PhiMoE's biases: each LayerNorm's beside its weight, lm_head's (lm_head_bias, [vocab]) beside the embedding (tied or not). */
function phimoeBiases(rmsVariant: RmsVariantFeatures, {name, shape}: {name: string; shape: number[]}): {name: string; shape: number[]}[] {
  if (rmsVariant.normBias && /norm\.weight$/.test(name)) return [{name: name.replace(/weight$/, 'bias'), shape}]
  return rmsVariant.headBias && name === 'model.embed_tokens.weight' ? [{name: 'lm_head.bias', shape: [shape[0]!]}] : []
}

/**
 * Cohere rotates interleaved pairs (2i, 2i + 1) of each q and k head; the loader reorders those rows to rotate_half's
 * (i, i + head_dim / 2), as it does llama.cpp's, so the shared rotary kernel applies. q.k is a sum over the head's
 * dimensions, which reordering both alike leaves unchanged, and v and o_proj keep their order: exact. attention_bias's
 * q/k biases are one value per row, so they are reordered the same way (a bias of [rows] is rows of one value), and so are
 * use_qk_norm's [heads, head_dim] weights, read as [heads * head_dim]: a head's LayerNorm is a mean over its values, which the
 * reorder leaves unchanged, and each value keeps its own weight.
 */
export function rmsVariantTensors(config: {rmsVariant?: RmsVariantFeatures; numHeads: number; numKvHeads: number; headDim: number}, tensors: TensorInfo[]): TensorInfo[] {
  if (config.rmsVariant?.attentionOutputGate) return gatedAttentionHeads(config, tensors)
  if (!config.rmsVariant?.parallelBlock) return tensors
  return tensors.map((t) => {
    if (/\.self_attn\.q_proj\.(weight|bias)$/.test(t.name)) return {...t, ropeInterleavedHeads: config.numHeads}
    if (/\.self_attn\.k_proj\.(weight|bias)$/.test(t.name)) return {...t, ropeInterleavedHeads: config.numKvHeads}
    if (/\.self_attn\.[qk]_norm\.weight$/.test(t.name)) return {...t, shape: [t.shape[0]! * t.shape[1]!], ropeInterleavedHeads: t.shape[0]!}
    return t
  })
}

/** AFMoE: q_proj's and gate_proj's rows cut per head into the query and gate windows the native loader stacks (hybrid-tensors.ts's names). */
function gatedAttentionHeads(config: {numHeads: number; headDim: number}, tensors: TensorInfo[]): TensorInfo[] {
  return tensors.flatMap((t) => {
    const match = /^(.+\.self_attn\.)(q|gate)_proj\.weight$/.exec(t.name)
    if (!match) return [t]
    const part = match[2] === 'q' ? 'q_query' : 'q_gate'
    return rowWindows(t, Array.from({length: config.numHeads}, (_, h): [string, number] => [`${match[1]}${part}.${h}.weight`, config.headDim]), 2)
  })
}
