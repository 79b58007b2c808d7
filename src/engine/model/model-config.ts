// Turns a Hugging Face config.json (+ generation_config.json) into the engine's ModelConfig, rejecting what we cannot run.
import {existsSync} from 'node:fs'
import {switchValue} from './config-switch.js'
import {chooseArchitecture} from './architecture-choice.js'
import {readRegularFile} from './regular-file.js'
import {join} from 'node:path'
import {ModelLoadError, quotedValue, shownName} from '../errors.js'
import {ARCHITECTURES, NEAR_MISSES, SUPPORTED_ARCHITECTURES, gemma2Features, supportedArchitecturesHint, gemmaEmbeddingScale, parseActivation} from './architectures.js'
import {parseMoeConfig, type MoeConfig} from './moe-config.js'
import {isLayerNormArchitecture, parseLayerNormConfig, type LayerNormFeatures} from './layernorm-family.js'
import {isObject, parseRopeScaling, type RopeScaling} from './rope-scaling.js'
import {gemma3LanguageModel, gemma3View} from './gemma3-config.js'
import {GEMMA4, gemma4LanguageModel, gemma4ModelFields, gemma4View, type Gemma4Features} from './gemma4-config.js'
import {GEMMA3N, gemma3nLanguageModel, gemma3nView, type Gemma3nFeatures} from './gemma3n-config.js'
import {parseLayerWindows} from './sliding-windows.js'
import {OLMO3, olmo3View} from './olmo3-config.js'
import {parseRotaryDim} from './partial-rotary.js'
import {fp8Scheme, withoutQuantizationConfig, type Fp8Scheme} from './fp8-checkpoint.js'
import {GPT_OSS, gptOssView} from './gpt-oss.js'
import {isRmsVariantArchitecture, parseRmsVariant, rmsVariantView, type RmsVariantFeatures} from './rms-variants.js'
import {applyTwistBiases, isLlamaTwist, twistView} from './llama-twists.js'
import {withConfigClassDefaults} from './config-class-defaults.js'
import {hasSandwichNorms} from './tensor-renames.js'
import {GLM4_MOE, deepseekAttention, deepseekView, isDeepseek, type MlaConfig} from './deepseek-config.js'
import {glm4MoeQkNorm, glm4MoeView} from './glm4-moe-config.js'
import {MAMBA2_ARCHITECTURES, isDenseGraniteHybrid, mamba2View, parseMamba2Hybrid} from './mamba2-config.js'
import {LFM2_ARCHITECTURES, lfm2View, parseLfm2Hybrid} from './lfm2-config.js'
import {JAMBA, MAMBA1_ARCHITECTURES, isDenseJamba, jambaRmsVariant, mamba1View, parseMamba1Hybrid} from './mamba1-config.js'
import {NEMOTRON_H, nemotronHHybrid, nemotronHMoe, nemotronHView} from './nemotron-h-config.js'
import {FALCON_H1, falconH1Hybrid, falconH1View} from './falcon-h1-config.js'
import {KIMI_LINEAR, kimiLinearFeatures, kimiLinearView} from './kimi-linear-config.js'
import {MISTRAL4, mistral4View} from './mistral4-config.js'
import {ZAMBA2, parseZamba2, zamba2View} from './zamba2-config.js'
import {ZAMBA, parseZamba, zambaView} from './zamba-config.js'
import {OLMO_HYBRID, olmoHybridFeatures, olmoHybridView} from './olmo-hybrid-config.js'
import {ERNIE45_MOE, ernie45MoeView} from './ernie45-moe-config.js'
import {DOTS1, dots1View} from './dots1-config.js'
import {MINIMAX_M2, minimaxM2RmsVariant, minimaxM2View} from './minimax-m2-config.js'
import {SOLAR_OPEN, solarOpenView} from './solar-open-config.js'
import {HYV3, hyV3View} from './hy-v3-config.js'
import {MELLUM, mellumView} from './mellum-config.js'
import {ARIA_TEXT, ariaTextView} from './aria-config.js'
import {isMultimodalWrapper, multimodalLanguageModel} from './multimodal-text.js'
import {MINISTRAL3, ministral3View} from './ministral3-config.js'
import {CWM, cwmView} from './cwm-config.js'
import {APERTUS, apertusView} from './apertus-config.js'
import {BITNET, bitnetView} from './bitnet-config.js'
import {NANOCHAT, nanochatLogitSoftcap, nanochatView} from './nanochat-config.js'
import {DIFFLLAMA, checkDiffAttentionHeads, diffllamaView} from './diffllama-config.js'
import {MINICPM3, minicpm3Multipliers, minicpm3View} from './minicpm3-config.js'
import {graniteSwaView, isGraniteSwa} from './granite-swa-config.js'
import {HYPERCLOVAX, hyperclovaxPostNorms} from './hyperclovax-config.js'
import {HYBRID_ARCHITECTURES, HYBRID_MULTIMODAL, parseHybrid, qwen35LanguageModel, qwen35View, type HybridFeatures} from './qwen35-config.js'
import {LLAMA4, LLAMA4_MULTIMODAL, llama4Attention, llama4LanguageModel, llama4View, type Llama4Features} from './llama4-config.js'

export type {RopeScaling}

export interface ModelConfig {
  architecture: string
  modelType: string
  vocabSize: number
  hiddenSize: number
  intermediateSize: number
  numLayers: number
  numHeads: number
  numKvHeads: number
  headDim: number
  rmsNormEps: number
  ropeTheta: number
  ropeScaling: RopeScaling
  tieWordEmbeddings: boolean
  /** Biases on q/k/v projections (Qwen2, and Llama-style attention_bias); the MLP never has biases here. */
  attentionBias: boolean
  /** Llama-style attention_bias: o_proj has a bias too (CPU only). */
  attentionOutputBias?: boolean
  /** Llama's, Granite's and SmolLM3's mlp_bias: gate_proj, up_proj and down_proj carry biases (CPU only). */
  mlpBias?: boolean
  /** Phi-3's partial_rotary_factor: rope turns only the first rotaryDim values of each head; absent: whole heads (CPU only). */
  rotaryDim?: number
  /** Per-head RMSNorm of q and of k after the projection, before RoPE (Qwen3: q_norm / k_norm, [headDim] each). */
  qkNorm: boolean
  /** The MLP's gate activation: SwiGLU (silu) or GeGLU (Gemma's gelu_pytorch_tanh), also relu, relu2 (relu squared), gelu (erf); the plain MLPs' (LayerNorm family, ungatedMlp) likewise; xielu: Apertus's, with learned scalars per layer (CPU only). */
  hiddenAct: 'silu' | 'gelu_pytorch_tanh' | 'relu' | 'gelu' | 'relu2' | 'xielu'
  /** Added to every RMSNorm weight at load: 1 for Gemma's (1 + weight), 0 otherwise (and for GGUF files, which store the sum). */
  normWeightOffset: number
  /** Embedding rows are multiplied by it: Gemma's sqrt(hidden_size) in the checkpoint's dtype, 1 otherwise. */
  embeddingScale: number
  /** Phi-3: the checkpoint fuses q/k/v (qkv_proj) and gate/up (gate_up_proj); the loader splits them (fused-tensors.ts). */
  fusedProjections: boolean
  /** Gemma 2: RMSNorm on the attention and MLP outputs too (post_attention_layernorm, pre_/post_feedforward_layernorm). */
  sandwichNorms: boolean
  /** Scores are q.k times this; 0: 1 / sqrt(headDim) (Gemma 2: query_pre_attn_scalar^-0.5). */
  attentionScale: number
  /** Gemma 2: attention scores and final logits become cap * tanh(x / cap); 0: no cap. */
  attnLogitSoftcap: number
  finalLogitSoftcap: number
  maxPositionEmbeddings: number
  bosTokenId: number | null
  eosTokenIds: number[]
  torchDtype: string
  /** Things the loader changed or assumed that a user should hear about (e.g. a context capped to a sliding window). */
  notes?: string[]
  /** FP8 checkpoints: how each weight's scales are found; the loader dequantizes at load (fp8-checkpoint.ts). */
  fp8?: Fp8Scheme
  /** Mixtral / Qwen2-MoE / Qwen3-MoE: the sparse MLPs (moe-config.ts); absent for dense models. */
  moe?: MoeConfig
  /** OPT, GPT-NeoX, GPT-2 (layernorm-family.ts): LayerNorm with bias (rmsNormEps is its eps), a plain MLP, biases, learned or partial rotary positions. */
  layerNorm?: LayerNormFeatures
  /** Sliding-window attention: one window per layer, a query at p seeing keys (p - window, p]; 0: full. Absent: every layer full (sliding-windows.ts). */
  layerWindows?: number[]
  /** Gemma 3: layers with a window rotate with this base, unscaled (rope_local_base_freq); absent: one rope for every layer. */
  ropeLocalTheta?: number
  /** Granite's multipliers, OLMo2's post-norms and whole-width q/k norms, SmolLM3's rope-free layers (rms-variants.ts); absent for the others. */
  rmsVariant?: RmsVariantFeatures
  /** GPT-OSS: a learned logit per query head joins each softmax's denominator (self_attn.sinks; CPU only). */
  attentionSinks?: boolean
  /** Gemma 4: per-layer head sizes, KV-shared layers, per-layer inputs (gemma4-config.ts); absent for the others. */
  gemma4?: Gemma4Features
  /** Gemma 3n: gemma4's features plus AltUp streams, LAuReL and sparse MLP gates (gemma3n-config.ts); absent for the others. */
  gemma3n?: Gemma3nFeatures
  /** DeepSeek V2/V3's multi-head latent attention (deepseek-config.ts; CPU only); absent for the others. */
  mla?: MlaConfig
  /** Qwen 3.5: Gated DeltaNet layers among gated full-attention ones (qwen35-config.ts); absent: every layer full attention. */
  hybrid?: HybridFeatures
  /** Llama 4: NoPE layers, chunked attention (layerWindows), weightless q/k norms, query temperature (llama4-config.ts). */
  llama4?: Llama4Features
}

export {SUPPORTED_ARCHITECTURES}

type Json = Record<string, unknown>

/** Reads <dir>/config.json and, when present, <dir>/generation_config.json. */
export function readModelConfig(dir: string): ModelConfig {
  const configPath = join(dir, 'config.json')
  if (!existsSync(configPath)) {
    throw new ModelLoadError(`No config.json in model directory ${dir}: a Hugging Face model directory needs config.json.`)
  }
  const config = readJsonObject(configPath)
  const generationPath = join(dir, 'generation_config.json')
  const generation = existsSync(generationPath) ? readJsonObject(generationPath) : undefined
  return parseModelConfig(config, generation, configPath)
}

export function readJsonObject(path: string): Json {
  let text: string
  try {
    text = readRegularFile(path).toString('utf8')
  } catch (error) {
    throw new ModelLoadError(`Cannot read ${path}: ${(error as Error).message}`, {cause: error})
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new ModelLoadError(`Cannot parse ${path} as JSON: ${(error as Error).message}`, {cause: error})
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ModelLoadError(`${path} must hold a JSON object.`)
  }
  return parsed as Json
}

/** Validates and normalises a parsed config.json; `source` names the file in error messages. */
export function parseModelConfig(config: Json, generationConfig?: Json, source = 'config.json'): ModelConfig {
  const {architecture, note} = chooseArchitecture(config, source)
  if (architecture === null) {
    throw new ModelLoadError(`${source} has no "architectures" entry and no "model_type" that names a causal LM; ${supportedArchitecturesHint(null)}.`)
  }
  if (note !== undefined) {
    const chosen = parseModelConfig({...config, architectures: [architecture]}, generationConfig, source)
    return {...chosen, notes: [...(chosen.notes ?? []), note]}
  }
  const fp8 = fp8Scheme(config, source)
  if (fp8 !== null) return {...parseModelConfig(withoutQuantizationConfig(config), generationConfig, source), fp8}
  if (architecture === 'Gemma3ForConditionalGeneration') {
    const language = parseModelConfig(gemma3LanguageModel(config, source), generationConfig, source)
    return {...language, notes: [...(language.notes ?? []), 'Gemma3ForConditionalGeneration: its language model runs text only (the vision tower is not loaded).']}
  }
  if (architecture === 'Gemma4ForConditionalGeneration') {
    const language = parseModelConfig(gemma4LanguageModel(config, source), generationConfig, source)
    return {...language, notes: [...(language.notes ?? []), 'Gemma4ForConditionalGeneration: its language model runs text only (the vision and audio towers are not loaded).']}
  }
  if (architecture === 'Gemma3nForConditionalGeneration') {
    const language = parseModelConfig(gemma3nLanguageModel(config, source), generationConfig, source)
    return {...language, notes: [...(language.notes ?? []), 'Gemma3nForConditionalGeneration: its language model runs text only (the vision and audio towers are not loaded).']}
  }
  if (architecture === LLAMA4_MULTIMODAL) {
    const language = parseModelConfig(llama4LanguageModel(config, source), generationConfig, source)
    return {...language, notes: [...(language.notes ?? []), `${LLAMA4_MULTIMODAL}: its language model runs text only (the vision tower is not loaded).`]}
  }
  if (HYBRID_MULTIMODAL[architecture]) {
    const language = parseModelConfig(qwen35LanguageModel(config, architecture, source), generationConfig, source)
    return {...language, notes: [...(language.notes ?? []), `${architecture}: its language model runs text only (the vision tower is not loaded).`]}
  }
  if (isMultimodalWrapper(architecture)) {
    const {config: text, note, fusedExperts} = multimodalLanguageModel(config, architecture, source)
    const language = parseModelConfig(text, generationConfig, source)
    return {...language, ...(fusedExperts && language.moe ? {moe: {...language.moe, fusedExperts: true as const}} : {}), notes: [...(language.notes ?? []), note]}
  }
  if (!SUPPORTED_ARCHITECTURES.includes(architecture)) {
    const why = NEAR_MISSES[architecture] ? ` (${NEAR_MISSES[architecture]})` : ''
    throw new ModelLoadError(
      `Unsupported architecture ${shownName(architecture)} in ${source} ("architectures")${why}; ${supportedArchitecturesHint(architecture)}.`,
    )
  }
  // Some family readers and views build per-layer lists from the count before the checks that read it.
  for (const key of ['num_hidden_layers', 'n_layer', 'num_layers']) {
    const count = config[key]
    if (typeof count === 'number' && count > MAX_LAYERS) throw new ModelLoadError(`${source}: "${key}" ${count} is beyond any model's (at most ${MAX_LAYERS}).`)
  }
  if (isLayerNormArchitecture(architecture)) {
    refuseQuantizedCheckpoint(config, source)
    const fields = parseLayerNormConfig(config, architecture, source)
    const {notes: idNotes, ...ids} = tokenIdsAndDtype(config, generationConfig, fields.vocabSize, source)
    const notes = [...(fields.notes ?? []), ...idNotes]
    return {...fields, ...ids, ...(notes.length > 0 ? {notes} : {})}
  }
  // The readers below take a rope_parameters that is not an object as absent (a YaRN model would run unscaled);
  // transformers fails on one.
  if (config.rope_parameters != null && !isObject(config.rope_parameters)) {
    throw new ModelLoadError(`${source}: "rope_parameters" must be an object, got ${quotedValue(config.rope_parameters)}.`)
  }
  const traits = ARCHITECTURES[architecture]!
  const notes: string[] = []
  config = withConfigClassDefaults(config, architecture)
  let ropeLocalTheta: number | undefined
  if (architecture === 'Gemma3ForCausalLM') ({config, ropeLocalTheta} = gemma3View(config, source))
  if (architecture === OLMO3) ({config, ropeLocalTheta} = olmo3View(config, source))
  if (architecture === MELLUM) ({config, ropeLocalTheta} = mellumView(config, source))
  let swaRopeLayers: boolean[] | undefined
  if (isGraniteSwa(architecture)) ({config, ropeLocalTheta, ropeLayers: swaRopeLayers} = graniteSwaView(config, architecture, source))
  let gemma4: Gemma4Features | undefined
  if (architecture === GEMMA4) ({config, features: gemma4} = gemma4View(config, source))
  let gemma3n: Gemma3nFeatures | undefined
  if (architecture === GEMMA3N) {
    const view = gemma3nView(config, source)
    config = view.config
    gemma4 = view.features
    gemma3n = view.gemma3n
    if (view.note) notes.push(view.note)
  }
  if (MAMBA2_ARCHITECTURES.has(architecture)) config = mamba2View(config, architecture, source)
  if (LFM2_ARCHITECTURES.has(architecture)) config = lfm2View(config, architecture, source)
  if (MAMBA1_ARCHITECTURES.has(architecture)) config = mamba1View(config, architecture, source)
  if (architecture === NEMOTRON_H) config = nemotronHView(config, source)
  if (architecture === FALCON_H1) config = falconH1View(config, source)
  if (isRmsVariantArchitecture(architecture)) config = rmsVariantView(config, architecture, source)
  if (architecture === GPT_OSS) config = gptOssView(config)
  if (isLlamaTwist(architecture)) config = twistView(config, architecture)
  if (architecture === MINICPM3) config = minicpm3View(config)
  if (architecture === KIMI_LINEAR) config = kimiLinearView(config, source)
  if (architecture === ZAMBA2) config = zamba2View(config, source)
  if (architecture === ZAMBA) config = zambaView(config, source)
  if (architecture === MISTRAL4) {
    const view = mistral4View(config, source)
    config = view.config
    if (view.note) notes.push(view.note)
  }
  let olmoNoRope = false
  if (architecture === OLMO_HYBRID) ({config, noRope: olmoNoRope} = olmoHybridView(config, source))
  if (isDeepseek(architecture)) config = deepseekView(config, architecture, source)
  if (architecture === GLM4_MOE) config = glm4MoeView(config, source)
  if (architecture === ERNIE45_MOE) config = ernie45MoeView(config, source)
  if (architecture === DOTS1) config = dots1View(config, source)
  if (architecture === MINIMAX_M2) config = minimaxM2View(config)
  if (architecture === SOLAR_OPEN) config = solarOpenView(config, source)
  if (architecture === HYV3) config = hyV3View(config, source)
  if (architecture === ARIA_TEXT) config = ariaTextView(config, source)
  if (HYBRID_ARCHITECTURES.has(architecture)) config = qwen35View(config, architecture)
  if (architecture === LLAMA4) config = llama4View(config, source)
  if (architecture === CWM) config = cwmView(config)
  if (architecture === APERTUS) config = apertusView(config)
  let bitLinear = false
  if (architecture === BITNET) ({config, bitLinear} = bitnetView(config, source))
  if (architecture === NANOCHAT) config = nanochatView(config)
  if (architecture === DIFFLLAMA) config = diffllamaView(config)
  if (architecture === MINISTRAL3) {
    const view = ministral3View(config, source)
    config = view.config
    if (view.note) notes.push(view.note)
  }

  const required = (key: string): number => {
    const value = config[key]
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new ModelLoadError(`${source} is missing "${key}" (a positive integer) for ${architecture}.`)
    }
    // The backends take sizes as 32-bit integers; no tensor checks an unused size (a MoE model's intermediate_size).
    if (value > MAX_SIZE) throw new ModelLoadError(`${source}: "${key}" ${value} is beyond the sizes the backends take (at most ${MAX_SIZE}).`)
    return value
  }
  const vocabSize = required('vocab_size')
  const hiddenSize = required('hidden_size')
  const intermediateSize = required('intermediate_size')
  const numLayers = required('num_hidden_layers')
  // Per-layer lists (windows, sparse layers) are built before the checkpoint is read, which checks the count itself.
  if (numLayers > MAX_LAYERS) throw new ModelLoadError(`${source}: "num_hidden_layers" ${numLayers} is beyond any model's (at most ${MAX_LAYERS}).`)
  const numHeads = required('num_attention_heads')
  // The only size no tensor shape checks; absent, it is the architecture's transformers default.
  let maxPositionEmbeddings = config.max_position_embeddings == null ? traits.defaultMaxPositions : required('max_position_embeddings')
  const numKvHeads = config.num_key_value_heads == null ? numHeads : required('num_key_value_heads')
  if (numHeads % numKvHeads !== 0) {
    throw new ModelLoadError(`${source}: num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads}).`)
  }
  let headDim: number
  if (config.head_dim == null && traits.defaultHeadDim !== null) {
    headDim = traits.defaultHeadDim
  } else if (config.head_dim == null) {
    if (hiddenSize % numHeads !== 0) {
      throw new ModelLoadError(`${source}: hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numHeads}) and head_dim is not given.`)
    }
    headDim = hiddenSize / numHeads
  } else {
    headDim = required('head_dim')
  }
  if (headDim % 2 !== 0) throw new ModelLoadError(`${source}: head_dim ${headDim} must be even for rotary embeddings.`)

  const hiddenAct = parseActivation(config, architecture, source)
  for (const key of ['mlp_bias', 'attention_bias', 'qkv_bias', 'use_sliding_window']) optionalFlag(config, key, source)
  // Only Llama's, Granite's and SmolLM3's modeling code reads mlp_bias; the others' MLPs have no biases whatever it says.
  const mlpBias = config.mlp_bias === true && MLP_BIAS_READERS.has(architecture)
  // Llama's and Qwen3's attention_bias add biases to q/k/v and o_proj (Qwen2's are q/k/v only); Mistral's, Mixtral's and
  // Phi-3's modeling code never reads it. The RMS variants run it as Llama (Cohere's q/k biases reordered with their rows: rms-variants.ts).
  const outputBias = !traits.qkvBias && !IGNORE_ATTENTION_BIAS.has(architecture) && config.attention_bias === true

  refuseQuantizedCheckpoint(config, source)

  // transformers v5 moves rope settings into rope_parameters; older configs have rope_theta + rope_scaling.
  const ropeParameters = isObject(config.rope_parameters) ? config.rope_parameters : null
  const ropeTheta = numberOr(ropeParameters?.rope_theta ?? config.rope_theta, 10000, 'rope_theta', source)
  if (ropeTheta <= 0) throw new ModelLoadError(`${source}: "rope_theta" must be positive, got ${ropeTheta}.`)
  // DeepSeek rotates only each head's qk_rope_head_dim values.
  const rotaryDim = isDeepseek(architecture) ? (config.qk_rope_head_dim as number) : parseRotaryDim(config, ropeParameters ?? (isObject(config.rope_scaling) ? config.rope_scaling : null), architecture, headDim, source)
  const rope = parseRopeScaling(ropeParameters ?? config.rope_scaling, {headDim: rotaryDim, ropeTheta, maxPositionEmbeddings, topLevelOriginalMax: config.original_max_position_embeddings}, source)
  if (rope.note) notes.push(rope.note)
  if (rope.contextCap && rope.contextCap.tokens < maxPositionEmbeddings) {
    notes.push(rope.contextCap.note)
    maxPositionEmbeddings = rope.contextCap.tokens
  }
  const rmsNormEps = numberOr(config.rms_norm_eps, 1e-6, 'rms_norm_eps', source)
  if (rmsNormEps < 0) throw new ModelLoadError(`${source}: "rms_norm_eps" must not be negative, got ${rmsNormEps}.`)

  const layerWindows = parseLayerWindows(config, architecture, traits, numLayers, source)
  // transformers cannot build a sliding layer's mask without a window.
  if (ropeLocalTheta !== undefined && config.sliding_window === null) throw new ModelLoadError(`${source}: Gemma 3 needs a "sliding_window" (null given).`)

  const {bosTokenId, eosTokenIds, torchDtype: dtype, notes: idNotes} = tokenIdsAndDtype(config, generationConfig, vocabSize, source)
  notes.push(...idNotes)
  const modelConfig: ModelConfig = {
    architecture,
    modelType: typeof config.model_type === 'string' ? config.model_type : architecture,
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps,
    ropeTheta,
    ropeScaling: rope.scaling,
    tieWordEmbeddings: optionalFlag(config, 'tie_word_embeddings', source) ?? traits.defaultTiedEmbeddings,
    attentionBias: (traits.qkvBias && config.qkv_bias !== false) || outputBias, // Qwen2MoeConfig's qkv_bias (default true)
    qkNorm: traits.qkNorm,
    hiddenAct,
    normWeightOffset: traits.gemmaNorms ? 1 : 0,
    embeddingScale: traits.gemmaNorms ? gemmaEmbeddingScale(hiddenSize, String(dtype)) : 1,
    fusedProjections: traits.fusedProjections,
    sandwichNorms: hasSandwichNorms(architecture, traits.gemma2),
    ...(traits.gemma2 ? gemma2Features(config, source) : {attentionScale: 0, attnLogitSoftcap: 0, finalLogitSoftcap: 0}),
    maxPositionEmbeddings,
    bosTokenId,
    eosTokenIds,
    torchDtype: dtype,
  }
  if (notes.length > 0) modelConfig.notes = notes
  if (outputBias) modelConfig.attentionOutputBias = true
  if (mlpBias) modelConfig.mlpBias = true
  if (rotaryDim < headDim) modelConfig.rotaryDim = rotaryDim
  if (traits.moe !== null && !isDenseGraniteHybrid(config, architecture) && !isDenseJamba(config, architecture)) modelConfig.moe = parseMoeConfig(config, traits.moe, numLayers, intermediateSize, source)
  if (layerWindows !== undefined) modelConfig.layerWindows = layerWindows
  if (layerWindows !== undefined && ropeLocalTheta !== undefined) modelConfig.ropeLocalTheta = ropeLocalTheta
  if (isRmsVariantArchitecture(architecture)) Object.assign(modelConfig, parseRmsVariant(config, architecture, source))
  if (architecture === GPT_OSS || isGraniteSwa(architecture)) modelConfig.attentionSinks = true
  if (swaRopeLayers) modelConfig.rmsVariant!.ropeLayers = swaRopeLayers
  if (bitLinear) modelConfig.rmsVariant!.bitLinear = true
  if (architecture === NANOCHAT) modelConfig.finalLogitSoftcap = nanochatLogitSoftcap(config, source)
  if (architecture === DIFFLLAMA) checkDiffAttentionHeads(numHeads, numKvHeads, source)
  if (gemma4) Object.assign(modelConfig, gemma4ModelFields(config, gemma4, modelConfig.torchDtype, source))
  if (gemma3n) modelConfig.gemma3n = gemma3n
  if (isLlamaTwist(architecture)) applyTwistBiases(modelConfig, config, architecture, source)
  if (architecture === HYPERCLOVAX) modelConfig.sandwichNorms = hyperclovaxPostNorms(config)
  if (isDeepseek(architecture)) Object.assign(modelConfig, deepseekAttention(config, architecture, source))
  if (architecture === MINICPM3) Object.assign(modelConfig, minicpm3Multipliers(config, numLayers, hiddenSize, source))
  if (architecture === GLM4_MOE) modelConfig.qkNorm = glm4MoeQkNorm(config, source)
  if (architecture === LLAMA4) Object.assign(modelConfig, llama4Attention(config, numLayers, source))
  if (architecture === MINIMAX_M2) modelConfig.rmsVariant = minimaxM2RmsVariant()
  // Qwen 3.5's RMSNorms scale by (1 + weight), its RMSNormGated by the weight as stored (native/cpu/linear_attention.cpp).
  if (HYBRID_ARCHITECTURES.has(architecture)) Object.assign(modelConfig, {hybrid: parseHybrid(config, architecture, numLayers, source), normWeightOffset: 1})
  if (MAMBA2_ARCHITECTURES.has(architecture)) modelConfig.hybrid = parseMamba2Hybrid(config, architecture, numLayers, hiddenSize, source)
  if (LFM2_ARCHITECTURES.has(architecture)) modelConfig.hybrid = parseLfm2Hybrid(config, numLayers, source)
  if (MAMBA1_ARCHITECTURES.has(architecture)) modelConfig.hybrid = parseMamba1Hybrid(config, architecture, numLayers, hiddenSize, modelConfig.rmsNormEps, source)
  if (architecture === JAMBA) modelConfig.rmsVariant = jambaRmsVariant(numLayers)
  if (architecture === NEMOTRON_H) {
    modelConfig.hybrid = nemotronHHybrid(config, source)
    const moe = nemotronHMoe(config, source)
    if (moe) modelConfig.moe = moe
  }
  if (architecture === FALCON_H1) modelConfig.hybrid = falconH1Hybrid(config, numLayers, hiddenSize, source)
  if (architecture === KIMI_LINEAR) Object.assign(modelConfig, kimiLinearFeatures(config, numLayers, source))
  if (architecture === ZAMBA2) Object.assign(modelConfig, parseZamba2(config, numLayers, hiddenSize, headDim, source))
  if (architecture === ZAMBA) Object.assign(modelConfig, parseZamba(config, numLayers, hiddenSize, headDim, source))
  if (architecture === OLMO_HYBRID) Object.assign(modelConfig, olmoHybridFeatures(config, numLayers, olmoNoRope, source))
  return modelConfig
}

/** Weights of GPTQ / AWQ / bitsandbytes checkpoints are packed integer tensors under other names (FP8 ones load: fp8-checkpoint.ts). */
function refuseQuantizedCheckpoint(config: Json, source: string): void {
  if (config.quantization_config == null) return
  const method = isObject(config.quantization_config) ? config.quantization_config.quant_method : undefined
  throw new ModelLoadError(
    `${source}: quantized checkpoints (quant_method ${JSON.stringify(method ?? 'unknown')}) are not supported; load the float checkpoint (optionally with --quantization q8_0|q4_0|q4_k) or a GGUF file.`,
  )
}

const MLP_BIAS_READERS = new Set(['LlamaForCausalLM', 'GraniteForCausalLM', 'SmolLM3ForCausalLM', 'ArceeForCausalLM', 'NemotronForCausalLM', 'Jais2ForCausalLM', 'CwmForCausalLM', 'Emu3ForCausalLM', HYPERCLOVAX])
/** Architectures whose transformers attention has no biases whatever attention_bias says. */
const IGNORE_ATTENTION_BIAS = new Set(['MistralForCausalLM', 'MixtralForCausalLM', 'Phi3ForCausalLM'])
/** No released model has more than a few hundred layers; a count past this is a corrupt or hostile config. */
export const MAX_LAYERS = 10_000
const MAX_SIZE = 2 ** 31 - 1
/** torch_dtype names of float checkpoints (transformers' str(torch.dtype) without "torch."); 'gguf' is the GGUF loader's. */
const FLOAT_DTYPES = ['float32', 'float', 'float16', 'half', 'bfloat16', 'float64', 'double', 'gguf']

/** BOS, EOS (generation_config.json's first) and the checkpoint's dtype, as every architecture reads them; notes name ids left out. */
function tokenIdsAndDtype(config: Json, generationConfig: Json | undefined, vocabSize: number, source: string): {bosTokenId: number | null; eosTokenIds: number[]; torchDtype: string; notes: string[]} {
  const generationSource = source.replace(/config\.json$/, 'generation_config.json')
  const notes: string[] = []
  const read = (json: Json | undefined, key: string, file: string) => tokenIds(json?.[key], key, file, vocabSize, notes)
  const [configBos, generationBos] = [read(config, 'bos_token_id', source)[0], read(generationConfig, 'bos_token_id', generationSource)[0]]
  const bosTokenId = configBos ?? generationBos ?? null
  const eosTokenIds = unique([...read(generationConfig, 'eos_token_id', generationSource), ...read(config, 'eos_token_id', source)])
  const dtypeKey = config.torch_dtype != null ? 'torch_dtype' : 'dtype'
  const dtype = config[dtypeKey] ?? 'float32'
  if (typeof dtype !== 'string' || !FLOAT_DTYPES.includes(dtype.replace(/^torch\./, ''))) {
    throw new ModelLoadError(`${source}: "${dtypeKey}" ${quotedValue(dtype)} is not a float dtype (${FLOAT_DTYPES.slice(0, -1).join(', ')}).`)
  }
  return {bosTokenId, eosTokenIds, torchDtype: dtype.replace(/^torch\./, ''), notes}
}

/** A true/false switch, or undefined when absent or null; any other value (a string "false", a 1) is refused, not guessed at. */
function optionalFlag(config: Json, key: string, source: string): boolean | undefined {
  return config[key] == null ? undefined : switchValue(config, key, false, source)
}

function numberOr(value: unknown, fallback: number, key: string, source: string): number {
  if (value == null) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ModelLoadError(`${source}: "${key}" must be a number.`)
  return value
}

/**
 * A token id field: an id, a list of ids, or null. Anything but non-negative integers is refused. An id past the
 * vocabulary is left out with a note, as transformers warns and runs: its config classes keep their default ids when a
 * checkpoint is saved with a smaller vocab_size (OLMo's eos 50279, Command-R's 255001), and the model never emits them.
 */
function tokenIds(value: unknown, key: string, source: string, vocabSize: number, notes: string[]): number[] {
  if (value == null) return []
  const ids = Array.isArray(value) ? value : [value]
  if (ids.some((id) => typeof id !== 'number' || !Number.isInteger(id) || id < 0)) {
    throw new ModelLoadError(`${source}: "${key}" ${quotedValue(value)} is not a token id (a non-negative integer, or a list of them).`)
  }
  const inside = (ids as number[]).filter((id) => id < vocabSize)
  if (inside.length < ids.length) notes.push(`${source}: "${key}" ${quotedValue(value)}: ids past vocab_size ${vocabSize} are ignored (the model cannot emit them).`)
  return inside
}

function unique(values: number[]): number[] {
  return [...new Set(values)]
}
