// Loads a llama/mistral/qwen2/qwen3/gemma (MoE: gguf-moe.ts; gpt2/gptneox/phi2/starcoder2/stablelm/starcoder/gptj: gguf-layernorm.ts; granite/olmo/olmo2/command-r: gguf-rms-variants.ts; gpt-oss: gguf-gpt-oss.ts; deepseek2 (Youtu-LLM's dense ones too)/glm4moe/mistral4: gguf-deepseek.ts;
// phi3/gemma2/gemma3: gguf-phi3-gemma.ts; glm4/chatglm/exaone4/smollm3/seed_oss/ernie4_5/hunyuan-dense/arcee/nemotron/jais2/bitnet: gguf-dense-families.ts;
// granitehybrid/mamba2/qwen3next/qwen35/qwen35moe/lfm2/mamba/jamba/nemotron_h/nemotron_h_moe/falcon-h1/kimi-linear: gguf-hybrid.ts, gguf-lfm2-mamba.ts, gguf-ssm-hybrids.ts, gguf-kimi-linear.ts; llama4: gguf-llama4.ts;
// minicpm3: gguf-minicpm3.ts; apertus: gguf-apertus.ts;
// ernie4_5-moe/hunyuan-moe/dots1/minimax-m2/exaone-moe/dbrx/afmoe/cohere2moe/mellum/hy_v3: gguf-moe-families.ts; qwen2vl/qwen3vl/qwen3vlmoe/mistral3: gguf-vl-text.ts; gemma4: gguf-gemma4.ts; gemma3n: gguf-gemma3n.ts) GGUF file as a model: config from metadata, tensors under their HF names, tokenizer and chat template.
import {basename} from 'node:path'
import {ModelLoadError, quotedValue} from '../errors.js'
import {blockFormatOfGgufType, refusedTypeMessage} from './gguf-block-types.js'
import {GGML_BLOCKS, readGguf, type GgufFile, type GgufValue} from './gguf-file.js'
import {ggufExpertTensors, ggufMoeConfigKeys, ggufMoeName} from './gguf-moe.js'
import {GGUF_ALIBI_FILES} from './gguf-alibi.js'
import {ggufBitnetScales, withBitnetScales} from './gguf-bitnet-scales.js'
import {DENSE_FAMILY_NORMS_WITH_ONE_ADDED, GGUF_DENSE_FAMILY_ARCHITECTURES, acceptsGgufYarn, GGUF_DENSE_FAMILY_LAYER_NAMES, denseFamilyGgufKeys, isPartialRotaryDenseFamily, withGlm4vRowsAsStored} from './gguf-dense-families.js'
import {GGUF_LAYERNORM_ARCHITECTURES, layerNormGgufConfigJson, layerNormGgufName, splitStackedTensors} from './gguf-layernorm.js'
import {GGUF_NORMS_WITH_ONE_ADDED, GGUF_PHI3_GEMMA_ARCHITECTURES, GGUF_PHI3_GEMMA_LAYER_NAMES, ggufF32Vector, phi3GemmaGgufKeys} from './gguf-phi3-gemma.js'
import {GGUF_RMS_VARIANT_ARCHITECTURES, GGUF_RMS_VARIANT_LAYER_NAMES, rmsVariantGgufKeys} from './gguf-rms-variants.js'
import {tokenizerFromGguf} from './gguf-tokenizer.js'
import {llama3ScalingFromFactors} from './llama3-rope.js'
import type {Tokenizer} from './tokenizer.js'
import type {LoadedModel} from './load-model.js'
import {checkTokenizerFits, selectModelTensors} from './load-model.js'
import {isOlmo3Gguf} from './gguf-olmo3.js'
import {GGUF_DEEPSEEK_ARCHITECTURES, GGUF_DEEPSEEK_LAYER_NAMES, acceptsDeepseekYarn, deepseekGgufKeys, ggufDeepseekTensors, withFileLatentNormEps, withKvBApart} from './gguf-deepseek.js'
import {GGUF_LLAMA4_ARCHITECTURES, llama4GgufKeys, withLlama4GateUpApart} from './gguf-llama4.js'
import {GGUF_GPT_OSS_ARCHITECTURES, GGUF_GPT_OSS_LAYER_NAMES, gptOssGgufKeys, withGptOssGateUpApart} from './gguf-gpt-oss.js'
import {GGUF_HYBRID_ARCHITECTURES, GGUF_HYBRID_LAYER_NAMES, GGUF_HYBRID_NORMS_WITH_ONE_ADDED, GGUF_HYBRID_PARTIAL_ROTARY, ggufHybridTensor, hybridGgufKeys, withGgufHybridLayout} from './gguf-hybrid.js'
import {GGUF_LFM2_MAMBA_GLOBAL_NAMES} from './gguf-lfm2-mamba.js'
import {GGUF_KIMI_LINEAR_ARCHITECTURES} from './gguf-kimi-linear.js'
import {GGUF_MOE_FAMILY_ARCHITECTURES, GGUF_MOE_FAMILY_LAYER_NAMES, GGUF_MOE_FAMILY_PARTIAL_ROTARY, acceptsMoeFamilyYarn, ggufMoeFamilyTensors, moeFamilyGgufKeys} from './gguf-moe-families.js'
import {GGUF_MINICPM3_ARCHITECTURES, minicpm3GgufKeys} from './gguf-minicpm3.js'
import {apertusGgufKeys, apertusXieluTensors, GGUF_APERTUS_ARCHITECTURES} from './gguf-apertus.js'
import {GGUF_VL_TEXT_ARCHITECTURES, acceptsVlTextYarn, vlTextGgufKeys} from './gguf-vl-text.js'
import {GGUF_GEMMA4_ARCHITECTURES, GGUF_GEMMA4_GLOBAL_NAMES, GGUF_GEMMA4_LAYER_NAMES, gemma4GgufKeys} from './gguf-gemma4.js'
import {GGUF_GEMMA3N_ARCHITECTURES, GGUF_GEMMA3N_GLOBAL_NAMES, GGUF_GEMMA3N_LAYER_NAMES, gemma3nAltupWindows, gemma3nGgufKeys, gemma3nUnusedKv} from './gguf-gemma3n.js'
import {MAX_LAYERS, parseModelConfig, type ModelConfig} from './model-config.js'
import type {TensorDtype, TensorInfo} from './safetensors.js'

/**
 * GGUF architectures (general.architecture) and the HF architecture each stands for. llama.cpp writes llama's q/k rows
 * interleaved for its rope (and Mistral as llama); qwen2/qwen3 use rotate_half rope (NEOX), so their rows are as in HF.
 */
const GGUF_ARCHITECTURES: Record<string, {architecture: string; modelType: string; interleavedRope: boolean}> = {
  llama: {architecture: 'LlamaForCausalLM', modelType: 'llama', interleavedRope: true},
  mistral: {architecture: 'LlamaForCausalLM', modelType: 'llama', interleavedRope: true},
  qwen2: {architecture: 'Qwen2ForCausalLM', modelType: 'qwen2', interleavedRope: false},
  qwen3: {architecture: 'Qwen3ForCausalLM', modelType: 'qwen3', interleavedRope: false},
  gemma: {architecture: 'GemmaForCausalLM', modelType: 'gemma', interleavedRope: false},
  qwen2moe: {architecture: 'Qwen2MoeForCausalLM', modelType: 'qwen2_moe', interleavedRope: false},
  qwen3moe: {architecture: 'Qwen3MoeForCausalLM', modelType: 'qwen3_moe', interleavedRope: false},
  gpt2: {architecture: 'GPT2LMHeadModel', modelType: 'gpt2', interleavedRope: false},
  gptneox: {architecture: 'GPTNeoXForCausalLM', modelType: 'gpt_neox', interleavedRope: false},
  phi2: {architecture: 'PhiForCausalLM', modelType: 'phi', interleavedRope: false},
  starcoder2: {architecture: 'Starcoder2ForCausalLM', modelType: 'starcoder2', interleavedRope: false},
  stablelm: {architecture: 'StableLmForCausalLM', modelType: 'stablelm', interleavedRope: false},
  starcoder: {architecture: 'GPTBigCodeForCausalLM', modelType: 'gpt_bigcode', interleavedRope: false},
  // GPT-J's q/k rows as its checkpoint's: interleaved pairs over each head's first rotary_dim rows (gguf-layernorm.ts).
  gptj: {architecture: 'GPTJForCausalLM', modelType: 'gptj', interleavedRope: true},
  ...GGUF_RMS_VARIANT_ARCHITECTURES,
  ...GGUF_PHI3_GEMMA_ARCHITECTURES,
  ...GGUF_ALIBI_FILES,
  ...GGUF_DENSE_FAMILY_ARCHITECTURES,
  ...GGUF_GPT_OSS_ARCHITECTURES,
  ...GGUF_DEEPSEEK_ARCHITECTURES,
  ...GGUF_HYBRID_ARCHITECTURES,
  ...GGUF_LLAMA4_ARCHITECTURES,
  ...GGUF_MOE_FAMILY_ARCHITECTURES,
  ...GGUF_MINICPM3_ARCHITECTURES,
  ...GGUF_APERTUS_ARCHITECTURES,
  ...GGUF_VL_TEXT_ARCHITECTURES,
  ...GGUF_GEMMA4_ARCHITECTURES,
  ...GGUF_GEMMA3N_ARCHITECTURES,
}
/** GGUF architectures close to a supported one, with what they need that the engine lacks (as their HF architectures' near misses). */
const GGUF_NEAR_MISSES: Record<string, string> = {
  phimoe: 'llama.cpp runs PhiMoE files as Phi-3 with softmax top-2 routing, not the model\'s sparsemixer and short/long mscale; load the Hugging Face checkpoint',
  clip: 'a multimodal projector (mmproj) file holds only the vision tower; load the model\'s own GGUF file, which runs text only',
}
const FLOAT_TYPES: Record<string, TensorDtype> = {F32: 'F32', F16: 'F16', BF16: 'BF16'}

/** GGUF tensor name -> HF name, for the global tensors and the per-layer suffixes. */
const GLOBAL_NAMES: Record<string, string> = {'token_embd.weight': 'model.embed_tokens.weight', 'output_norm.weight': 'model.norm.weight', 'output.weight': 'lm_head.weight', 'output_norm.bias': 'model.norm.bias'}
const LAYER_NAMES: Record<string, string> = {
  'attn_norm.weight': 'input_layernorm.weight', 'attn_q.weight': 'self_attn.q_proj.weight', 'attn_k.weight': 'self_attn.k_proj.weight',
  'attn_v.weight': 'self_attn.v_proj.weight', 'attn_output.weight': 'self_attn.o_proj.weight', 'ffn_norm.weight': 'post_attention_layernorm.weight',
  'ffn_gate.weight': 'mlp.gate_proj.weight', 'ffn_up.weight': 'mlp.up_proj.weight', 'ffn_down.weight': 'mlp.down_proj.weight',
  // Qwen2's q/k/v biases and Qwen3's q/k norms.
  'attn_q.bias': 'self_attn.q_proj.bias', 'attn_k.bias': 'self_attn.k_proj.bias', 'attn_v.bias': 'self_attn.v_proj.bias',
  'attn_q_norm.weight': 'self_attn.q_norm.weight', 'attn_k_norm.weight': 'self_attn.k_norm.weight',
  ...GGUF_RMS_VARIANT_LAYER_NAMES,
  ...GGUF_GPT_OSS_LAYER_NAMES,
  ...GGUF_DEEPSEEK_LAYER_NAMES,
}

function hfName(ggufName: string, arch: string): string | null {
  const global = GLOBAL_NAMES[ggufName] ?? GGUF_LFM2_MAMBA_GLOBAL_NAMES[arch]?.[ggufName] ?? GGUF_GEMMA4_GLOBAL_NAMES[arch]?.[ggufName] ?? GGUF_GEMMA3N_GLOBAL_NAMES[arch]?.[ggufName]
  if (global) return global
  const match = /^blk\.(\d+)\.(.+)$/.exec(ggufName)
  const suffix = match ? GGUF_PHI3_GEMMA_LAYER_NAMES[arch]?.[match[2]] ?? GGUF_GEMMA4_LAYER_NAMES[arch]?.[match[2]] ?? GGUF_GEMMA3N_LAYER_NAMES[arch]?.[match[2]] ?? GGUF_DENSE_FAMILY_LAYER_NAMES[arch]?.[match[2]] ?? GGUF_HYBRID_LAYER_NAMES[arch]?.[match[2]] ?? GGUF_MOE_FAMILY_LAYER_NAMES[arch]?.[match[2]] ?? LAYER_NAMES[match[2]] : undefined
  return match && suffix ? `model.layers.${match[1]}.${suffix}` : null
}

/** A metadata number as a plain number (u64/i64 values arrive as bigint); anything else is passed on for the validator to refuse. */
function plain(value: GgufValue | undefined): unknown {
  return typeof value === 'bigint' ? Number(value) : value
}

/** The file's general.architecture, refused unless it is one of GGUF_ARCHITECTURES. */
function ggufArchitecture(file: GgufFile): string {
  const arch = file.metadata.get('general.architecture')
  if (arch === undefined) throw new ModelLoadError(`${file.path}: the GGUF file has no general.architecture key, so its model cannot be known.`)
  if (typeof arch !== 'string') throw new ModelLoadError(`${file.path}: GGUF general.architecture is ${quotedValue(arch)}, not a string`)
  if (GGUF_ARCHITECTURES[arch] === undefined) {
    const why = GGUF_NEAR_MISSES[arch] ? ` (${GGUF_NEAR_MISSES[arch]})` : ''
    throw new ModelLoadError(
      `${file.path}: GGUF general.architecture "${arch}" is not supported${why}; supported: ${Object.keys(GGUF_ARCHITECTURES).join(', ')}.`,
    )
  }
  return arch
}

/**
 * The model config from <arch>.* metadata, written as the config.json keys it stands for and checked by the same
 * validator (parseModelConfig), so a GGUF file gets every check a Hugging Face checkpoint gets.
 */
function ggufConfig(file: GgufFile, arch: string, vocabSize: number, tokenizer: Tokenizer): ModelConfig {
  if (GGUF_LAYERNORM_ARCHITECTURES[arch]) return parseModelConfig(layerNormGgufConfigJson(file, arch, vocabSize, tokenizer), undefined, `${file.path} (GGUF metadata as config.json)`)
  const m = file.metadata
  const get = (key: string): unknown => plain(m.get(`${arch}.${key}`))
  const required = (key: string): unknown => {
    if (get(key) === undefined) throw new ModelLoadError(`${file.path}: GGUF metadata ${arch}.${key} is missing`)
    return get(key)
  }
  // Before any family's keys: they build per-layer lists block_count long (a hostile 2^31 would exhaust the heap).
  const layers = get('block_count')
  if (layers !== undefined && (typeof layers !== 'number' || !Number.isInteger(layers) || layers < 1 || layers > MAX_LAYERS)) throw new ModelLoadError(`${file.path}: GGUF metadata ${arch}.block_count ${quotedValue(layers)} is not a layer count (1 to ${MAX_LAYERS})`)
  const moe = ggufMoeConfigKeys(arch, get, new Set(file.tensors.map((t) => t.name)), file.path)
  const headDim = get('attention.key_length')
  // phi3's rope.dimension_count may be less (Phi-4-mini's partial rotary): gguf-phi3-gemma.ts reads it.
  // deepseek2's, glm4moe's and mistral4's (and minicpm3's: gguf-minicpm3.ts; kimi-linear's: gguf-kimi-linear.ts) head sizes and rotary part are read by gguf-deepseek.ts.
  for (const key of GGUF_DEEPSEEK_ARCHITECTURES[arch] || GGUF_MINICPM3_ARCHITECTURES[arch] || GGUF_KIMI_LINEAR_ARCHITECTURES[arch] ? [] : ['attention.value_length', ...(arch === 'phi3' || isPartialRotaryDenseFamily(arch) || GGUF_HYBRID_PARTIAL_ROTARY.has(arch) || GGUF_MOE_FAMILY_PARTIAL_ROTARY.has(arch) ? [] : ['rope.dimension_count'])]) {
    const value = get(key)
    const expected = headDim ?? Number(get('embedding_length')) / Number(get('attention.head_count'))
    if (value !== undefined && value !== expected) {
      throw new ModelLoadError(`${file.path}: ${arch}.${key} ${quotedValue(value)} differs from the head size ${expected}; only full-head rotary embeddings with equal key and value sizes are supported.`)
    }
  }
  const ropeType = get('rope.scaling.type')
  if (ropeType !== undefined && ropeType !== 'none' && ropeType !== 'linear' && !isOlmo3Gguf(arch, get) && !acceptsGgufYarn(arch, ropeType) && !acceptsVlTextYarn(arch, ropeType) && arch !== 'gpt-oss' && !acceptsDeepseekYarn(arch) && !acceptsMoeFamilyYarn(arch, ropeType)) {
    throw new ModelLoadError(`${file.path}: rope scaling ${quotedValue(ropeType)} is not supported (none or linear)`)
  }
  const ropeFactor = get('rope.scaling.factor') ?? 1
  const headSize = Number(headDim ?? Number(get('embedding_length')) / Number(get('attention.head_count')))
  // Gemma 4's rope_freqs.weight is its full layers' proportional rope (gguf-gemma4.ts), not Llama 3's scaling.
  const llama3 = GGUF_GEMMA4_ARCHITECTURES[arch] ? null : llama3ScalingOf(file, headSize, Number(get('rope.freq_base') ?? 10000))
  if (llama3 !== null && ropeType === 'linear' && ropeFactor !== 1) throw new ModelLoadError(`${file.path}: both linear rope scaling and rope_freqs.weight`)
  const configJson = {
    architectures: [GGUF_ARCHITECTURES[arch]!.architecture],
    model_type: GGUF_ARCHITECTURES[arch]!.modelType,
    vocab_size: vocabSize,
    hidden_size: required('embedding_length'),
    // Qwen 3.5 MoE has no dense MLP width (gguf-hybrid.ts).
    intermediate_size: arch === 'qwen35moe' ? get('feed_forward_length') ?? null : required('feed_forward_length'),
    num_hidden_layers: required('block_count'),
    num_attention_heads: required('attention.head_count'),
    num_key_value_heads: get('attention.head_count_kv') ?? null,
    // llama.cpp's head size without key_length is embedding / heads, for every architecture (Qwen3Config's is 128).
    head_dim: headDim ?? (Number.isInteger(headSize) ? headSize : null),
    rms_norm_eps: get('attention.layer_norm_rms_epsilon') ?? 1e-5,
    rope_theta: get('rope.freq_base') ?? 10000,
    rope_scaling: llama3 ?? (ropeType === 'linear' && ropeFactor !== 1 ? {type: 'linear', factor: ropeFactor} : null),
    tie_word_embeddings: !file.tensors.some((t) => t.name === 'output.weight'),
    max_position_embeddings: required('context_length'),
    // The tokenizer's, which drops ids outside the vocabulary.
    bos_token_id: tokenizer.bosTokenId,
    eos_token_id: tokenizer.eosTokenIds,
    torch_dtype: 'gguf',
    ...(moe ? {...moe.keys, architectures: [moe.architecture], model_type: moe.modelType} : {}),
    ...rmsVariantGgufKeys(arch, get, new Set(file.tensors.map((t) => t.name)), file.path),
    ...phi3GemmaGgufKeys(arch, get, file),
    ...denseFamilyGgufKeys(arch, get, new Set(file.tensors.map((t) => t.name)), file.path),
    ...gptOssGgufKeys(arch, get, file.path),
    ...deepseekGgufKeys(arch, get, new Set(file.tensors.map((t) => t.name)), file.path),
    ...hybridGgufKeys(arch, get, new Set(file.tensors.map((t) => t.name)), file.path),
    ...llama4GgufKeys(arch, get, file.path),
    ...moeFamilyGgufKeys(arch, get, new Set(file.tensors.map((t) => t.name)), file.path),
    ...minicpm3GgufKeys(arch, get, file),
    ...apertusGgufKeys(arch, get, new Set(file.tensors.map((t) => t.name))),
    ...vlTextGgufKeys(arch, get, file.path),
    ...gemma4GgufKeys(arch, get, file),
    ...gemma3nGgufKeys(arch, get, file),
  }
  const tensorNames = new Set(file.tensors.map((t) => t.name))
  const config = withLlama4GateUpApart(withGgufHybridLayout(withFileLatentNormEps(withKvBApart(withGptOssGateUpApart(parseModelConfig(configJson, undefined, `${file.path} (GGUF metadata as config.json)`), tensorNames), tensorNames), arch), arch), tensorNames)
  // llama.cpp's converter writes Gemma's norm weights with the 1 of (1 + weight) already added.
  return GGUF_NORMS_WITH_ONE_ADDED.has(arch) || DENSE_FAMILY_NORMS_WITH_ONE_ADDED.has(arch) || GGUF_HYBRID_NORMS_WITH_ONE_ADDED.has(arch) ? {...config, normWeightOffset: 0} : config
}

/**
 * Llama 3.x scaling, which llama.cpp writes as rope_freqs.weight (one divisor per rotary frequency), as the
 * config.json rope_scaling it stands for; null without that tensor.
 */
function llama3ScalingOf(file: GgufFile, headDim: number, ropeTheta: number): Record<string, unknown> | null {
  const factors = ggufF32Vector(file, 'rope_freqs.weight', headDim / 2)
  if (factors === null) return null
  const scaling = llama3ScalingFromFactors(factors, headDim, ropeTheta)
  if (scaling === null) throw new ModelLoadError(`${file.path}: rope_freqs.weight holds per-frequency factors that are not Llama 3 rope scaling`)
  return {
    rope_type: 'llama3',
    factor: scaling.factor,
    low_freq_factor: scaling.lowFreqFactor,
    high_freq_factor: scaling.highFreqFactor,
    original_max_position_embeddings: scaling.originalMaxPosition,
  }
}

function ggufTensors(file: GgufFile, arch: string, config: ModelConfig): TensorInfo[] {
  const interleaved = GGUF_ARCHITECTURES[arch]!.interleavedRope
  const scales = ggufBitnetScales(file, arch)
  const tensors: TensorInfo[] = []
  for (const t of file.tensors) {
    refuseStrayLayerTensor(file.path, t, Number(file.metadata.get(`${arch}.block_count`)), config)
    if (scales.has(t.name)) continue
    const name = GGUF_LAYERNORM_ARCHITECTURES[arch] ? layerNormGgufName(t.name, arch) : hfName(t.name, arch) ?? ggufMoeName(t.name)
    if (name === null) {
      // llama.cpp refuses a file with a tensor it does not create; unread, a layer's tensor would be dropped unseen
      // (GLM-4.5's NextN prediction layers, which llama.cpp creates and skips, are skipped here too).
      if (/^blk\.\d+\./.test(t.name) && !/^blk\.\d+\.nextn\./.test(t.name)) throw new ModelLoadError(`${file.path}: tensor ${t.name} is not a tensor of a ${arch} layer`)
      continue
    }
    const dtype = FLOAT_TYPES[t.type]
    const blockFormat = blockFormatOfGgufType(t.type)
    const mxfp4 = t.type === 'MXFP4'
    if (!dtype && !blockFormat && !mxfp4) throw new ModelLoadError(`${file.path}: tensor ${t.name} is ${refusedTypeMessage(t.type)}`)
    if (t.nbytes === null) {
      throw new ModelLoadError(`${file.path}: tensor ${t.name} is ${t.type} with rows of ${t.shape.at(-1)} values, not a whole number of its ${GGML_BLOCKS[t.type]!.values}-value blocks.`)
    }
    const ropeHeads = !interleaved ? 0 : /\.attn_q\.(weight|bias)$/.test(t.name) ? config.numHeads : /\.attn_k\.(weight|bias)$/.test(t.name) ? config.numKvHeads : 0
    tensors.push(...ggufExpertTensors({
      name, dtype: dtype ?? 'F32', shape: t.shape, path: file.path, offset: t.offset, nbytes: t.nbytes,
      ...(blockFormat ? {blockFormat} : {}), ...(mxfp4 ? {ggmlMxfp4: true} : {}), ...(ropeHeads ? {ropeInterleavedHeads: ropeHeads, ...(config.layerNorm?.interleavedRotary ? {ropeInterleavedDims: config.layerNorm.rotaryDim} : {})} : {}),
    }).flatMap(ggufDeepseekTensors).map((tensor) => ggufHybridTensor(tensor, arch)).flatMap((tensor) => ggufMoeFamilyTensors(tensor, config)).flatMap((tensor) => gemma3nAltupWindows(tensor, config)))
  }
  tensors.push(...apertusXieluTensors(file, arch, config.numLayers))
  const selected = selectModelTensors(config, GGUF_LAYERNORM_ARCHITECTURES[arch] ? splitStackedTensors(config, tensors) : tensors, file.path)
  refuseUnreadTensors(file, arch, config.numLayers, selected, new Set([...scales.keys(), ...gemma3nUnusedKv(file, config)]))
  return withBitnetScales(withGlm4vRowsAsStored(arch, (key) => file.metadata.get(`${arch}.${key}`), selected), scales)
}

/**
 * A layer's tensor under a known name that the model, as its metadata describes it, does not read (a llama file's
 * attention biases, which llama.cpp would add): refused, as llama.cpp refuses a tensor it does not create, rather than
 * run without it. Read means some selected tensor (or a window cut from one) lies in its bytes.
 */
function refuseUnreadTensors(file: GgufFile, arch: string, layers: number, selected: TensorInfo[], readElsewhere: Set<string>): void {
  const read = selected.map((t) => [t.offset, t.offset + t.nbytes] as const)
  for (const t of file.tensors) {
    // Bitnet's folded scales, and Gemma 3n's KV-shared layers' own k / v, which llama.cpp loads and never runs either.
    if (readElsewhere.has(t.name)) continue
    // Layers past the config's are GLM-4.5's NextN prediction layers, counted in block_count, which llama.cpp skips too.
    const layer = /^blk\.(\d+)\./.exec(t.name)
    if (!layer || Number(layer[1]) >= layers || t.nbytes === null) continue
    const end = t.offset + t.nbytes
    if (!read.some(([from, to]) => from < end && t.offset < to)) throw new ModelLoadError(`${file.path}: tensor ${t.name} is not read by a ${arch} model as its metadata describes it`)
  }
}

/**
 * A layer's tensor past block_count, or a stack of experts (or of latent attention's heads) other than the metadata's
 * count deep: llama.cpp refuses both (a tensor it does not create, a shape other than the one it expects); read, the
 * rest of the file would run without them.
 */
function refuseStrayLayerTensor(path: string, t: GgufFile['tensors'][number], blockCount: number, config: ModelConfig): void {
  // block_count as written: GLM-4.5's counts its NextN layers, which the config leaves out.
  const layer = /^blk\.(\d+)\./.exec(t.name)
  if (layer && Number(layer[1]) >= blockCount) throw new ModelLoadError(`${path}: tensor ${t.name} is of layer ${layer[1]}, but block_count is ${blockCount}`)
  const experts = config.moe?.numExperts
  if (experts !== undefined && /_exps\.(weight|bias)$/.test(t.name) && t.shape[0] !== experts) {
    throw new ModelLoadError(`${path}: tensor ${t.name} stacks ${t.shape[0]} experts ([${t.shape.join(', ')}]), but the metadata says ${experts}`)
  }
  // Latent attention's k_b / v_b, cut into one window per head (gguf-deepseek.ts).
  if (/\.attn_[kv]_b\.weight$/.test(t.name) && t.shape.length === 3 && t.shape[0] !== config.numHeads) {
    throw new ModelLoadError(`${path}: tensor ${t.name} stacks ${t.shape[0]} heads ([${t.shape.join(', ')}]), but the metadata says ${config.numHeads}`)
  }
}

/**
 * The float format the file's matrices are in, for --dtype auto (quantized files compute on their blocks regardless);
 * MXFP4 ones count as bf16, which holds their values exactly.
 */
export function ggufFloatFormat(tensors: TensorInfo[]): 'f32' | 'f16' | 'bf16' {
  const matrices = tensors.filter((t) => t.shape.length === 2 && !t.blockFormat).map((t) => (t.ggmlMxfp4 ? {...t, dtype: 'BF16' as const} : t))
  if (matrices.length > 0 && matrices.every((t) => t.dtype === 'F16')) return 'f16'
  if (matrices.length > 0 && matrices.every((t) => t.dtype === 'BF16')) return 'bf16'
  return 'f32'
}

/** options.chatTemplate replaces the file's tokenizer.chat_template (vLLM's --chat-template). */
export function loadGgufModel(path: string, options: {chatTemplate?: string} = {}): LoadedModel {
  const file = readGguf(path)
  const tokenizer = tokenizerFromGguf(file.metadata, options)
  const embedding = file.tensors.find((t) => t.name === 'token_embd.weight')
  if (!embedding) {
    // llama.cpp's ggml-vocab-*.gguf files hold a tokenizer and no weights: say so rather than name one missing tensor.
    const why = file.tensors.length === 0 ? 'it holds no tensors (a vocabulary-only file, as llama.cpp\'s ggml-vocab-*.gguf?)' : 'no token_embd.weight tensor'
    throw new ModelLoadError(`${file.path}: ${why}`)
  }
  const arch = ggufArchitecture(file)
  const config = ggufConfig(file, arch, Number(file.metadata.get(`${arch}.vocab_size`) ?? embedding.shape[0]), tokenizer)
  checkTokenizerFits(tokenizer, config, `${file.path}'s vocabulary`)
  const tensors = ggufTensors(file, arch, config)
  return {
    dir: file.path,
    name: basename(file.path, '.gguf'),
    config,
    tensors,
    tokenizer,
    generationConfig: {eosTokenIds: tokenizer.eosTokenIds, sampling: {}},
    defaultWeightFormat: ggufFloatFormat(tensors),
  }
}
