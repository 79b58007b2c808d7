// Writes seeded-random Hugging Face checkpoints (tiny/small/bench presets) for tests and benchmarks, cached under .cache/models.
import {existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {ModelLoadError} from '../errors.js'
import {ALIBI_TEST_VARIANTS, alibiTestConfig, isAlibiTestVariant, type AlibiTestVariant} from './alibi-test-models.js'
import {checkpointTensorShapes} from './fused-tensors.js'
import {graniteMoeCheckpointShapes} from './granite-moe.js'
import {gptOssCheckpointShapes} from './gpt-oss.js'
import {llama4CheckpointShapes} from './llama4-tensors.js'
import {dbrxCheckpointShapes} from './dbrx-tensors.js'
import {llama4TestModelConfigJson} from './llama4-test-models.js'
import {layerNormCheckpointShapes} from './layernorm-family.js'
import {LAYERNORM_TEST_VARIANTS, layerNormTestConfig, type LayerNormTestVariant} from './layernorm-test-models.js'
import {expectedTensorShapes} from './load-model.js'
import {parseModelConfig, readJsonObject, type ModelConfig} from './model-config.js'
import {moeCheckpointName} from './moe-config.js'
import {isMoeTestVariant, moeTestModelConfigJson, type MoeTestVariant} from './moe-test-models.js'
import {MOE_MORE_TEST_VARIANTS, isMoeMoreTestVariant, moeMoreTestModelConfigJson, type MoeMoreTestVariant} from './moe-more-test-models.js'
import {gemmaTestModelConfigJson, isGemmaTestVariant} from './gemma-test-models.js'
import {HYBRID_TEST_VARIANTS, hybridTestModelConfigJson, isHybridTestVariant, type HybridTestVariant} from './hybrid-test-models.js'
import {RMS_TEST_VARIANTS, isRmsTestVariant, rmsTestModelConfigJson, type RmsTestVariant} from './rms-test-models.js'
import {TWIST_TEST_VARIANTS, isTwistTestVariant, twistTestModelConfigJson, type TwistTestVariant} from './twist-test-models.js'
import {DENSE2_TEST_VARIANTS, dense2TestModelConfigJson, isDense2TestVariant, type Dense2TestVariant} from './dense2-test-models.js'
import {DENSE3_TEST_VARIANTS, dense3TestModelConfigJson, isDense3TestVariant, type Dense3TestVariant} from './dense3-test-models.js'
import {MOE3_TEST_VARIANTS, isMoe3TestVariant, moe3CheckpointName, moe3TestModelConfigJson, type Moe3TestVariant} from './moe3-test-models.js'
import {MULTIMODAL_TEST_VARIANTS, isMultimodalTestVariant, multimodalCheckpointName, multimodalTestModelConfigJson, type MultimodalTestVariant} from './multimodal-test-models.js'
import {checkpointTensorNames} from './tensor-renames.js'
import {xieluCheckpointShapes} from './apertus-config.js'
import {MAMBA2_TEST_VARIANTS, isMamba2TestVariant, mamba2TestModelConfigJson, type Mamba2TestVariant} from './mamba2-test-models.js'
import {mamba2CheckpointShapes} from './mamba2-tensors.js'
import {LFM2_TEST_VARIANTS, isLfm2TestVariant, lfm2TestModelConfigJson, type Lfm2TestVariant} from './lfm2-test-models.js'
import {MAMBA1_TEST_VARIANTS, isMamba1TestVariant, mamba1TestModelConfigJson, type Mamba1TestVariant} from './mamba1-test-models.js'
import {SSM_HYBRID_TEST_VARIANTS, isSsmHybridTestVariant, ssmHybridTestModelConfigJson, type SsmHybridTestVariant} from './ssm-hybrid-test-models.js'
import {kimiLinearCheckpointName} from './kimi-linear-tensors.js'
import {zamba2CheckpointName} from './zamba2-tensors.js'
import {zambaCheckpointName, zambaCheckpointShapes} from './zamba-tensors.js'
import {HYBRID3_TEST_VARIANTS, hybrid3TestModelConfigJson, isHybrid3TestVariant, type Hybrid3TestVariant} from './hybrid3-test-models.js'
import {FAMILIES_A_TEST_VARIANTS, familiesATestModelConfigJson, isFamiliesATestVariant, type FamiliesATestVariant} from './families-a-test-models.js'
import {FAMILIES_LN_TEST_VARIANTS, familiesLnTestModelConfigJson, isFamiliesLnTestVariant, type FamiliesLnTestVariant} from './families-ln-test-models.js'
import {FAMILIES_B_TEST_VARIANTS, familiesBCheckpointName, familiesBTestModelConfigJson, isFamiliesBTestVariant, type FamiliesBTestVariant} from './families-b-test-models.js'
import {MISTRAL4} from './mistral4-config.js'
import {encodeFloats, writeSafetensors, type TensorDtype} from './safetensors.js'
import {SeededRandom} from './seeded-random.js'
import {TOKENIZER_FAMILIES, buildTokenizerConfig, specialTokenId, type TokenizerFamily} from './tokenizer-families.js'

export type TestModelPreset = 'tiny' | 'small' | 'bench'
export const TEST_MODEL_PRESETS: readonly TestModelPreset[] = ['tiny', 'small', 'bench']
/**
 * llama: Llama 2 layout (plain RoPE). qwen2: q/k/v biases, theta 1e6. llama3: llama3 RoPE scaling. qwen3: q/k norms, no
 * biases, and a head size twice hidden / heads (as Qwen3's 128 differs from it), theta 1e6. yarn: qwen2 with Qwen2.5's
 * long-context YaRN rope_scaling (factor 4 over an original context of 64, so it matters at every position). gemma:
 * Gemma's (1 + weight) norms, sqrt(hidden) embedding scale, GeGLU, one KV head of an explicit head_dim, tied embeddings
 * as Gemma ships. gemma2: Gemma's and its sandwich norms, query_pre_attn_scalar apart from head_dim, soft caps low
 * enough to bend random scores and logits, and alternating sliding-window layers (a window of 16 on layer 0). phi3: Phi-3's fused qkv_proj / gate_up_proj, longrope over an original context of half
 * max_position_embeddings (so the context is capped there) and a sliding window 100 below that. mistral: the Llama
 * layout with a sliding window of 8 on every layer; qwen2-sliding: qwen2 with use_sliding_window, a window of 8 from
 * max_window_layers 1 on (layer 0 full, layer 1 sliding); gemma3: gemma2's layout without soft caps, q/k norms, sliding
 * window 8 on layer 0 (sliding_window_pattern 2), rope_local_base_freq 10000 there and rope_theta 1e6 with linear
 * scaling 8 on the full layer. Windows this small make every test prompt cross them. mixtral, qwen2moe, qwen3moe:
 * mixture-of-experts layers (moe-test-models.ts); llama4: llama4-test-models.ts; opt, opt-post-ln, gpt-neox, gpt-neox-serial, gpt2: the LayerNorm
 * family (layernorm-test-models.ts); granite, olmo2, smollm3: rms-test-models.ts; bloom, falcon, falcon-mq, falcon-rw, mpt: ALiBi and
 * Falcon's layouts (alibi-test-models.ts); qwen3_5: Qwen 3.5's hybrid linear attention (hybrid-test-models.ts); granitemoehybrid, bamba, mamba2: Mamba-2 mixers (mamba2-test-models.ts); mamba, falcon-mamba, jamba: Mamba-1 mixers (mamba1-test-models.ts); lfm2, lfm2-moe: LFM2's short convolutions (lfm2-test-models.ts); nemotron-h, falcon-h1: ssm-hybrid-test-models.ts; qwen3-vl-moe, dbrx, cohere2-moe(-sigmoid), afmoe, glm4v(-moe): moe3-test-models.ts; kimi-linear, zamba2: hybrid3-test-models.ts; mistral4, olmo-hybrid, zamba: families-a-test-models.ts; codegen, persimmon, xglm, openai-gpt, biogpt: families-ln-test-models.ts; emu3, hyperclovax, youtu, granitemoe-swa, hy-v3, mellum, aria-text, axk1: families-b-test-models.ts. All others untied: a random
 * tied model greedily repeats its last token (its own embedding dominates its logits); tied loading is covered by tinychat.
 * Each carries its family's tokenizer (tokenizer-families.ts), so transformers and pagedllm tokenize it alike.
 */
export type TestModelVariant = 'llama' | 'qwen2' | 'llama3' | 'qwen3' | 'yarn' | 'gemma' | 'gemma2' | 'phi3' | 'mistral' | 'qwen2-sliding' | 'gemma3' | 'gemma4' | 'gemma4-keqv' | 'gemma4-moe' | 'gemma3n' | 'gemma3n-defaults' | 'llama4' | MoeTestVariant | LayerNormTestVariant | RmsTestVariant | AlibiTestVariant | TwistTestVariant | HybridTestVariant | Mamba2TestVariant | Mamba1TestVariant | MoeMoreTestVariant | MultimodalTestVariant | Dense2TestVariant | Lfm2TestVariant | SsmHybridTestVariant | Dense3TestVariant | Moe3TestVariant | Hybrid3TestVariant | FamiliesATestVariant | FamiliesLnTestVariant | FamiliesBTestVariant
export const TEST_MODEL_VARIANTS: readonly TestModelVariant[] = [
  'llama', 'qwen2', 'llama3', 'qwen3', 'yarn', 'gemma', 'gemma2', 'phi3', 'mistral', 'qwen2-sliding', 'gemma3', 'gemma4', 'gemma4-keqv', 'gemma4-moe', 'gemma3n', 'gemma3n-defaults', 'llama4', 'mixtral', 'qwen2moe', 'qwen3moe', 'gptoss', 'deepseek-v2', 'deepseek-v3', 'glm4-moe', 'glm4-moe-lite', ...LAYERNORM_TEST_VARIANTS, ...RMS_TEST_VARIANTS, ...ALIBI_TEST_VARIANTS, ...TWIST_TEST_VARIANTS, ...HYBRID_TEST_VARIANTS, ...MAMBA2_TEST_VARIANTS, ...MAMBA1_TEST_VARIANTS, ...MOE_MORE_TEST_VARIANTS, ...MULTIMODAL_TEST_VARIANTS, ...DENSE2_TEST_VARIANTS, ...LFM2_TEST_VARIANTS, ...SSM_HYBRID_TEST_VARIANTS, ...DENSE3_TEST_VARIANTS, ...MOE3_TEST_VARIANTS, ...HYBRID3_TEST_VARIANTS, ...FAMILIES_A_TEST_VARIANTS, ...FAMILIES_LN_TEST_VARIANTS, ...FAMILIES_B_TEST_VARIANTS,
]

export interface TestModelOptions {
  seed?: number
  dtype?: TensorDtype
  /** Write here instead of the shared cache. */
  dir?: string
  variant?: TestModelVariant
}

/** Bump when the generated weights or files change, so stale cached models are rebuilt. */
const GENERATOR_VERSION = 2

interface PresetShape {
  vocabSize: number
  hiddenSize: number
  numLayers: number
  numHeads: number
  numKvHeads: number
  intermediateSize: number
  maxPositionEmbeddings: number
}

const PRESETS: Record<TestModelPreset, PresetShape> = {
  tiny: {vocabSize: 512, hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 128, maxPositionEmbeddings: 512},
  small: {vocabSize: 8192, hiddenSize: 512, numLayers: 6, numHeads: 8, numKvHeads: 4, intermediateSize: 1408, maxPositionEmbeddings: 2048},
  bench: {vocabSize: 32000, hiddenSize: 512, numLayers: 8, numHeads: 8, numKvHeads: 4, intermediateSize: 1536, maxPositionEmbeddings: 2048},
}

function tokenizerFamily(variant: TestModelVariant): TokenizerFamily {
  // Qwen3 (and Qwen2.5 with YaRN) keep Qwen2's tokenizer.
  const families: Record<TestModelVariant, keyof typeof TOKENIZER_FAMILIES> = {llama: 'llama2', llama3: 'llama3', qwen2: 'qwen2', qwen3: 'qwen2', yarn: 'qwen2', gemma: 'llama2', gemma2: 'llama2', phi3: 'llama2',
    mistral: 'llama2', 'qwen2-sliding': 'qwen2', gemma3: 'llama2', gemma4: 'llama2', 'gemma4-keqv': 'llama2', 'gemma4-moe': 'llama2', gemma3n: 'llama2', 'gemma3n-defaults': 'llama2', llama4: 'llama3', mixtral: 'llama2', qwen2moe: 'qwen2', qwen3moe: 'qwen2', gptoss: 'gpt2',
    opt: 'opt', 'opt-post-ln': 'opt', 'gpt-neox': 'gpt2', 'gpt-neox-serial': 'gpt2', gpt2: 'gpt2',
    phi: 'gpt2', stablelm: 'gpt2', 'stablelm-parallel': 'gpt2', starcoder2: 'gpt2', gptj: 'gpt2', 'gpt-bigcode': 'gpt2', 'gpt-bigcode-mha': 'gpt2', 'gpt-neo': 'gpt2',
    granite: 'gpt2', olmo2: 'gpt2', smollm3: 'llama3', cohere: 'gpt2', olmo: 'gpt2', olmoe: 'gpt2', granitemoe: 'gpt2', cohere2: 'gpt2', olmo3: 'gpt2', granitemoeshared: 'gpt2', phimoe: 'llama2', 'deepseek-v2': 'gpt2', 'deepseek-v3': 'gpt2', 'glm4-moe': 'gpt2', 'glm4-moe-lite': 'gpt2',
    bloom: 'gpt2', falcon: 'gpt2', 'falcon-mq': 'gpt2', 'falcon-rw': 'gpt2', mpt: 'gpt2', glm: 'gpt2', glm4: 'gpt2', exaone4: 'gpt2', seedoss: 'gpt2', helium: 'gpt2', ernie4_5: 'gpt2', arcee: 'gpt2', nemotron: 'gpt2', hunyuan: 'gpt2', vaultgemma: 'llama2', ministral: 'llama2', qwen3_5: 'qwen2', qwen3_5_moe: 'qwen2', qwen3_next: 'qwen2', granitemoehybrid: 'gpt2', 'granitemoehybrid-dense': 'gpt2', bamba: 'llama2', mamba2: 'gpt2', mamba: 'gpt2', 'falcon-mamba': 'gpt2', jamba: 'llama2',
    ernie4_5_moe: 'gpt2', dots1: 'qwen2', minimax_m2: 'gpt2', flex_olmo: 'gpt2', solar_open: 'gpt2', hunyuan_moe: 'gpt2', exaone_moe: 'gpt2',
    mistral3: 'llama2', ministral3: 'llama2', llava: 'llama2', 'qwen2-vl': 'qwen2', 'qwen3-vl': 'qwen2', jais2: 'gpt2', cwm: 'llama3', minicpm3: 'llama2', 'granite-swa': 'gpt2',
    lfm2: 'llama2', 'lfm2-moe': 'llama2',
    'nemotron-h': 'gpt2', 'nemotron-h-moe': 'gpt2', 'nemotron-h-latent': 'gpt2', 'falcon-h1': 'gpt2', 'falcon-h1-norm-first': 'gpt2', 'falcon-h1-ungated-norm': 'gpt2',
    apertus: 'gpt2', bitnet: 'llama3', nanochat: 'gpt2', diffllama: 'llama2',
    'qwen3-vl-moe': 'qwen2', dbrx: 'gpt2', 'cohere2-moe': 'gpt2', 'cohere2-moe-sigmoid': 'gpt2', afmoe: 'gpt2', glm4v: 'gpt2', 'glm4v-moe': 'gpt2',
    'kimi-linear': 'gpt2', zamba2: 'llama2', mistral4: 'llama2', 'olmo-hybrid': 'gpt2', zamba: 'llama2', codegen: 'gpt2', persimmon: 'gpt2', xglm: 'gpt2', 'openai-gpt': 'gpt2', biogpt: 'gpt2', emu3: 'qwen2', hyperclovax: 'gpt2', youtu: 'llama3', 'granitemoe-swa': 'gpt2', 'hy-v3': 'gpt2', mellum: 'gpt2', 'aria-text': 'llama2', axk1: 'gpt2'}
  return TOKENIZER_FAMILIES[families[variant]]
}

/** The repository root: this file sits at src/engine/model/ (or dist/engine/model/ once compiled). */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

export function defaultTestModelDir(preset: TestModelPreset, options: TestModelOptions = {}): string {
  const variant = options.variant ?? 'llama'
  const name = [preset, ...(variant === 'llama' ? [] : [variant]), options.seed ?? 0, (options.dtype ?? 'F32').toLowerCase()].join('-')
  return join(REPO_ROOT, '.cache', 'models', name)
}

/** The HF config.json a preset/variant generates. */
export function testModelConfigJson(preset: TestModelPreset, options: TestModelOptions = {}): Record<string, unknown> {
  const shape = PRESETS[preset]
  const variant = options.variant ?? 'llama'
  const family = tokenizerFamily(variant)
  const common = {
    vocab_size: shape.vocabSize,
    hidden_size: shape.hiddenSize,
    intermediate_size: shape.intermediateSize,
    num_hidden_layers: shape.numLayers,
    num_attention_heads: shape.numHeads,
    num_key_value_heads: shape.numKvHeads,
    head_dim: shape.hiddenSize / shape.numHeads,
    max_position_embeddings: shape.maxPositionEmbeddings,
    hidden_act: 'silu',
    bos_token_id: specialTokenId(family, family.bosToken ?? family.specialTokens[0]!),
    eos_token_id: specialTokenId(family, family.eosToken),
    torch_dtype: {F32: 'float32', BF16: 'bfloat16', F16: 'float16'}[options.dtype ?? 'F32'],
    pagedllm_test_model: {preset, variant, seed: options.seed ?? 0, generatorVersion: GENERATOR_VERSION},
  }
  if (isMoeTestVariant(variant)) return moeTestModelConfigJson(variant, common)
  if (variant === 'llama4') return llama4TestModelConfigJson(common)
  if (isMoeMoreTestVariant(variant)) return moeMoreTestModelConfigJson(variant, common)
  if ((LAYERNORM_TEST_VARIANTS as readonly string[]).includes(variant)) return layerNormTestConfig(variant as LayerNormTestVariant, shape, common)
  if (isAlibiTestVariant(variant)) return alibiTestConfig(variant, shape, common)
  if (variant === 'qwen3') {
    return {
      architectures: ['Qwen3ForCausalLM'],
      model_type: 'qwen3',
      ...common,
      head_dim: (2 * shape.hiddenSize) / shape.numHeads,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      attention_bias: false,
      tie_word_embeddings: false,
      use_sliding_window: false,
      sliding_window: null,
      max_window_layers: shape.numLayers,
    }
  }
  if (isGemmaTestVariant(variant)) return gemmaTestModelConfigJson(variant, common)
  if (isRmsTestVariant(variant)) return rmsTestModelConfigJson(variant, common)
  if (isTwistTestVariant(variant)) return twistTestModelConfigJson(variant, common)
  if (isHybridTestVariant(variant)) return hybridTestModelConfigJson(variant, common)
  if (isMamba2TestVariant(variant)) return mamba2TestModelConfigJson(variant, common)
  if (isLfm2TestVariant(variant)) return lfm2TestModelConfigJson(variant, common)
  if (isMamba1TestVariant(variant)) return mamba1TestModelConfigJson(variant, common)
  if (isSsmHybridTestVariant(variant)) return ssmHybridTestModelConfigJson(variant, common)
  if (isHybrid3TestVariant(variant)) return hybrid3TestModelConfigJson(variant, common)
  if (isMultimodalTestVariant(variant)) return multimodalTestModelConfigJson(variant, common)
  if (isDense2TestVariant(variant)) return dense2TestModelConfigJson(variant, common)
  if (isDense3TestVariant(variant)) return dense3TestModelConfigJson(variant, common)
  if (isMoe3TestVariant(variant)) return moe3TestModelConfigJson(variant, common)
  if (isFamiliesATestVariant(variant)) return familiesATestModelConfigJson(variant, common)
  if (isFamiliesLnTestVariant(variant)) return familiesLnTestModelConfigJson(variant, common)
  if (isFamiliesBTestVariant(variant)) return familiesBTestModelConfigJson(variant, common)
  if (variant === 'mistral') {
    return {architectures: ['MistralForCausalLM'], model_type: 'mistral', ...common, rms_norm_eps: 1e-5, rope_theta: 10000.0, sliding_window: 8, tie_word_embeddings: false}
  }
  if (variant === 'phi3') {
    // Per-frequency divisors from 1 (fast) to 4 (slow), as Phi-3's short_factor grows.
    const half = shape.hiddenSize / shape.numHeads / 2
    const shortFactor = Array.from({length: half}, (_, i) => 1 + (3 * i) / (half - 1))
    return {
      architectures: ['Phi3ForCausalLM'],
      model_type: 'phi3',
      ...common,
      rms_norm_eps: 1e-5,
      rope_theta: 10000.0,
      // Phi-3-mini-128k's layout: a longer max_position_embeddings over the original context, which caps it here.
      max_position_embeddings: 2 * shape.maxPositionEmbeddings,
      original_max_position_embeddings: shape.maxPositionEmbeddings,
      rope_scaling: {type: 'longrope', short_factor: shortFactor, long_factor: shortFactor.map((f) => 2 * f)},
      sliding_window: shape.maxPositionEmbeddings - 100,
      tie_word_embeddings: false,
      // Phi3Config's default pad id (32000) lies beyond a small vocabulary; Phi-3 pads with its end-of-text token.
      pad_token_id: common.eos_token_id,
    }
  }
  if (variant === 'qwen2' || variant === 'yarn' || variant === 'qwen2-sliding') {
    const sliding = variant === 'qwen2-sliding'
    return {
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      ...common,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      tie_word_embeddings: false,
      use_sliding_window: sliding,
      sliding_window: sliding ? 8 : shape.maxPositionEmbeddings,
      // qwen2-sliding: layer 0 full, layer 1 sliding.
      ...(sliding ? {max_window_layers: 1} : {}),
      // Qwen2.5's documented long-context setting, with a short original context.
      ...(variant === 'yarn' ? {rope_scaling: {factor: 4.0, original_max_position_embeddings: 64, type: 'yarn'}} : {}),
    }
  }
  const llama = {architectures: ['LlamaForCausalLM'], model_type: 'llama', ...common, rms_norm_eps: 1e-5, attention_bias: false, mlp_bias: false}
  if (variant === 'llama3') {
    // A short original context makes the scaled band of frequencies matter within a few hundred positions.
    return {
      ...llama,
      rope_theta: 500000.0,
      rope_scaling: {rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 64},
      tie_word_embeddings: false,
    }
  }
  return {...llama, rope_theta: 10000.0, rope_scaling: null, tie_word_embeddings: false}
}

/** Parameter count of a preset/variant (what the generated safetensors holds). */
export function testModelParameterCount(preset: TestModelPreset, variant: TestModelVariant = 'llama'): number {
  const config = parseModelConfig(testModelConfigJson(preset, {variant}))
  return expectedTensorShapes(config).reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0)
}

/** Returns a directory holding the model, generating it once; concurrent callers never see half-written files. */
export async function ensureTestModel(preset: TestModelPreset, options: TestModelOptions = {}): Promise<string> {
  if (!(preset in PRESETS)) throw new ModelLoadError(`Unknown test model preset ${preset}; presets: ${TEST_MODEL_PRESETS.join(', ')}.`)
  const target = resolve(options.dir ?? defaultTestModelDir(preset, options))
  const configJson = testModelConfigJson(preset, options)
  if (isSameTestModel(target, configJson)) return target
  if (existsSync(target) && !isTestModelDir(target) && readdirSync(target).length > 0) {
    throw new ModelLoadError(`Refusing to write a test model into ${target}: it is a non-empty directory that holds no generated test model.`)
  }

  mkdirSync(dirname(target), {recursive: true})
  const temporary = `${target}.tmp-${process.pid}-${Date.now()}`
  mkdirSync(temporary)
  try {
    writeTestModelFiles(temporary, configJson, options)
    // Another process may have finished the same model meanwhile; its copy is identical, so keep it.
    if (isSameTestModel(target, configJson)) return target
    if (existsSync(target)) discardStaleModel(target)
    try {
      renameSync(temporary, target)
    } catch (error) {
      if (!isSameTestModel(target, configJson)) throw error
    }
    return target
  } finally {
    rmSync(temporary, {recursive: true, force: true})
  }
}

/** Moves an empty directory or an older generator's model out of the way (a rename, so no reader sees it half-deleted). */
function discardStaleModel(dir: string): void {
  const trash = `${dir}.stale-${process.pid}-${Date.now()}`
  try {
    renameSync(dir, trash)
  } catch {
    return // another process moved it first
  }
  rmSync(trash, {recursive: true, force: true})
}

function isTestModelDir(dir: string): boolean {
  try {
    return readJsonObject(join(dir, 'config.json')).pagedllm_test_model !== undefined
  } catch {
    return false
  }
}

function isSameTestModel(dir: string, configJson: Record<string, unknown>): boolean {
  if (!existsSync(join(dir, 'config.json'))) return false
  try {
    return JSON.stringify(readJsonObject(join(dir, 'config.json'))) === JSON.stringify(configJson)
  } catch {
    return false
  }
}

function writeTestModelFiles(dir: string, configJson: Record<string, unknown>, options: TestModelOptions): void {
  const config = parseModelConfig(configJson)
  const seed = options.seed ?? 0
  const dtype = options.dtype ?? 'F32'
  const random = new SeededRandom(seed)
  // Drawn by the engine's name and shape (the scales below), written under the checkpoint's (OPT, GPT-NeoX, GPT-2, Mixtral: their own).
  const shapes = config.layerNorm
    ? layerNormCheckpointShapes(config).map(({name, shape, engineName}) => ({name, shape, engineName, engineShape: expectedShape(config, engineName)}))
    : zambaCheckpointShapes(config, dbrxCheckpointShapes(config, xieluCheckpointShapes(llama4CheckpointShapes(config, mamba2CheckpointShapes(config, gptOssCheckpointShapes(config, checkpointTensorNames(config, graniteMoeCheckpointShapes(config, checkpointTensorShapes(config, expectedTensorShapes(config)))))))))).map(({name, shape}) => ({name, shape, engineName: name, engineShape: shape}))
  const variant = options.variant ?? 'llama'
  const tensors = shapes.map(({name, shape, engineName, engineShape}) => ({
    name: isMultimodalTestVariant(variant) ? multimodalCheckpointName(variant, name) : isMoe3TestVariant(variant) ? moe3CheckpointName(variant, moeCheckpointName(config.moe, name))
      : isFamiliesBTestVariant(variant) ? familiesBCheckpointName(variant, moeCheckpointName(config.moe, name)) : zambaCheckpointName(config, zamba2CheckpointName(config, kimiLinearCheckpointName(config, moeCheckpointName(config.moe, name)))),
    dtype,
    shape,
    data: () => encodeFloats(randomTensor(engineName, engineShape, config, random), dtype),
  }))
  writeSafetensors(join(dir, 'model.safetensors'), tensors, {format: 'pt'})
  const family = tokenizerFamily(variant)
  writeJson(join(dir, 'tokenizer.json'), family.buildTokenizerJson(config.vocabSize, seed))
  writeJson(join(dir, 'tokenizer_config.json'), buildTokenizerConfig(family, config.maxPositionEmbeddings))
  const eosIds = family.generationEosTokens.map((token) => specialTokenId(family, token)).sort((a, b) => a - b)
  writeJson(join(dir, 'generation_config.json'), {bos_token_id: configJson.bos_token_id, eos_token_id: eosIds})
  writeJson(join(dir, 'config.json'), configJson)
}

/**
 * Weight scales that keep activations of order one through every layer, so logits of random inputs have a std of a few units:
 * projections ~ N(0, 1/fan_in); norms ~ 1 +- 0.1 (so a wrong norm weight shows); lm_head rows scaled so that
 * logits = normed hidden . row have std ~3.
 */
function randomTensor(name: string, shape: number[], config: ModelConfig, random: SeededRandom): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1)
  // Gemma's norms store weight - 1 (they scale by 1 + weight).
  // Qwen 3.5's RMSNormGated scales by its weight as stored.
  if (name.endsWith('linear_attn.norm.weight')) return random.normals(count, 1, 0.1)
  if (/norm(_f)?(\.\d+)?\.weight$/.test(name)) return random.normals(count, 1 - config.normWeightOffset, 0.1) // StableLM's per head: q_norm.<h>.weight
  if (name.endsWith('.bias')) return random.normals(count, 0, 0.2)
  // Apertus's xIELU: beta near its 0.5, eps a small negative (its -1e-6, wide enough that min(x, eps) shows); alphas N(0, 1).
  if (name.endsWith('.act_fn.beta')) return random.normals(count, 0.5, 0.1)
  if (name.endsWith('.act_fn.eps')) return random.normals(count, -0.1, 0.02)
  if (name.endsWith('.sinks')) return random.normals(count, 0, 1) // GPT-OSS: large enough to take a visible share of each softmax
  // GPT-OSS's fused [experts, hidden, 2 x inter]: gate/up outputs of std ~4, so its clamp at 7 is reached.
  // Llama 4's, Qwen3-VL-MoE's [experts, in, out]; Mistral Small 4's [experts, out, in].
  if (config.moe?.fusedExperts && /experts\.(gate_up|down)_proj$/.test(name)) return random.normals(count, 0, 1 / Math.sqrt(shape[config.architecture === MISTRAL4 ? 2 : 1]!))
  if (name.endsWith('mlp.experts.gate_up_proj')) return random.normals(count, 0, 4 / Math.sqrt(config.hiddenSize))
  if (/\.(layer_scalar|per_expert_scale)$/.test(name)) return random.normals(count, 1, 0.1) // Gemma 4's per-layer and per-expert scales
  if (name.endsWith('.altup.modality_router.weight')) return random.normals(count, 0, Math.sqrt(config.hiddenSize)) // Gemma 3n: its input is norm(x) / hidden, so modalities of order one
  if (name.endsWith('.router.scale')) return random.normals(count, Math.sqrt(config.hiddenSize), 1) // Gemma 4: router logits of order one
  if (/\.norm_attn_norm\.norm_[12]\.weight$/.test(name)) return random.normals(count, 1, 0.1) // DBRX's LayerNorms
  if (name === 'model.embed_tokens.weight' || name === 'transformer.wte.weight') return random.normals(count, 0, 1)
  if (name === 'lm_head.weight') return random.normals(count, 0, 3 / Math.sqrt(config.hiddenSize))
  return random.normals(count, 0, 1 / Math.sqrt(shape[shape.length - 1]!))
}

function expectedShape(config: ModelConfig, name: string): number[] {
  return expectedTensorShapes(config).find((t) => t.name === name)!.shape
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n')
}
