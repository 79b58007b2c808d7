// Mixture-of-experts settings (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, GraniteMoE, GraniteMoeShared, PhiMoE, DeepSeek V2/V3, Llama 4) read from config.json, and the tensors their sparse MLPs need.
import {ModelLoadError, quotedValue} from '../errors.js'
import {phimoeRouting} from './phimoe-config.js'
import {llama4SparseLayers} from './llama4-config.js'
import {gptOssMoeTensorShapes} from './gpt-oss.js'
import {minimaxM2Moe} from './minimax-m2-config.js'
import {lfm2MoeRouting} from './lfm2-config.js'
import {cohere2MoeExperts} from './cohere2-moe-config.js'
import {afmoeExperts} from './afmoe-config.js'
import {SOLAR_OPEN} from './solar-open-config.js'
import {EXAONE_MOE} from './exaone-moe-config.js'
import {jambaSparseLayers} from './mamba1-config.js'
import {ernie45MoeCheckpointName, ernie45MoeEngineName, ernie45MoeRouting, ernie45MoeSharedSize, ernie45MoeSparseLayers} from './ernie45-moe-config.js'
import {KIMI_LINEAR} from './kimi-linear-config.js'
import {MISTRAL4} from './mistral4-config.js'
import {HYV3} from './hy-v3-config.js'
import {mellumSparseLayers} from './mellum-config.js'
import {ariaSharedSize} from './aria-config.js'
import {AXK1, DEEPSEEK_V2, DEEPSEEK_V3, DOTS1, GLM4_MOE, GLM4_MOE_LITE, deepseekRouting, deepseekSharedSize, deepseekSparseLayers, type GroupedRouting} from './deepseek-config.js'
import {switchOn} from './config-switch.js'

export type MoeFamily = 'mixtral' | 'qwen2_moe' | 'qwen3_moe' | 'olmoe' | 'granitemoe' | 'granitemoeshared' | 'phimoe' | 'gpt_oss' | 'deepseek_v2' | 'deepseek_v3' | 'glm4_moe' | 'glm4_moe_lite' | 'qwen3_5_moe' | 'qwen3_next' | 'llama4' | 'ernie4_5_moe' | 'dots1' | 'minimax_m2' | 'flex_olmo' | 'solar_open' | 'hunyuan_v1_moe' | 'exaone_moe' | 'jamba' | 'lfm2_moe' | 'dbrx' | 'cohere2_moe' | 'afmoe' | 'kimi_linear' | 'mistral4' | 'hy_v3' | 'mellum' | 'aria_text' | 'axk1'

export interface MoeConfig {
  numExperts: number
  /** Experts each token is routed to (top-k of the router's softmax). */
  numExpertsPerToken: number
  /** The k routing weights are divided by their sum (Mixtral always; Qwen: norm_topk_prob). */
  normTopkProb: boolean
  /** Each routed expert's gated-MLP width (Mixtral: intermediate_size; Qwen: moe_intermediate_size). */
  expertIntermediateSize: number
  /** Qwen2-MoE's shared expert, scaled by sigmoid(shared_expert_gate x); 0: none. */
  sharedExpertIntermediateSize: number
  /** GraniteMoeShared: the shared expert's output is added as is (no shared_expert_gate). */
  ungatedSharedExpert?: boolean
  /** Cohere2-MoE's "average": the routed and shared outputs' sum is halved (CPU only). */
  sharedExpertAverage?: true
  /** Per layer: true when its MLP is sparse (Qwen: decoder_sparse_step and mlp_only_layers; the others are dense). */
  sparseLayers: boolean[]
  /** Mixtral's checkpoint names (block_sparse_moe.gate, experts.E.w1/w3/w2), renamed at load to the ones the backends read. */
  mixtralNames: boolean
  /** PhiMoE: sparsemixer routing (two experts, each weighted by a softmax masked at 2 x this relative distance) in place of softmax top-k. */
  sparsemixerJitterEps?: number
  /** GPT-OSS: router and expert biases, each expert's gate/up fused, its clamped SwiGLU (gpt-oss.ts, moe.cpp). */
  gptOssExperts?: boolean
  /** GPT-OSS from a GGUF file: each expert's gate and up apart (gate_proj, up_proj and their biases), not fused. */
  gptOssGateUpApart?: boolean
  /** DeepSeek: grouped top-k routing (deepseek-config.ts) in place of softmax top-k. */
  grouped?: GroupedRouting
  /** Llama 4: sigmoid(top-k router logits) scale each chosen expert's input, outputs added unweighted. */
  inputScaledExperts?: boolean
  /** Llama 4, Qwen3-VL-MoE, Mistral Small 4: each layer's experts stored fused (Mistral Small 4's untransposed), split per expert at load with gate and up kept fused (llama4-tensors.ts). */
  fusedExperts?: true
  /** A.X K1: an RMSNorm (post_mlp_layernorm) on the sparse layers' output (routed plus shared), before the residual add. */
  postMlpNorm?: true
  /** ERNIE 4.5: the router's correction bias is stored as mlp.moe_statics.e_score_correction_bias, [1, experts]. */
  ernieStatics?: true
  /** Nemotron-H: each expert and the shared expert is down(act(up(x))), no gate_proj (nemotron-h-config.ts). */
  ungatedExperts?: true
  /** Nemotron-H's latent MoE (moe_latent_size): the experts run this wide, between mlp.fc1_latent_proj and mlp.fc2_latent_proj. */
  latentSize?: number
}

type Json = Record<string, unknown>

/** transformers 5.18's defaults of each config class (MixtralConfig, Qwen2MoeConfig, Qwen3MoeConfig). */
const DEFAULTS: Record<MoeFamily, {experts: number; topK: number; moeIntermediate: number | null; shared: number; normTopk: boolean}> = {
  mixtral: {experts: 8, topK: 2, moeIntermediate: null, shared: 0, normTopk: true},
  qwen2_moe: {experts: 60, topK: 4, moeIntermediate: 1408, shared: 5632, normTopk: false},
  qwen3_moe: {experts: 128, topK: 8, moeIntermediate: 768, shared: 0, normTopk: false},
  // OlmoeConfig: experts as wide as intermediate_size, every layer sparse.
  olmoe: {experts: 64, topK: 8, moeIntermediate: null, shared: 0, normTopk: false},
  // GraniteMoeConfig: a softmax over the top-k router logits, the same weights as Mixtral's renormalised top-k.
  granitemoe: {experts: 8, topK: 2, moeIntermediate: null, shared: 0, normTopk: true},
  // GraniteMoeSharedConfig: GraniteMoE's, plus an ungated shared expert shared_intermediate_size wide (0: none).
  granitemoeshared: {experts: 8, topK: 2, moeIntermediate: null, shared: 0, normTopk: true},
  // PhimoeConfig: Mixtral's layout, 16 experts, routed by sparsemixer (phimoe-config.ts).
  phimoe: {experts: 16, topK: 2, moeIntermediate: null, shared: 0, normTopk: false},
  // GptOssConfig: 128 experts as wide as intermediate_size, a softmax over the top-4 router logits (= renormalised top-k).
  gpt_oss: {experts: 128, topK: 4, moeIntermediate: null, shared: 0, normTopk: true},
  // DeepseekV2Config / DeepseekV3Config (n_routed_experts, read as num_experts: deepseek-config.ts); V2's router never renormalises.
  deepseek_v2: {experts: 64, topK: 6, moeIntermediate: 1407, shared: 0, normTopk: false},
  deepseek_v3: {experts: 256, topK: 8, moeIntermediate: 2048, shared: 0, normTopk: true},
  glm4_moe: {experts: 128, topK: 8, moeIntermediate: 1408, shared: 0, normTopk: true},
  glm4_moe_lite: {experts: 64, topK: 4, moeIntermediate: 1536, shared: 0, normTopk: true},
  // Qwen3_5MoeTextConfig: Qwen2-MoE's gated shared expert; its router always renormalises the top-k.
  qwen3_5_moe: {experts: 256, topK: 8, moeIntermediate: 512, shared: 512, normTopk: true},
  // Qwen3NextConfig: Qwen2-MoE's layout (gated shared expert, decoder_sparse_step, mlp_only_layers), norm_topk_prob true.
  qwen3_next: {experts: 512, topK: 10, moeIntermediate: 512, shared: 512, normTopk: true},
  // Llama4TextConfig: its intermediate_size, read here as moe_intermediate_size (llama4-config.ts), sizes the experts and the shared expert.
  llama4: {experts: 16, topK: 1, moeIntermediate: 8192, shared: 0, normTopk: false},
  // Ernie4_5_MoeConfig (moe_num_experts, moe_k: ernie45-moe-config.ts): always renormalised; shared experts apart.
  ernie4_5_moe: {experts: 64, topK: 6, moeIntermediate: 1536, shared: 0, normTopk: true},
  // Dots1Config: DeepSeek-V3's routing (no default expert count: dots1-config.ts requires it), norm_topk_prob false.
  dots1: {experts: 1, topK: 1, moeIntermediate: 1408, shared: 0, normTopk: false},
  // MiniMaxM2Config: 256 experts as wide as intermediate_size, top-8 (minimax-m2-config.ts routes them).
  minimax_m2: {experts: 256, topK: 8, moeIntermediate: null, shared: 0, normTopk: true},
  // FlexOlmoConfig: OLMoE's sparse MLPs, 7 experts top-5.
  flex_olmo: {experts: 7, topK: 5, moeIntermediate: null, shared: 0, normTopk: false},
  // SolarOpenConfig: GLM-4-MoE's block in every layer (solar-open-config.ts).
  solar_open: {experts: 128, topK: 8, moeIntermediate: 1280, shared: 0, normTopk: true},
  // HunYuanMoEV1Config (hunyuan-moe-config.ts): experts and the ungated shared MLP as wide as intermediate_size, top-k renormalised.
  hunyuan_v1_moe: {experts: 1, topK: 1, moeIntermediate: null, shared: 0, normTopk: true},
  // ExaoneMoeConfig: 64 experts top-8 of 1024, renormalised, scaled by 2.5 (exaone-moe-config.ts).
  exaone_moe: {experts: 64, topK: 8, moeIntermediate: 1024, shared: 0, normTopk: true},
  // Lfm2MoeConfig: 32 experts top-4 of 1792, sigmoid routing with an expert bias (lfm2-config.ts).
  lfm2_moe: {experts: 32, topK: 4, moeIntermediate: 1792, shared: 0, normTopk: true},
  // JambaConfig: softmax over the experts, top-2 kept without renormalising; sparse every expert_layer_period-th layer.
  jamba: {experts: 16, topK: 2, moeIntermediate: null, shared: 0, normTopk: false},
  // DbrxFFNConfig (read by dbrx-config.ts): 4 experts top-1 as wide as ffn_hidden_size, renormalised (moe_normalize_expert_weights 1).
  dbrx: {experts: 4, topK: 1, moeIntermediate: null, shared: 0, normTopk: true},
  // Cohere2MoeConfig: 8 experts top-2 as wide as intermediate_size (read as moe_intermediate_size: cohere2-moe-config.ts).
  cohere2_moe: {experts: 8, topK: 2, moeIntermediate: 22528, shared: 0, normTopk: true},
  // AfmoeConfig: 64 experts top-6 of 1408, always renormalised; the shared MLP apart (afmoe-config.ts).
  afmoe: {experts: 64, topK: 6, moeIntermediate: 1408, shared: 0, normTopk: true},
  // KimiLinearConfig: DeepSeek-V3's routing and shared experts under its own key names (kimi-linear-config.ts).
  kimi_linear: {experts: 256, topK: 8, moeIntermediate: 1024, shared: 0, normTopk: true},
  // Mistral4Config: DeepSeek-V3's block under its own defaults (n_routed_experts 128 top-4, one shared expert: mistral4-config.ts).
  mistral4: {experts: 128, topK: 4, moeIntermediate: 2048, shared: 0, normTopk: true},
  // HYV3Config: 192 experts top-8 of 1536, always renormalised; the shared MLP num_shared_experts wide (hy-v3-config.ts).
  hy_v3: {experts: 192, topK: 8, moeIntermediate: 1536, shared: 0, normTopk: true},
  // MellumConfig: Qwen3-MoE's experts (64 top-8 of 896, renormalised) on the layers mlp_layer_types marks sparse (mellum-config.ts).
  mellum: {experts: 64, topK: 8, moeIntermediate: 896, shared: 0, normTopk: true},
  // AriaTextConfig (moe_num_experts, moe_topk: aria-config.ts): experts as wide as intermediate_size, a softmax over the top-k logits.
  aria_text: {experts: 8, topK: 2, moeIntermediate: null, shared: 0, normTopk: true},
  // AXK1Config: DeepSeek-V3's block with 192 experts (and a norm on the sparse output: postMlpNorm).
  axk1: {experts: 192, topK: 8, moeIntermediate: 2048, shared: 0, normTopk: true},
}

/** A real checkpoint's expert count stays far below this; a hostile config.json must not make us list millions of tensors. */
const MAX_EXPERTS = 4096

export function parseMoeConfig(config: Json, family: MoeFamily, numLayers: number, intermediateSize: number, source: string): MoeConfig {
  const defaults = DEFAULTS[family]
  const positive = (key: string, fallback: number): number => {
    const value = config[key] ?? fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new ModelLoadError(`${source}: "${key}" must be a positive integer, got ${quotedValue(value)}.`)
    return value
  }
  // transformers maps num_experts and num_local_experts to one attribute; checkpoints write either.
  if (config.num_experts != null && config.num_local_experts != null && config.num_experts !== config.num_local_experts) {
    throw new ModelLoadError(`${source}: "num_experts" (${quotedValue(config.num_experts)}) and "num_local_experts" (${quotedValue(config.num_local_experts)}) disagree.`)
  }
  const numExperts = positive(config.num_local_experts != null ? 'num_local_experts' : 'num_experts', defaults.experts)
  if (numExperts > MAX_EXPERTS) throw new ModelLoadError(`${source}: ${numExperts} experts is more than the ${MAX_EXPERTS} supported.`)
  const numExpertsPerToken = positive('num_experts_per_tok', defaults.topK)
  if (numExpertsPerToken > numExperts) throw new ModelLoadError(`${source}: num_experts_per_tok ${numExpertsPerToken} exceeds the ${numExperts} experts.`)
  const normTopk = config.norm_topk_prob ?? defaults.normTopk
  if (typeof normTopk !== 'boolean') throw new ModelLoadError(`${source}: "norm_topk_prob" must be a boolean.`)
  const expertIntermediateSize = defaults.moeIntermediate === null ? intermediateSize : positive('moe_intermediate_size', defaults.moeIntermediate)
  // GLM-4-MoE routes and shares experts as DeepSeek-V3 does.
  const deepseek = ({deepseek_v2: DEEPSEEK_V2, deepseek_v3: DEEPSEEK_V3, glm4_moe: GLM4_MOE, glm4_moe_lite: GLM4_MOE_LITE, dots1: DOTS1, solar_open: SOLAR_OPEN, exaone_moe: EXAONE_MOE, kimi_linear: KIMI_LINEAR, mistral4: MISTRAL4, hy_v3: HYV3, axk1: AXK1} as Partial<Record<MoeFamily, string>>)[family] ?? null
  const shared = family === 'qwen2_moe' || family === 'qwen3_5_moe' || family === 'qwen3_next' ? positive('shared_expert_intermediate_size', defaults.shared) : family === 'granitemoeshared' ? graniteSharedSize(config, source)
    : deepseek ? deepseekSharedSize(config, deepseek, expertIntermediateSize, source) : family === 'hunyuan_v1_moe' ? intermediateSize : family === 'ernie4_5_moe' ? ernie45MoeSharedSize(config, expertIntermediateSize, source)
    : family === 'aria_text' ? ariaSharedSize(config, intermediateSize, source) : 0
  // Qwen2MoeConfig derives its sliding layers otherwise than Qwen2Config (every other layer below max_window_layers);
  // the layer_types it writes are read as for Qwen2, but without them the Qwen2 rule would pick the wrong layers.
  if (family === 'qwen2_moe' && switchOn(config, 'use_sliding_window', source) && config.layer_types == null) {
    throw new ModelLoadError(`${source}: use_sliding_window without "layer_types" is not supported for Qwen2-MoE (its sliding layers alternate).`)
  }
  const granite = family === 'granitemoe' || family === 'granitemoeshared'
  // Llama 4: an ungated shared expert as wide as the routed ones on every sparse layer; the router never renormalises.
  if (family === 'llama4') {
    return {numExperts, numExpertsPerToken, normTopkProb: false, expertIntermediateSize, sharedExpertIntermediateSize: expertIntermediateSize, ungatedSharedExpert: true,
      sparseLayers: llama4SparseLayers(config, numLayers, source), mixtralNames: false, inputScaledExperts: true, fusedExperts: true}
  }
  if (family === 'afmoe') {
    const {shared: width, ...routing} = afmoeExperts(config, numLayers, expertIntermediateSize, source)
    return {numExperts, numExpertsPerToken, normTopkProb: true, expertIntermediateSize, sharedExpertIntermediateSize: width, ...(width > 0 ? {ungatedSharedExpert: true} : {}), mixtralNames: false, ...routing}
  }
  if (family === 'cohere2_moe') {
    const {shared: width, ...routing} = cohere2MoeExperts(config, numLayers, expertIntermediateSize, source)
    return {numExperts, numExpertsPerToken, expertIntermediateSize, sharedExpertIntermediateSize: width, ...(width > 0 ? {ungatedSharedExpert: true} : {}), mixtralNames: false, ...routing}
  }
  return {
    numExperts,
    numExpertsPerToken,
    normTopkProb: family === 'mixtral' || family === 'aria_text' || family === 'gpt_oss' || family === 'hunyuan_v1_moe' || family === 'qwen3_5_moe' || granite || (family !== 'deepseek_v2' && family !== 'jamba' && normTopk),
    expertIntermediateSize,
    sharedExpertIntermediateSize: shared,
    sparseLayers: family === 'mixtral' || family === 'aria_text' || family === 'olmoe' || family === 'flex_olmo' || family === 'hunyuan_v1_moe' || family === 'phimoe' || family === 'gpt_oss' || family === 'dbrx' || granite ? Array<boolean>(numLayers).fill(true)
      : deepseek ? deepseekSparseLayers(config, numLayers, deepseek, source) : family === 'jamba' ? jambaSparseLayers(config, numLayers, source) : family === 'ernie4_5_moe' ? ernie45MoeSparseLayers(config, numLayers, source) : family === 'mellum' ? mellumSparseLayers(config, numLayers, source) : qwenSparseLayers(config, numLayers, source),
    mixtralNames: family === 'mixtral' || family === 'phimoe',
    ...((family === 'granitemoeshared' || deepseek || family === 'ernie4_5_moe' || family === 'hunyuan_v1_moe' || family === 'aria_text') && shared > 0 ? {ungatedSharedExpert: true} : {}),
    ...(family === 'ernie4_5_moe' ? {grouped: ernie45MoeRouting(config, source), ernieStatics: true} : {}),
    ...(deepseek ? {grouped: deepseekRouting(config, deepseek, numExperts, numExpertsPerToken, source)} : {}),
    ...(family === 'phimoe' ? phimoeRouting(config, numExperts, numExpertsPerToken, source) : {}),
    ...(family === 'gpt_oss' ? {gptOssExperts: true} : {}),
    ...(family === 'minimax_m2' ? minimaxM2Moe(numLayers) : {}),
    ...(family === 'lfm2_moe' ? lfm2MoeRouting(config, numLayers, source) : {}),
    ...(family === 'mistral4' || family === 'aria_text' ? {fusedExperts: true as const} : {}),
    ...(family === 'axk1' ? {postMlpNorm: true as const} : {}),
  }
}

/** GraniteMoeSharedConfig's shared_intermediate_size: 0 (its default) for no shared expert. */
function graniteSharedSize(config: Json, source: string): number {
  const value = config.shared_intermediate_size ?? 0
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1) {
    throw new ModelLoadError(`${source}: "shared_intermediate_size" must be a non-negative integer, got ${quotedValue(value)}.`)
  }
  return value
}

/** As Qwen2MoeDecoderLayer / Qwen3MoeDecoderLayer: sparse unless listed in mlp_only_layers, every decoder_sparse_step-th layer. */
function qwenSparseLayers(config: Json, numLayers: number, source: string): boolean[] {
  const step = config.decoder_sparse_step ?? 1
  if (typeof step !== 'number' || !Number.isInteger(step) || step <= 0) throw new ModelLoadError(`${source}: "decoder_sparse_step" must be a positive integer, got ${quotedValue(step)}.`)
  const denseOnly = config.mlp_only_layers ?? []
  if (!Array.isArray(denseOnly) || denseOnly.some((l) => typeof l !== 'number' || !Number.isInteger(l))) {
    throw new ModelLoadError(`${source}: "mlp_only_layers" must be a list of layer indices.`)
  }
  return Array.from({length: numLayers}, (_, layer) => !denseOnly.includes(layer) && (layer + 1) % step === 0)
}

/** The checkpoint's name of an engine tensor name: Mixtral's (below), DeepSeek's shared_experts, else the name itself. */
export function moeCheckpointName(moe: MoeConfig | undefined, name: string): string {
  if (moe?.mixtralNames) return mixtralCheckpointName(name)
  if (moe?.ernieStatics) name = ernie45MoeCheckpointName(name)
  return moe?.grouped ? name.replace('.mlp.shared_expert.', '.mlp.shared_experts.') : name
}

/** The engine name of a checkpoint tensor (moeCheckpointName's inverse). */
export function moeEngineName(moe: MoeConfig | undefined, name: string): string {
  if (moe?.mixtralNames) return mixtralEngineName(name)
  if (moe?.ernieStatics) name = ernie45MoeEngineName(name)
  // K-EXAONE's checkpoints keep the router's correction bias beside the router (transformers renames it so too); AFMoE's is its expert_bias.
  return moe?.grouped ? name.replace('.mlp.shared_experts.', '.mlp.shared_expert.').replace(/\.mlp\.(e_score_correction|expert)_bias$/, '.mlp.gate.e_score_correction_bias') : name
}

/** Mixtral's checkpoint name of an engine tensor name (the Qwen layout), or the name itself. */
export function mixtralCheckpointName(name: string): string {
  return name
    .replace(/\.mlp\.gate\.weight$/, '.block_sparse_moe.gate.weight')
    .replace(/\.mlp\.gate\.e_score_correction_bias$/, '.block_sparse_moe.e_score_correction_bias') // MiniMax-M2's
    .replace(/\.mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$/, (_, e: string, part: string) => `.block_sparse_moe.experts.${e}.${{gate: 'w1', up: 'w3', down: 'w2'}[part]}.weight`)
}

/** The engine name of a Mixtral checkpoint tensor (w1 gate, w3 up, w2 down), or the name itself. */
export function mixtralEngineName(name: string): string {
  return name
    .replace(/\.block_sparse_moe\.gate\.weight$/, '.mlp.gate.weight')
    .replace(/\.block_sparse_moe\.e_score_correction_bias$/, '.mlp.gate.e_score_correction_bias')
    .replace(/\.block_sparse_moe\.experts\.(\d+)\.(w1|w2|w3)\.weight$/, (_, e: string, w: string) => `.mlp.experts.${e}.${{w1: 'gate', w3: 'up', w2: 'down'}[w]}_proj.weight`)
}

/** A sparse layer's MLP tensors (engine names, [out, in]): router, each expert's gate/up/down, Qwen2-MoE's shared expert. */
export function moeLayerTensorShapes(moe: MoeConfig, prefix: string, hidden: number): {name: string; shape: number[]}[] {
  const inter = moe.expertIntermediateSize
  if (moe.gptOssExperts) return gptOssMoeTensorShapes(moe.numExperts, inter, prefix, hidden, moe.gptOssGateUpApart === true)
  if (moe.ungatedExperts) {
    const {ungatedExperts: _, ...gated} = moe
    const latent = moe.latentSize
    const shapes = moeLayerTensorShapes(gated, prefix, hidden).filter(({name}) => !/\.mlp\.(experts\.\d+|shared_expert)\.gate_proj\.weight$/.test(name))
    if (latent === undefined) return shapes
    // The experts read and write the latent width.
    return [
      ...shapes.map(({name, shape}) => /\.mlp\.experts\.\d+\.up_proj\.weight$/.test(name) ? {name, shape: [shape[0]!, latent]} : /\.mlp\.experts\.\d+\.down_proj\.weight$/.test(name) ? {name, shape: [latent, shape[1]!]} : {name, shape}),
      {name: `${prefix}.mlp.fc1_latent_proj.weight`, shape: [latent, hidden]}, {name: `${prefix}.mlp.fc2_latent_proj.weight`, shape: [hidden, latent]},
    ]
  }
  const shapes = [{name: `${prefix}.mlp.gate.weight`, shape: [moe.numExperts, hidden]}]
  for (let e = 0; e < moe.numExperts; e++) {
    // Llama 4's and Qwen3-VL-MoE's experts keep gate and up fused (gate rows, then up rows).
    shapes.push(
      ...(moe.fusedExperts ? [{name: `${prefix}.mlp.experts.${e}.gate_up_proj.weight`, shape: [2 * inter, hidden]}]
        : [{name: `${prefix}.mlp.experts.${e}.gate_proj.weight`, shape: [inter, hidden]}, {name: `${prefix}.mlp.experts.${e}.up_proj.weight`, shape: [inter, hidden]}]),
      {name: `${prefix}.mlp.experts.${e}.down_proj.weight`, shape: [hidden, inter]},
    )
  }
  const shared = moe.sharedExpertIntermediateSize
  if (shared > 0) {
    shapes.push(
      {name: `${prefix}.mlp.shared_expert.gate_proj.weight`, shape: [shared, hidden]},
      {name: `${prefix}.mlp.shared_expert.up_proj.weight`, shape: [shared, hidden]},
      {name: `${prefix}.mlp.shared_expert.down_proj.weight`, shape: [hidden, shared]},
    )
    if (!moe.ungatedSharedExpert) shapes.push({name: `${prefix}.mlp.shared_expert_gate.weight`, shape: [1, hidden]})
  }
  return shapes
}
